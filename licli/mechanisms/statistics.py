"""Activation statistics of a mechanism layer over a training epoch (NormOut Tables 3.2–3.3).

The NormOut thesis reports, per layer, the mean, maximum, standard deviation, variance and "absolute
average sparsity" (the fraction of elements of the layer's *output* tensor that are exactly 0) of
the activations. ``ActivationStatistics`` accumulates running sums on the activations' device
(float64, no host synchronisation per step) from the mechanism's output in training mode; the
training loop reads them once per epoch through the owning module's ``epoch_statistics()``, and the
values land in ``metrics.csv`` as ``<slot>.activation_mean`` etc. Statistics are pooled over every
element of every training batch of the epoch (the thesis plots a smoothed moving average instead).
"""

from __future__ import annotations

import torch

STATISTICS = ("mean", "max", "std", "variance", "sparsity")


class ActivationStatistics:
    """Running count, sum, sum of squares, maximum and zero count of the tensors passed to ``update``."""

    def __init__(self) -> None:
        self._sums: torch.Tensor | None = None

    @torch.no_grad()
    def update(self, activations: torch.Tensor) -> None:
        a = activations.detach().double()
        batch = torch.stack([torch.tensor(float(a.numel()), dtype=torch.float64, device=a.device),
                             a.sum(), a.square().sum(), a.max(), (a == 0).sum().double()])
        if self._sums is None:
            self._sums = batch
        else:
            self._sums = torch.cat([self._sums[:3] + batch[:3], torch.maximum(self._sums[3:4], batch[3:4]),
                                    self._sums[4:] + batch[4:]])

    def summary(self, prefix: str) -> dict[str, float]:
        """``{prefix.activation_<stat>: value}`` for the batches seen since the last call; then reset."""
        if self._sums is None:
            return {}
        count, total, squares, maximum, zeros = self._sums.tolist()
        self._sums = None
        mean = total / count
        variance = max(squares / count - mean * mean, 0.0)
        values = {"mean": mean, "max": maximum, "std": variance ** 0.5, "variance": variance,
                  "sparsity": zeros / count}
        return {f"{prefix}.activation_{name}": values[name] for name in STATISTICS}
