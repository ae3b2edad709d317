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
        self._reset()

    def _reset(self) -> None:
        self._count = 0
        self._sums: torch.Tensor | None = None  # sum, sum of squares, zero count (float64, on device)
        self._max: torch.Tensor | None = None

    @torch.no_grad()
    def update(self, activations: torch.Tensor) -> None:
        a = activations.detach().double()
        sums = torch.stack([a.sum(), a.square().sum(), (a == 0).sum().double()])
        self._count += a.numel()
        self._sums = sums if self._sums is None else self._sums + sums
        self._max = a.max() if self._max is None else torch.maximum(self._max, a.max())

    def summary(self, prefix: str) -> dict[str, float]:
        """``{prefix.activation_<stat>: value}`` for the batches seen since the last call; then reset."""
        if self._sums is None or self._max is None:
            return {}
        total, squares, zeros = self._sums.tolist()
        count, maximum = self._count, self._max.item()
        self._reset()
        mean = total / count
        variance = max(squares / count - mean * mean, 0.0)
        values = {"mean": mean, "max": maximum, "std": variance ** 0.5, "variance": variance,
                  "sparsity": zeros / count}
        return {f"{prefix}.activation_{name}": values[name] for name in STATISTICS}
