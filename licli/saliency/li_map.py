"""LI-Map (Gradient Mask §3.2, eq. 18–20) and the LI importance map F it is built on.

For every chosen activation layer A^l: D^l = ‖∂P/∂A^l‖₂ over the channels (Algorithm 1 steps 1–2 with
K = 1, eq. 13), δ^l = LoG_{σ,s}(D^l) (eq. 18, the shared kernel of ``licli.mechanisms.log_kernel``:
negative at the centre, like eq. 2 and scipy), resized bilinearly to the input size (eq. 19,
Algorithm 2's "linear interpolation"), and F = Σ_l δ^l (eq. 20). ``li_importance`` is the one
implementation; LI data enhancement (``licli.objectives.enhancement``) calls it with the loss as P.

How F is read as a saliency map is ambiguous in the paper, so it is a choice (``response``):

- ``abs``: |F|, the paper's form: Algorithm 1 step 5 and Algorithm 2 eq. 25 rank |δ| and |F|.
- ``centre`` (default): max(−F, 0), only the excitatory centre of the Mexican hat (−LoG is positive at
  its centre). |F| also ranks the inhibitory surround — a ring about σ outside every strong gradient
  blob, i.e. outside the object — as salient, which widens the top-k box; the centre response is
  where the gradient magnitude itself concentrates after lateral inhibition.
- ``signed``: F itself, eq. 20 read literally ("the largest F values"); with the LoG's sign this ranks
  the surround first. Kept to reproduce the equation as printed.

The border of D is also a choice (``padding``): ``replicate`` (default, scipy's ``mode="nearest"``)
or ``zeros`` (scipy's ``mode="constant"``, the released code's). With zeros every map edge where the
gradient is non-zero looks like the edge of a blob, and the LoG puts a strong response along the whole
image border, which stretches the top-k box to the image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from licli.errors import LicliError
from licli.saliency.cam import resize_maps
from licli.saliency.layers import class_scores, forward_with_activations
from licli.mechanisms.log_kernel import log_filter, suggested_size, warn_if_no_centre_surround
from licli.registry import pick

DEFAULT_SIGMA = 2.0

LI_MAP_RESPONSES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "centre": lambda f: (-f).clamp_min(0),
    "abs": torch.abs,
    "signed": lambda f: f,
}


LOG_PADDINGS = {"replicate": "replicate", "zeros": "constant"}
"""``padding`` name → ``torch.nn.functional.pad`` mode (scipy's ``nearest`` and ``constant``)."""


def log_with_padding(maps: torch.Tensor, sigma: float, size: int, padding: str) -> torch.Tensor:
    """LoG of (N, h, w) maps with the given border: padding by the kernel radius first makes the shared
    zero-padded ``log_filter`` see that border (its own zeros fall in the ring that is cropped)."""
    radius = (size - 1) // 2
    padded = F.pad(maps.unsqueeze(1), (radius,) * 4, mode=LOG_PADDINGS[padding]).squeeze(1)
    return log_filter(padded, sigma, size)[:, radius:radius + maps.shape[-2], radius:radius + maps.shape[-1]]


def kernel_size_for(sigma: float, size: int | None) -> int:
    """The LoG kernel size: as given, else scipy's for σ (radius ⌊4σ + ½⌋); warns without centre-surround."""
    size = suggested_size(sigma) if size is None else size
    warn_if_no_centre_surround(sigma, size)
    return size


def li_importance(model: nn.Module, layers: Sequence[nn.Module], x: torch.Tensor,
                  score: Callable[[torch.Tensor], torch.Tensor], sigma: float, size: int,
                  padding: str = "replicate") -> tuple[torch.Tensor, torch.Tensor]:
    """F = Σ_l resize(LoG_{σ,s}(‖∂P/∂A^l‖₂)) of shape (N, H, W), and the logits of the same forward pass.

    ``score(logits)`` gives P per image, shape (N,); images must not interact in the forward pass
    (eval-mode batch norm) so that ∂ΣP/∂A_i = ∂P_i/∂A_i. Only activation gradients are computed.
    """
    logits, activations = forward_with_activations(model, layers, x.detach().requires_grad_(True))
    gradients = torch.autograd.grad(score(logits).sum(), activations)
    target = (x.shape[-2], x.shape[-1])
    importance = torch.zeros(x.shape[0], *target, device=x.device, dtype=x.dtype)
    for gradient in gradients:
        if gradient.dim() != 4:
            raise LicliError(f"LI-Map needs spatial (N, C, h, w) activations, got shape {tuple(gradient.shape)}",
                             "choose convolutional layers as layers=…", field="layers")
        norms = gradient.norm(dim=1)
        importance = importance + resize_maps(log_with_padding(norms, sigma, size, padding), target)
    return importance, logits.detach()


class LIMap:
    """LI-Map bound to a model and its activation layers: ``method(x, classes) -> maps`` (N, H, W)."""

    def __init__(self, model: nn.Module, layers: Sequence[nn.Module], sigma: float = DEFAULT_SIGMA,
                 size: int | None = None, response: str = "centre", padding: str = "replicate") -> None:
        self.model = model
        self.layers = list(layers)
        self.sigma = sigma
        self.size = kernel_size_for(sigma, size)
        self.response = pick(LI_MAP_RESPONSES, response, "LI-Map response")
        pick(LOG_PADDINGS, padding, "LoG padding")
        self.padding = padding

    def __call__(self, x: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        importance, _ = li_importance(self.model, self.layers, x, lambda logits: class_scores(logits, classes),
                                      self.sigma, self.size, self.padding)
        return self.response(importance)
