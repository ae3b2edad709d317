"""Saliency methods (LI-Map, Grad-CAM, Grad-CAM++); scoring them (localisation, sanity check, blur test) is
``licli.evaluations.saliency``.

A method is built as ``factory(model, layers, **params)`` and called as ``method(x, classes)`` →
maps (N, H, W) on the device. ``SALIENCY_METHODS`` holds licli's implementations; ``BACKENDS`` maps
``--backend`` to a registry (``pytorch-grad-cam`` swaps in the library for the two CAM methods; LI-Map
has only licli's implementation). ``LAST_LAYER_ONLY`` says which methods default to the last spatial
layer (Grad-CAM's convention) rather than all of them (LI-Map's sum over layers, eq. 20).
"""

from __future__ import annotations

from licli.saliency.gradcam import GradCAM
from licli.saliency.gradcampp import GradCAMPlusPlus
from licli.saliency.li_map import LIMap
from licli.saliency.library import LibraryGradCAM, LibraryGradCAMPlusPlus

SALIENCY_METHODS = {
    "li-map": LIMap,
    "gradcam": GradCAM,
    "gradcam++": GradCAMPlusPlus,
}

BACKENDS = {
    "native": SALIENCY_METHODS,
    "pytorch-grad-cam": {**SALIENCY_METHODS, "gradcam": LibraryGradCAM, "gradcam++": LibraryGradCAMPlusPlus},
}

LAST_LAYER_ONLY = {"li-map": False, "gradcam": True, "gradcam++": True}

__all__ = ["BACKENDS", "LAST_LAYER_ONLY", "SALIENCY_METHODS", "GradCAM", "GradCAMPlusPlus", "LIMap"]
