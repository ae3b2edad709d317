"""Correlation maps C for Local Inhibition (local-inhibition thesis §3.4), from pre-inhibition activations.

Every map is a function of three sufficient statistics of an activation matrix (rows = samples,
columns = units): the sample count n, the mean activation m = E[a] and the mean outer product
M = E[a aᵀ]. ``ActivationMoments`` accumulates them (float64) over chunks of a calibration batch or as
a running average of training batches, so the paper's calibration and the online estimator compute
exactly the same map from different samples.

- ``cmap`` — the thesis's dot-product map, eq. 3.4.3–3.4.4: Ĉ(A) = A Aᵀ / A 1, i.e.
  c_ij = E[a_i a_j] / E[a_i] (row i divided by unit i's mean). A unit that never fires has a zero row
  (0/0 = 0, the thesis's footnote 5 convention; Algorithm 1 line 33 adds an ε instead).
- ``pearson`` — Pearson correlation of units i and j; a constant unit correlates 0 with everything,
  itself included (0/0 = 0).
- ``cosine`` — cosine similarity E[a_i a_j] / sqrt(E[a_i²] E[a_j²]).

Negative entries are clipped to 0 (an inhibition weight cannot excite).
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """numerator / denominator with x/0 = 0 (and a gradient that stays finite)."""
    nonzero = denominator != 0
    return torch.where(nonzero, numerator / torch.where(nonzero, denominator, torch.ones_like(denominator)),
                       torch.zeros_like(numerator))


def as_units(x: torch.Tensor) -> torch.Tensor:
    """A layer output as (samples, units): (N, F) as is; (N, C, H, W) with channels as units and every
    spatial position of every input as a sample (inhibition across channels, pixel by pixel)."""
    if x.dim() == 2:
        return x
    if x.dim() == 4:
        return x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])
    raise ValueError(f"Local Inhibition expects (N, F) or (N, C, H, W) activations, got shape {tuple(x.shape)}")


def from_units(units: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Inverse of ``as_units`` for a tensor shaped like ``like``."""
    if like.dim() == 2:
        return units
    n, c, h, w = like.shape
    return units.reshape(n, h, w, c).permute(0, 3, 1, 2)


def cmap(mean: torch.Tensor, outer: torch.Tensor) -> torch.Tensor:
    """Ĉ = E[a aᵀ] / E[a] row-wise (eq. 3.4.3–3.4.4)."""
    return safe_divide(outer, mean.unsqueeze(1)).clamp_min(0)


def pearson(mean: torch.Tensor, outer: torch.Tensor) -> torch.Tensor:
    """Pearson correlation from E[a] and E[a aᵀ], negatives clipped to 0."""
    covariance = outer - torch.outer(mean, mean)
    std = covariance.diagonal().clamp_min(0).sqrt()
    return safe_divide(covariance, torch.outer(std, std)).clamp(0, 1)


def cosine(mean: torch.Tensor, outer: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of the units' activation vectors, negatives clipped to 0."""
    norm = outer.diagonal().clamp_min(0).sqrt()
    return safe_divide(outer, torch.outer(norm, norm)).clamp(0, 1)


CORRELATIONS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "cmap": cmap,
    "pearson": pearson,
    "cosine": cosine,
}


def correlation_map(activations: torch.Tensor, kind: str = "cmap") -> torch.Tensor:
    """The map ``kind`` of an (samples, units) activation matrix, computed in float64."""
    moments = ActivationMoments(activations.shape[1], activations.device)
    moments.add(activations)
    return CORRELATIONS[kind](*moments.means())


class ActivationMoments:
    """Sums of a, a aᵀ and the sample count over chunks of (samples, units) activations (float64)."""

    def __init__(self, units: int, device: torch.device) -> None:
        self.count = torch.zeros((), dtype=torch.float64, device=device)
        self.total = torch.zeros(units, dtype=torch.float64, device=device)
        self.outer = torch.zeros(units, units, dtype=torch.float64, device=device)

    @torch.no_grad()
    def add(self, activations: torch.Tensor) -> None:
        a = activations.detach().double()  # float32 products lose Pearson's E[aaᵀ] − E[a]E[a]ᵀ to cancellation
        self.count += a.shape[0]
        self.total += a.sum(0)
        self.outer += a.T @ a

    def means(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(E[a], E[a aᵀ])."""
        count = self.count.clamp_min(1)
        return self.total / count, self.outer / count
