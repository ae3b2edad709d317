"""Grad-CAM (Selvaraju et al. 2017, eq. 1–2): channel weights are the spatial means of ∂y_c/∂A."""

from __future__ import annotations

import torch

from licli.saliency.cam import CAMMethod


def gradcam_weights(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """α_k = mean over (h, w) of ∂y_c/∂A_k, shape (N, C)."""
    return gradients.mean(dim=(2, 3))


class GradCAM(CAMMethod):
    """Grad-CAM, batched on the device; equal to ``pytorch_grad_cam.GradCAM`` (tested to 1e-5)."""

    weights = staticmethod(gradcam_weights)
