"""Helpers for the ``torch.func`` evaluations: which parameters to differentiate (``--params
all|weights``) and a ``jvp`` that hides torch's internal deprecation warning."""

from __future__ import annotations

import warnings

import torch
from torch import nn
from torch.func import jvp as _jvp

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


def jvp(function, primals, tangents):
    """``torch.func.jvp``. Its first call loads torch's forward-AD decompositions through the deprecated
    ``torch.jit.script``, whose FutureWarning would otherwise land on the user's stderr."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated", category=FutureWarning)
        return _jvp(function, primals, tangents)
