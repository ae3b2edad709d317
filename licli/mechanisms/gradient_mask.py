"""Gradient Mask (Gradient Mask paper §2.1, Algorithm 1, §3.1): lateral inhibition of the backward pass.

For the gradient G (N, C, H, W) arriving at a layer's output, per sample:

1. split the C channels into K consecutive sets of C/K channels ("minicolumns", eq. 12) and take the
   L2 norm over each set at every position: D(k) (eq. 13);
2. δ(k) = LoG_{σ,s}(D(k)) (eq. 14, the shared kernel of ``licli.mechanisms.log_kernel``, zero padding);
3. Q_k = the ``quantile`` q of |δ(k)| over the H×W map (eq. 15; linear interpolation, numpy's default);
4. mask(k) = |δ(k)| > Q_k (eq. 16), shared by the C/K channels of set k; G ← G ⊙ mask (eq. 17).

Ablations of §3.1: ``no-li`` thresholds the norms D(k) directly (no LoG); ``no-minicolumn`` uses |G|
per channel (K = C) and the LoG of every feature map.

The forward pass is untouched (the output is a view of the input: bit-identical values), and masks
apply only in training mode: an evaluated model (e.g. under attack) sees plain gradients.

Choices where the paper is silent: the kernel size defaults to scipy's for σ (2·⌊4σ + 0.5⌋ + 1, 89
for σ = 11). With zero padding only offsets within the map matter (the kernel is in effect cropped to
the map), and the separable form of the LoG (∂²G/∂y²·G(x) + G(y)·∂²G/∂x²) turns the filter into two
batched matrix products: the same result as ``log_filter``'s 2-D convolution, about 80× faster on
32×32 maps. A kernel whose effective (cropped) extent has no centre-surround — e.g. σ = 11 on the
8×8 maps of a CIFAR ResNet — warns once per map size.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache

import torch
from torch import nn

from licli.errors import LicliError
from licli.mechanisms.log_kernel import (gaussian_1d, has_centre_surround, log_kernel, suggested_size,
                                         warn_if_no_centre_surround)

VARIANTS = ("li", "no-li", "no-minicolumn")


def filter_matrix(kernel: torch.Tensor, length: int) -> torch.Tensor:
    """The (length × length) matrix of 1-D correlation with a symmetric odd ``kernel`` and zero padding."""
    radius = (kernel.numel() - 1) // 2
    positions = torch.arange(length, device=kernel.device)
    offset = positions.view(1, -1) - positions.view(-1, 1)
    padded = torch.cat([kernel, kernel.new_zeros(1)])  # index -1 reads the zero
    return padded[torch.where(offset.abs() <= radius, offset + radius, -1)]


@lru_cache(maxsize=64)
def separable_log_matrices(sigma: float, size: int, h: int, w: int, device: torch.device, dtype: torch.dtype
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """T_y(G''), T_x(G), T_y(G), T_x(G'') for (H, W) maps, built once per (σ, size, map size, device, dtype):
    building them is float64 CPU work and two host-to-device copies (stream syncs on CUDA) per call."""
    radius = (size - 1) // 2
    with torch.inference_mode(False):  # cached: must stay usable by later autograd computations
        g = gaussian_1d(sigma, radius, 0).to(device=device, dtype=dtype)
        d2 = gaussian_1d(sigma, radius, 2).to(device=device, dtype=dtype)
        return filter_matrix(d2, h), filter_matrix(g, w), filter_matrix(g, h), filter_matrix(d2, w)


def separable_log_filter(maps: torch.Tensor, sigma: float, size: int) -> torch.Tensor:
    """``log_filter(maps, σ, size)`` for (…, H, W) maps via the separable form of the kernel:
    LoG ∗ D = T_y(G'') D T_x(G) + T_y(G) D T_x(G''), each T a banded matrix (two batched matmuls)."""
    d2_y, g_x, g_y, d2_x = separable_log_matrices(float(sigma), size, maps.shape[-2], maps.shape[-1], maps.device,
                                                  maps.dtype)
    return d2_y @ maps @ g_x + g_y @ maps @ d2_x


def minicolumn_norms(gradient: torch.Tensor, sets: int) -> torch.Tensor:
    """D(k): the L2 norm over each of ``sets`` consecutive channel sets, (N, K, H, W) (eq. 12–13)."""
    n, c, h, w = gradient.shape
    return torch.linalg.vector_norm(gradient.view(n, sets, c // sets, h, w), dim=2)


def importance(gradient: torch.Tensor, sigma: float, size: int, sets: int, variant: str = "li") -> torch.Tensor:
    """The score thresholded per set: |δ(k)| (``li``), D(k) (``no-li``) or |LoG(|g_c|)| (``no-minicolumn``)."""
    if variant == "no-li":
        return minicolumn_norms(gradient, sets)
    maps = gradient.abs() if variant == "no-minicolumn" else minicolumn_norms(gradient, sets)
    return separable_log_filter(maps, sigma, size).abs()


def gradient_mask(gradient: torch.Tensor, sigma: float = 11.0, size: int | None = None, sets: int = 16,
                  quantile: float = 0.5, variant: str = "li") -> torch.Tensor:
    """The boolean keep mask (N, K', H, W) per set (K' = C for ``no-minicolumn``), eq. 15–16."""
    size = suggested_size(sigma) if size is None else size
    scores = importance(gradient, sigma, size, sets, variant)
    threshold = torch.quantile(scores.flatten(2), quantile, dim=2)
    return scores > threshold[..., None, None]


def mask_gradient(gradient: torch.Tensor, sigma: float = 11.0, size: int | None = None, sets: int = 16,
                  quantile: float = 0.5, variant: str = "li") -> torch.Tensor:
    """G ⊙ mask, each set's mask shared by its channels (eq. 17)."""
    keep = gradient_mask(gradient, sigma, size, sets, quantile, variant)
    n, c, h, w = gradient.shape
    groups = keep.shape[1]
    return (gradient.view(n, groups, c // groups, h, w) * keep.unsqueeze(2)).view(n, c, h, w)


class GradientMask(nn.Module):
    """Identity forward; in training mode, masks the gradient arriving at its output (Algorithm 1)."""

    def __init__(self, sigma: float = 11.0, sets: int = 16, quantile: float = 0.5, kernel_size: int | None = None,
                 variant: str = "li") -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise LicliError(f"unknown gradient-mask variant {variant!r}", f"choose one of: {', '.join(VARIANTS)}")
        if not float(sigma) > 0:
            raise LicliError(f"gradient-mask sigma must be > 0 (got {sigma})", "pass e.g. sigma=11")
        if not isinstance(sets, int) or sets < 1:
            raise LicliError(f"gradient-mask sets must be a positive integer (got {sets})", "pass e.g. sets=16")
        if not 0 <= quantile <= 1:
            raise LicliError(f"gradient-mask quantile must be in [0, 1] (got {quantile})", "pass e.g. quantile=0.5")
        if kernel_size is not None and (not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0):
            raise LicliError(f"gradient-mask kernel_size must be a positive odd integer (got {kernel_size})",
                             "pass e.g. kernel_size=89, or leave it out for scipy's size for sigma")
        self.sigma = float(sigma)
        self.sets = sets
        self.quantile = float(quantile)
        self.kernel_size = suggested_size(self.sigma) if kernel_size is None else kernel_size
        self.variant = variant
        self._checked_sizes: set[tuple[int, int, int]] = set()
        warn_if_no_centre_surround(self.sigma, self.kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and x.requires_grad):
            return x
        self._check(x)
        out = x.view_as(x)
        out.register_hook(self._mask)
        return out

    def _mask(self, gradient: torch.Tensor) -> torch.Tensor:
        if gradient.dtype in (torch.float32, torch.float64):
            return mask_gradient(gradient, self.sigma, self.kernel_size, self.sets, self.quantile, self.variant)
        # bf16 autocast (--precision bf16): the mask is computed at float32 (torch.quantile needs it)
        masked = mask_gradient(gradient.float(), self.sigma, self.kernel_size, self.sets, self.quantile, self.variant)
        return masked.to(gradient.dtype)

    def _check(self, x: torch.Tensor) -> None:
        key = tuple(x.shape[1:])
        if key in self._checked_sizes:
            return
        if x.dim() != 4:
            raise LicliError(f"gradient-mask needs (N, C, H, W) feature maps, got shape {tuple(x.shape)}",
                             "put it in a convolutional slot (e.g. a resnet18 block)")
        if self.variant != "no-minicolumn" and x.shape[1] % self.sets:
            raise LicliError(f"gradient-mask cannot split {x.shape[1]} channels into {self.sets} equal sets",
                             "choose sets dividing the channel count, e.g. sets=16")
        effective = min(self.kernel_size, 2 * min(x.shape[2], x.shape[3]) - 1)
        if effective < self.kernel_size and not has_centre_surround(log_kernel(self.sigma, effective)):
            warnings.warn(f"gradient-mask: on {x.shape[2]}x{x.shape[3]} maps the LoG with sigma={self.sigma} only "
                          f"reaches {effective}x{effective} offsets, where all its entries have one sign: it blurs "
                          "instead of inhibiting. Use a smaller sigma or leave these maps unmasked.",
                          UserWarning, stacklevel=2)
        self._checked_sizes.add(key)

    def extra_repr(self) -> str:
        return (f"sigma={self.sigma}, sets={self.sets}, quantile={self.quantile}, kernel_size={self.kernel_size}, "
                f"variant={self.variant!r}")


@contextmanager
def gradient_masks(model: nn.Module, layers: Iterable[str], **params) -> Iterator[dict[str, GradientMask]]:
    """Mask the gradients at the outputs of the named submodules of any model (no slots needed).

    Each named module gets a forward hook that passes its output through a ``GradientMask`` while the
    module is in training mode; every hook is removed when the block ends, also on error.
    """
    modules = dict(model.named_modules())
    names = list(layers)
    missing = [name for name in names if name not in modules]
    if missing:
        raise LicliError(f"model has no layer(s) {', '.join(missing)}", "name submodules as model.named_modules() does")
    masks = {name: GradientMask(**params) for name in names}
    handles = []
    try:
        for name in names:
            def hook(module, inputs, output, mask=masks[name]):
                return mask.train(module.training)(output)
            handles.append(modules[name].register_forward_hook(hook))
        yield masks
    finally:
        for handle in handles:
            handle.remove()


def paper_slots(slot_names: Iterable[str], keep_last: int = 2) -> list[str]:
    """§3.1 placement: the residual-block slots except the last ``keep_last`` (for resnet18:
    ``layer1.0`` … ``layer3.1``; on the command line ``--mechanism 'layer[123].*=gradient-mask'``)."""
    names = list(slot_names)
    return names[:max(len(names) - keep_last, 0)]
