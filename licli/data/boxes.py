"""Datasets whose images come with one ground-truth box each (saliency localisation, blur tests).

``BoxedDataset`` is a ``Dataset`` (everything that takes a Dataset takes it) with extra fields: the
boxes, optional image ids, the preprocessing choices to record in a run's manifest (``details``), and
the splits that are missing from the user's copy (``unavailable``: split → (problem, fix)).
``split_boxes`` gives the boxes of a split or a clear error for datasets or splits without them.
Boxes are int64 (N, 4) = (x0, y0, x1, y1), inclusive pixel coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from licli.data.core import Dataset
from licli.errors import LicliError


@dataclass(frozen=True)
class BoxedDataset(Dataset):
    train_boxes: torch.Tensor | None = None
    test_boxes: torch.Tensor | None = None
    train_ids: tuple[str, ...] | None = None
    test_ids: tuple[str, ...] | None = None
    """The source's name of each image (e.g. VOC's ``000001``), in split order; None when it has none."""
    details: dict[str, Any] = field(default_factory=dict)
    """How images and boxes were prepared (resizing, box conversion, filtering), for the manifest."""
    unavailable: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Splits absent from the user's copy (held empty): split → (problem, fix) of the error to raise."""


def split_boxes(data: Dataset, split: str) -> torch.Tensor:
    """The ground-truth boxes of ``split`` ("train" or "test"), or a LicliError naming datasets that have them."""
    boxes = getattr(data, f"{split}_boxes", None)
    if boxes is None:
        raise LicliError(f"dataset {data.name!r} has no ground-truth boxes",
                         "use a dataset with boxes, e.g. dataset=mnist-loc", field="dataset")
    if split in getattr(data, "unavailable", {}):
        raise LicliError(*data.unavailable[split], field="split")
    return boxes


def split_ids(data: Dataset, split: str) -> tuple[str, ...] | None:
    """The source's image ids of ``split``, if the dataset has them."""
    return getattr(data, f"{split}_ids", None)
