"""Grad-CAM++ (Chattopadhay et al. 2018, eq. 19 with the exponential's derivatives): pixel-wise
weights α_ij = g² / (2g² + Σ_ab A_ab · g³), channel weights Σ_ij α_ij · ReLU(g), with
pytorch-grad-cam's ε = 1e-6 and α = 0 where the gradient is 0."""

from __future__ import annotations

import torch

from licli.saliency.cam import CAMMethod

EPSILON = 1e-6


def gradcampp_weights(activations: torch.Tensor, gradients: torch.Tensor) -> torch.Tensor:
    """Grad-CAM++ channel weights, shape (N, C)."""
    g2 = gradients.pow(2)
    g3 = g2 * gradients
    activation_sums = activations.sum(dim=(2, 3), keepdim=True)
    alpha = g2 / (2 * g2 + activation_sums * g3 + EPSILON)
    alpha = torch.where(gradients != 0, alpha, torch.zeros_like(alpha))
    return (gradients.clamp_min(0) * alpha).sum(dim=(2, 3))


class GradCAMPlusPlus(CAMMethod):
    """Grad-CAM++, batched on the device; equal to ``pytorch_grad_cam.GradCAMPlusPlus`` (tested to 1e-5)."""

    weights = staticmethod(gradcampp_weights)
