"""Mechanism and regularizer registries.

``MECHANISMS`` maps a name to a factory ``(**params) -> nn.Module`` inserted into a model slot.
``REGULARIZERS`` maps a name to a factory ``(**params) -> Objective`` used by training.
Weight decay is the optimizer's ``weight_decay`` flag, not an entry here.
"""

from __future__ import annotations

from licli.mechanisms.gradient_mask import GradientMask
from licli.mechanisms.inhibition import LocalInhibition, calibration_hooks
from licli.mechanisms.normout import ActivationRecorder, Dropout, NormOut
from licli.mechanisms.regularizers import IRM, MMA, VREx, Fishr, SpectralDecoupling

MECHANISMS: dict = {
    "local-inhibition": LocalInhibition,
    "normout": NormOut,
    "dropout": Dropout,
    "gradient-mask": GradientMask,
    "activation-statistics": ActivationRecorder,
}


def training_hooks(model) -> list[object]:
    """Model-wide hooks the training loop calls after each optimizer step (``after_optimizer_step(context)``),
    before the per-module ones: Local Inhibition's calibration of all its layers at once."""
    return [*calibration_hooks(model)]


REGULARIZERS: dict = {
    "spectral-decoupling": SpectralDecoupling,
    "irm": IRM,
    "vrex": VREx,
    "fishr": Fishr,
    "mma": MMA,
}
