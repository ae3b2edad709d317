"""What Grad-CAM and Grad-CAM++ share: one forward, gradients of the class logits with respect to the
chosen activations, a channel-weighted sum, and pytorch-grad-cam's normalisation (so that the two
backends give equal maps).

Per layer: cam = ReLU(Σ_k w_k A_k), scaled to [0, 1] per image (x − min) / (max + 1e-7), resized
bilinearly to the input size; layers are averaged and the result scaled again
(``pytorch_grad_cam.base_cam.BaseCAM.compute_cam_per_layer`` / ``aggregate_multi_layers``).
Everything stays on the model's device; nothing is copied to the host.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from licli.saliency.layers import class_scores, forward_with_activations

ChannelWeights = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(activations, gradients)`` of shape (N, C, h, w) → channel weights (N, C)."""


def scale_per_image(maps: torch.Tensor) -> torch.Tensor:
    """pytorch-grad-cam's ``scale_cam_image`` without resizing: (x − min) / (1e-7 + max of the shifted map)."""
    flat = maps.flatten(1)
    shifted = flat - flat.min(1, keepdim=True).values
    return (shifted / (1e-7 + shifted.max(1, keepdim=True).values)).view_as(maps)


def resize_maps(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, h, w) → (N, H, W), bilinear with half-pixel centres (as cv2.resize and Algorithm 2's "linear")."""
    if tuple(maps.shape[-2:]) == tuple(size):
        return maps
    return F.interpolate(maps.unsqueeze(1), size=size, mode="bilinear", align_corners=False).squeeze(1)


def class_activation_maps(model: nn.Module, layers: Sequence[nn.Module], x: torch.Tensor, classes: torch.Tensor,
                          weights: ChannelWeights) -> torch.Tensor:
    """The CAM family's maps (N, H, W) in [0, 1] for ``classes`` with the given channel weighting."""
    logits, activations = forward_with_activations(model, layers, x.detach().requires_grad_(True))
    gradients = torch.autograd.grad(class_scores(logits, classes).sum(), activations)
    size = (x.shape[-2], x.shape[-1])
    per_layer = []
    for activation, gradient in zip(activations, gradients):
        activation = activation.detach()
        cam = (weights(activation, gradient)[:, :, None, None] * activation).sum(1).clamp_min(0)
        per_layer.append(resize_maps(scale_per_image(cam), size))
    return scale_per_image(torch.stack(per_layer, 1).clamp_min(0).mean(1))


class CAMMethod:
    """A CAM method bound to a model and its target layers: ``method(x, classes) -> maps``."""

    weights: ChannelWeights

    def __init__(self, model: nn.Module, layers: Sequence[nn.Module]) -> None:
        self.model = model
        self.layers = list(layers)

    def __call__(self, x: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        return class_activation_maps(self.model, self.layers, x, classes, type(self).weights)
