"""Models take inputs in [0, 1]; this first layer normalises them so attack budgets stay in pixel units."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class Normalize(nn.Module):
    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


DATASET_STATS = {
    1: ((0.1307,), (0.3081,)),
    3: ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}


def default_normalize(in_channels: int) -> Normalize:
    """MNIST statistics for 1 channel, CIFAR-10 statistics for 3 channels."""
    mean, std = DATASET_STATS.get(in_channels, ((0.5,) * in_channels, (0.5,) * in_channels))
    return Normalize(mean, std)
