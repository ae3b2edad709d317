"""Which parameters an evaluation differentiates with respect to (``--params all|weights``)."""

from __future__ import annotations

import torch
from torch import nn

from licli.registry import pick

WEIGHT_LAYERS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def _all(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def _weights(model: nn.Module) -> dict[str, torch.Tensor]:
    """The ``weight`` of every convolution and linear layer (no biases, no normalisation parameters)."""
    return {f"{name}.weight" if name else "weight": module.weight for name, module in model.named_modules()
            if isinstance(module, WEIGHT_LAYERS) and module.weight.requires_grad}


PARAMETER_SETS = {"all": _all, "weights": _weights}


def select_parameters(model: nn.Module, which: str) -> dict[str, torch.Tensor]:
    """Parameters by name (detached views sharing storage) for ``which`` in ``PARAMETER_SETS``."""
    chosen = pick(PARAMETER_SETS, which, "parameter set")(model)
    return {name: p.detach() for name, p in chosen.items()}
