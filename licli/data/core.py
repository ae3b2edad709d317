"""Whole splits as uint8 tensors, moved to the device once and batched there (large ones streamed: ``on_device``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

DATA_DIR_ENV = "LICLI_DATA_DIR"
CACHE_DIR_ENV = "LICLI_CACHE_DIR"


def cache_dir() -> Path:
    """``$LICLI_CACHE_DIR``, else the user cache folder (platformdirs) for decoded datasets."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("licli"))


def resolve_data_dir(flag: str | os.PathLike | None) -> Path:
    """``--data-dir``, else ``$LICLI_DATA_DIR``, else the user cache folder."""
    if flag:
        return Path(flag).expanduser()
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser()
    return cache_dir() / "data"


def unit_float(images: torch.Tensor) -> torch.Tensor:
    """A new float32 tensor of ``images`` in [0, 1]: uint8 (how datasets are stored) is divided by 255,
    float images (tensors passed through the Python API, already in [0, 1]) are copied unchanged."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return images.to(torch.float32, copy=True)


@dataclass(frozen=True)
class Split:
    """One split: ``images`` uint8 (N, C, H, W) in [0, 255] (or float in [0, 1]: ``licli.api``), ``labels``
    int64 (N,)."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device | str) -> "Split":
        return Split(self.images.to(device), self.labels.to(device))

    def subset(self, indices: torch.Tensor) -> "Split":
        return Split(self.images[indices.to(self.images.device)], self.labels[indices.to(self.labels.device)])

    def floats(self, device: torch.device | str | None = None) -> torch.Tensor:
        """All images as float32 in [0, 1] (on ``device`` if given)."""
        return unit_float(self.images if device is None else self.images.to(device))


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    test: Split
    num_classes: int
    classes: tuple[str, ...]
    files: dict[str, str] = field(default_factory=dict)
    """Input files the dataset was read from (role -> path), for the manifest's sha256."""
    hashes: dict[str, str] = field(default_factory=dict)
    """Role → sha256 of those of ``files`` the loader hashed anyway (the run records them without rereading)."""
    environments: torch.Tensor | None = None
    """The environment (int64, 0 … n−1) of each training image, for IRM / V-REx / Fishr (``colored-mnist``)."""

    @property
    def in_channels(self) -> int:
        return int(self.train.images.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.train.images.shape[2]), int(self.train.images.shape[3])


RESIDENT_BYTES = 1 << 30
"""Splits up to this size (1 GiB) are moved to the device whole; larger ones are streamed batch by batch."""


def on_device(split: Split, device: torch.device | str) -> Split:
    """``split`` for evaluation on ``device``: labels there, images there too when they fit in ``RESIDENT_BYTES``,
    else left on the host (an image folder's are memory-mapped from the cache) and copied one batch at a time."""
    size = split.images.numel() * split.images.element_size()
    return Split(split.images if size > RESIDENT_BYTES else split.images.to(device), split.labels.to(device))


Augment = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]


def batches(split: Split, batch_size: int, *, device: torch.device, shuffle: bool = False,
            generator: torch.Generator | None = None, augment: Augment | None = None,
            drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Yield ``(x, y, indices)`` with ``x`` float in [0, 1] on ``device``.

    ``split`` should already be on ``device`` (``Split.to``) so no per-batch copy happens. The order
    comes from ``generator`` (CPU) so that a resumed run can restore it.
    """
    n = len(split)
    order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
    image_order = order.to(split.images.device)  # host-held (streamed) images are indexed on the host
    order = order.to(split.labels.device)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        index = order[start:start + batch_size]
        x = unit_float(split.images[image_order[start:start + batch_size]].to(device, non_blocking=True))
        if augment is not None:
            x = augment(x, generator)
        yield x, split.labels[index].to(device, non_blocking=True), index
