"""LI data enhancement (Gradient Mask §3.4, Algorithm 2; "Applying Lateral Inhibition in Data
Enhancing of Deep Learning", steps a–h): blur what the current model finds unimportant.

For each training batch: F = LI importance map of the current model (``li_importance``, the same
function as LI-Map: ‖∂P/∂A^l‖₂ → LoG_{σ,s} → bilinear resize → sum over layers, eq. 21–23), read as
``response(F)`` (default ``abs``: Algorithm 2 eq. 25 thresholds |F|); Q = the per-image ``quantile``
of that response (eq. 24); mask = response > Q (eq. 25); for a random ``ratio`` of the batch, pixels
where mask = 0 are replaced by a Gaussian blur of the image (torchvision ``gaussian_blur``, σ =
``blur_sigma``, kernel 2⌈3σ⌉ + 1, reflect padding). The training objective then sees the enhanced batch.

Choices where the texts differ or are silent (flags of ``licli train --enhance li-blur``):
- P is the per-image cross-entropy (``score="loss"``: Algorithm 2 runs "steps 1–3 of Algorithm 1",
  whose gradients are of the loss L, as is step b of the abstract); ``score="logit"`` uses the label's
  logit as LI-Map does.
- The abstract's step f writes mask = 𝟙{IoM > 0} although it computes Q_i; licli follows Algorithm 2
  (mask = |F| > Q).
- F is computed with the model in eval mode (then restored), so batch-norm statistics are not updated
  by the extra forward pass and images do not interact; only activation gradients are computed, no
  parameter gradient is touched.
- The selection of images uses the enhancement's own generator (seeded by ``seed``); it is not part of
  the resumable training state.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms.functional import gaussian_blur

from licli.errors import LicliError
from licli.registry import pick
from licli.saliency.layers import default_layers, resolve_layers
from licli.saliency.li_map import LI_MAP_RESPONSES, kernel_size_for, li_importance

SCORES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "loss": lambda logits, y: F.cross_entropy(logits, y, reduction="none"),
    "logit": lambda logits, y: logits.gather(1, y.view(-1, 1)).squeeze(1),
}


def blur_outside(x: torch.Tensor, keep: torch.Tensor, blur_sigma: float) -> torch.Tensor:
    """``x`` where ``keep`` (N, H, W) is true, its Gaussian blur elsewhere."""
    size = 2 * math.ceil(3 * blur_sigma) + 1
    blurred = gaussian_blur(x, [size, size], [blur_sigma, blur_sigma])
    return torch.where(keep.unsqueeze(1), x, blurred)


def inhibition_mask(response: torch.Tensor, quantile: float) -> torch.Tensor:
    """mask = response > Q with Q the per-image ``quantile`` of the response (eq. 24–25), shape (N, H, W)."""
    threshold = torch.quantile(response.flatten(1), quantile, dim=1)
    return response > threshold.view(-1, 1, 1)


class LIBlur:
    """The ``li-blur`` enhancement as an ``Objective`` wrapper: ``LIBlur(objective, …)(model, x, y, idx)``."""

    def __init__(self, objective: Callable, *, layers: Sequence[str] = (), quantile: float = 0.5, ratio: float = 0.5,
                 sigma: float = 2.0, size: int | None = None, blur_sigma: float = 2.0, response: str = "abs",
                 score: str = "loss", seed: int = 0) -> None:
        if not 0 <= quantile < 1:
            raise LicliError(f"quantile must be in [0, 1) (got {quantile})", "pass e.g. quantile=0.5", field="quantile")
        if not 0 <= ratio <= 1:
            raise LicliError(f"ratio must be in [0, 1] (got {ratio})", "pass e.g. ratio=0.5", field="ratio")
        for name, value in (("sigma", sigma), ("blur_sigma", blur_sigma)):
            if not value > 0:
                raise LicliError(f"{name} must be > 0 (got {value})", f"pass e.g. {name}=2.0", field=name)
        self.objective = objective
        self.layer_names = list(layers)
        self.quantile, self.ratio, self.sigma, self.blur_sigma = quantile, ratio, sigma, blur_sigma
        try:
            self.size = kernel_size_for(sigma, size)
        except ValueError as error:
            raise LicliError(f"bad LoG kernel for the enhancement ({error})", "pass an odd kernel size") from None
        self.response = pick(LI_MAP_RESPONSES, response, "LI-Map response")
        self.score = pick(SCORES, score, "enhancement score")
        self.generator = torch.Generator().manual_seed(seed)
        self._layers: list[nn.Module] | None = None

    def layers(self, model: nn.Module, x: torch.Tensor) -> list[nn.Module]:
        if self._layers is None:
            names = self.layer_names or default_layers(model, tuple(x.shape[1:]), last_only=False)
            self._layers = resolve_layers(model, names)
        return self._layers

    def enhance(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The enhanced batch and the indices of the images that were blurred."""
        chosen = torch.randperm(x.shape[0], generator=self.generator)[:round(self.ratio * x.shape[0])].to(x.device)
        if chosen.numel() == 0:
            return x, chosen
        was_training = model.training
        model.eval()
        try:
            importance, _ = li_importance(model, self.layers(model, x), x[chosen],
                                          lambda logits: self.score(logits, y[chosen]), self.sigma, self.size)
        finally:
            model.train(was_training)
        keep = inhibition_mask(self.response(importance), self.quantile)
        enhanced = x.clone()
        enhanced[chosen] = blur_outside(x[chosen], keep, self.blur_sigma)
        return enhanced, chosen

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        enhanced, _ = self.enhance(model, x, y)
        return self.objective(model, enhanced, y, indices)


ENHANCEMENTS = {"li-blur": LIBlur}


def enhanced_objective(objective: Callable, name: str, params: dict) -> Callable:
    """Wrap ``objective`` with the enhancement ``name`` (``ENHANCEMENTS``) built from ``params``."""
    factory = pick(ENHANCEMENTS, name, "enhancement")
    try:
        return factory(objective, **params)
    except TypeError as error:
        raise LicliError(f"bad parameters for enhancement {name!r}: {error}", "see `licli train --help`") from None
