"""The Laplacian-of-Gaussian kernel shared by Gradient Mask, LI-Map and LI data enhancement.

Gradient Mask eq. 1–2: the LoG of a 2-D map with standard deviation σ on an s×s kernel. The kernel is
built exactly as ``scipy.ndimage.gaussian_laplace`` builds it (separable: ∂²G/∂x²·G(y) + G(x)·∂²G/∂y²,
each 1-D Gaussian normalised to sum 1), so that with zero padding the result equals
``gaussian_laplace(map, σ, mode="constant", truncate=r/σ)`` for radius r = (s − 1)/2.

A kernel too small for its σ has no centre-surround shape: every entry is ≤ 0 and the "LoG" is a
negated blur (the released LI-Map code used σ = 11 on 5×5). ``has_centre_surround`` detects this.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import torch
import torch.nn.functional as F


def gaussian_1d(sigma: float, radius: int, order: int = 0, dtype=torch.float64) -> torch.Tensor:
    """scipy's ``_gaussian_kernel1d`` for order 0 (the Gaussian) or 2 (its second derivative)."""
    x = torch.arange(-radius, radius + 1, dtype=dtype)
    phi = torch.exp(-0.5 * (x / sigma) ** 2)
    phi = phi / phi.sum()
    if order == 0:
        return phi
    if order == 2:
        return phi * (x ** 2 - sigma ** 2) / sigma ** 4
    raise ValueError("order must be 0 or 2")


def log_kernel(sigma: float, size: int, dtype=torch.float32) -> torch.Tensor:
    """The s×s LoG kernel (eq. 1–2), negative at the centre (as scipy's). ``size`` must be odd."""
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be a positive odd integer, got {size}")
    radius = (size - 1) // 2
    g, d2 = gaussian_1d(sigma, radius, 0), gaussian_1d(sigma, radius, 2)
    kernel = torch.outer(d2, g) + torch.outer(g, d2)
    return kernel.to(dtype)


def has_centre_surround(kernel: torch.Tensor) -> bool:
    """True when the kernel has both signs (a centre and a surround), i.e. it inhibits laterally."""
    return bool((kernel > 0).any() and (kernel < 0).any())


def warn_if_no_centre_surround(sigma: float, size: int) -> bool:
    """Warn (once per call site) when a σ/size pair gives an all-one-sign kernel; return whether it did."""
    if has_centre_surround(log_kernel(sigma, size)):
        return False
    warnings.warn(f"LoG kernel with sigma={sigma} on {size}x{size} has no centre-surround shape (all entries "
                  f"have one sign): it blurs instead of inhibiting. Use a kernel of size ≥ {suggested_size(sigma)} "
                  "or a smaller sigma.", UserWarning, stacklevel=2)
    return True


def suggested_size(sigma: float, truncate: float = 4.0) -> int:
    """The kernel size scipy would use for σ (radius = int(truncate·σ + 0.5))."""
    return 2 * int(truncate * sigma + 0.5) + 1


@lru_cache(maxsize=64)
def cached_log_kernel(sigma: float, size: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """``log_kernel(σ, size)`` on ``device`` in ``dtype``, built once per (σ, size, device, dtype): building
    it is a float64 CPU computation and a host-to-device copy (a stream sync on CUDA) per call."""
    with torch.inference_mode(False):  # cached: must stay usable by later autograd computations
        return log_kernel(sigma, size, dtype=dtype).to(device)


def log_filter(maps: torch.Tensor, sigma: float, size: int) -> torch.Tensor:
    """LoG of each 2-D map in ``maps`` (…, H, W), zero padding, same output size."""
    kernel = cached_log_kernel(float(sigma), size, maps.device, maps.dtype)
    shape = maps.shape
    flat = maps.reshape(-1, 1, shape[-2], shape[-1])
    radius = (size - 1) // 2
    out = F.conv2d(F.pad(flat, (radius,) * 4), kernel.view(1, 1, size, size))
    return out.reshape(shape)
