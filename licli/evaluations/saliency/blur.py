"""Background-blur robustness (Gradient Mask §3.4, Fig. 10; the enhancement abstract's Table 1):
accuracy when everything outside the ground-truth box is Gaussian-blurred with growing σ.

Blur: torchvision ``gaussian_blur`` with kernel 2⌈3σ⌉ + 1 and reflect padding, applied to the whole
image and kept outside the (inclusive) box; σ = 0 is the clean image.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
from torch import nn

from licli.objectives.enhancement import blur_outside


def box_masks(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Boolean (N, H, W): true inside each inclusive box."""
    rows = torch.arange(height, device=boxes.device).view(1, height, 1)
    cols = torch.arange(width, device=boxes.device).view(1, 1, width)
    x0, y0, x1, y1 = (boxes[:, i].view(-1, 1, 1) for i in range(4))
    return (rows >= y0) & (rows <= y1) & (cols >= x0) & (cols <= x1)


@torch.no_grad()
def blur_robustness(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, boxes: torch.Tensor,
                    sigmas: Sequence[float], batch_size: int = 500) -> pd.DataFrame:
    """One row per σ: accuracy of ``model`` on ``images`` (float, [0, 1]) with the background blurred."""
    inside = box_masks(boxes, images.shape[-2], images.shape[-1])
    rows = []
    for sigma in sigmas:
        correct = torch.zeros((), device=images.device, dtype=torch.int64)
        for start in range(0, len(images), batch_size):
            x = images[start:start + batch_size]
            if sigma > 0:
                x = blur_outside(x, inside[start:start + batch_size], sigma)
            correct += (model(x).argmax(1) == labels[start:start + batch_size]).sum()
        rows.append({"blur_sigma": float(sigma), "accuracy": correct.item() / len(images), "n": len(images)})
    return pd.DataFrame(rows)
