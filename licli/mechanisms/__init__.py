"""The mechanism registry: ``MECHANISMS`` maps a name to a factory ``(**params) -> nn.Module`` inserted
into a model slot. (Regularizers and the LI data enhancement are objectives: ``licli.objectives``.)
"""

from __future__ import annotations

from licli.mechanisms.gradient_mask import GradientMask
from licli.mechanisms.inhibition import LocalInhibition
from licli.mechanisms.normout import ActivationRecorder, Dropout, NormOut

MECHANISMS: dict = {
    "local-inhibition": LocalInhibition,
    "normout": NormOut,
    "dropout": Dropout,
    "gradient-mask": GradientMask,
    "activation-statistics": ActivationRecorder,
}
