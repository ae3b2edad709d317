"""The mechanism registry: ``MECHANISMS`` maps a name to a factory ``(**params) -> nn.Module`` inserted
into a model slot. (Regularizers and the LI data enhancement are objectives: ``licli.objectives``.)
"""

from __future__ import annotations

from licli.mechanisms.gradient_mask import GradientMask
from licli.mechanisms.inhibition import LocalInhibition, calibration_hooks
from licli.mechanisms.normout import ActivationRecorder, Dropout, NormOut

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

