"""Datasets whose images come with one ground-truth box each (saliency localisation, blur tests).

``BoxedDataset`` is a ``Dataset`` (everything that takes a Dataset takes it) with two extra fields;
``split_boxes`` gives the boxes of a split or a clear error for datasets without them.
Boxes are int64 (N, 4) = (x0, y0, x1, y1), inclusive pixel coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from licli.data.core import Dataset
from licli.errors import LicliError


@dataclass(frozen=True)
class BoxedDataset(Dataset):
    train_boxes: torch.Tensor | None = None
    test_boxes: torch.Tensor | None = None


def split_boxes(data: Dataset, split: str) -> torch.Tensor:
    """The ground-truth boxes of ``split`` ("train" or "test"), or a LicliError naming datasets that have them."""
    boxes = getattr(data, f"{split}_boxes", None)
    if boxes is None:
        raise LicliError(f"dataset {data.name!r} has no ground-truth boxes",
                         "use a dataset with boxes, e.g. --dataset mnist-loc")
    return boxes
