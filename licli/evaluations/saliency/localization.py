"""The localisation score of Gradient Mask §3.2 (Table 3): top pixels of a saliency map → box → IoU.

Choices the paper leaves open, each recorded in the results (``BOX_CONVENTION``, ``--box-rule``):

- **Top pixels.** k = round(percent · H · W) (at least 1); the selection is every pixel ≥ the k-th
  largest value (ties at the threshold are all kept, so the result does not depend on sort order),
  except pixels equal to the map's minimum: a flat floor (e.g. the zeros of a ReLU'd Grad-CAM) is never
  salient. A constant map selects nothing and its box is the whole image.
- **Box.** Smallest and largest row/column of the selected pixels (the paper's rule, ``all``), or of the
  largest 8-connected component only (``largest-component``, scipy.ndimage.label).
- **Boxes are inclusive pixel boxes** (x0, y0, x1, y1): the box covers columns x0..x1 and rows y0..y1,
  so its area is (x1 − x0 + 1)(y1 − y0 + 1) pixels. The released code used no +1; on a 64×64 canvas
  that shrinks small boxes noticeably, so licli counts pixels.
- **No resizing.** Maps are computed at the input size; images are never resized or re-cropped.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from licli.registry import pick

BOX_CONVENTION = "inclusive-pixels"
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def top_pixels(maps: torch.Tensor, percent: float) -> torch.Tensor:
    """Boolean masks (N, H, W) of the top ``percent`` pixels of each map (see the module notes on ties)."""
    if not 0 < percent <= 1:
        raise ValueError(f"percent must be in (0, 1], got {percent}")
    flat = maps.flatten(1)
    k = max(1, round(percent * flat.shape[1]))
    threshold = flat.topk(k, dim=1).values[:, -1:]
    floor = flat.min(1, keepdim=True).values
    return ((flat >= threshold) & (flat > floor)).view_as(maps)


def mask_boxes(masks: torch.Tensor) -> torch.Tensor:
    """Inclusive boxes (N, 4) = (x0, y0, x1, y1) around each mask's pixels; an empty mask → the whole image."""
    n, h, w = masks.shape
    rows, cols = masks.any(2), masks.any(1)
    row_index = torch.arange(h, device=masks.device).expand(n, h)
    col_index = torch.arange(w, device=masks.device).expand(n, w)
    y0 = torch.where(rows, row_index, h).min(1).values
    y1 = torch.where(rows, row_index, -1).max(1).values
    x0 = torch.where(cols, col_index, w).min(1).values
    x1 = torch.where(cols, col_index, -1).max(1).values
    empty = ~rows.any(1)
    whole = torch.tensor([0, 0, w - 1, h - 1], device=masks.device)
    boxes = torch.stack([x0, y0, x1, y1], 1)
    return torch.where(empty.view(n, 1), whole, boxes)


def largest_component(masks: torch.Tensor) -> torch.Tensor:
    """Keep only the largest 8-connected component of each mask (ties: the lowest label)."""
    kept = []
    for mask in masks.cpu().numpy():
        labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
        if count == 0:
            kept.append(mask)
            continue
        sizes = np.bincount(labels.ravel())[1:]
        kept.append(labels == 1 + int(sizes.argmax()))
    return torch.from_numpy(np.stack(kept)).to(masks.device)


BOX_RULES = {
    "all": lambda masks: masks,
    "largest-component": largest_component,
}


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    return ((boxes[:, 2] - boxes[:, 0] + 1).clamp_min(0) * (boxes[:, 3] - boxes[:, 1] + 1).clamp_min(0))


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of paired inclusive pixel boxes (N, 4), as float."""
    inner = torch.stack([torch.maximum(a[:, 0], b[:, 0]), torch.maximum(a[:, 1], b[:, 1]),
                         torch.minimum(a[:, 2], b[:, 2]), torch.minimum(a[:, 3], b[:, 3])], 1)
    overlap = box_area(inner).float()
    return overlap / (box_area(a) + box_area(b)).float().sub(overlap)


def saliency_boxes(maps: torch.Tensor, percent: float, rule: str = "all") -> torch.Tensor:
    """The predicted box of each map: top ``percent`` pixels, filtered by ``rule`` (``BOX_RULES``)."""
    return mask_boxes(pick(BOX_RULES, rule, "box rule")(top_pixels(maps, percent)))
