"""Training objectives beyond cross-entropy (``licli.hooks.Objective``: ``(model, x, y, indices) -> (loss, logits)``).

``REGULARIZERS`` maps a name to a factory ``(**params) -> Objective`` (``regularizers.py``); the LI data
enhancement (``enhancement.ENHANCEMENTS``) wraps an objective and changes its batch. Weight decay is
the optimizer's ``weight_decay`` flag, not an entry here.
"""

from __future__ import annotations

from licli.objectives.regularizers import IRM, MMA, VREx, Fishr, SpectralDecoupling

REGULARIZERS: dict = {
    "spectral-decoupling": SpectralDecoupling,
    "irm": IRM,
    "vrex": VREx,
    "fishr": Fishr,
    "mma": MMA,
}
