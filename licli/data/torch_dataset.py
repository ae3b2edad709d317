"""Any ``torch.utils.data.Dataset`` of ``(image, label)`` as a licli split, read batch by batch.

The images (float tensors in [0, 1] as ``ToTensor`` gives, uint8 tensors, or PIL images) are written through a
``DataLoader`` into a memory-mapped array in the cache folder — uint8 when every value is a multiple of 1/255
(8-bit images, stored exactly), else float32 — so the set never has to fit in memory or on the device; the
file is unlinked once mapped and disappears with the process.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
import torch

from licli.data.core import Split, cache_dir
from licli.errors import LicliError
from licli.progress import OnProgress, Parts


def _tensor(image) -> torch.Tensor:
    if isinstance(image, torch.Tensor):
        return image
    from torchvision.transforms.functional import pil_to_tensor

    return pil_to_tensor(image)


def _collate(items):
    return torch.stack([_tensor(image) for image, _ in items]), torch.as_tensor([int(label) for _, label in items])


def _on_255_grid(batch: torch.Tensor) -> bool:
    return batch.dtype == torch.uint8 or bool(((batch * 255 - (batch * 255).round()).abs() <= 1e-4).all())


def split_from_torch(dataset, *, batch_size: int = 256, num_workers: int = 0,
                     on_progress: OnProgress | None = None) -> Split:
    """The images and labels of ``dataset`` as a ``Split`` backed by a memory-mapped file (see the module)."""
    from torch.utils.data import DataLoader

    n = len(dataset)
    if n == 0:
        raise LicliError("the dataset is empty", "pass a dataset with images")
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, collate_fn=_collate)
    parts = Parts("read dataset", -(-n // batch_size), on_progress)
    batches = iter(loader)
    first_images, first_labels = next(batches)
    if first_images.dim() != 4:
        raise LicliError(f"the dataset's images are shaped {tuple(first_images.shape[1:])}, not (C, H, W)",
                         "return (C, H, W) tensors, e.g. with transforms.ToTensor()")
    if first_images.is_floating_point() and (first_images.min() < 0 or first_images.max() > 1):
        raise LicliError("the dataset's float images are not in [0, 1]",
                         "return unnormalised images (transforms.ToTensor()) and normalise inside the model")
    exact = _on_255_grid(first_images)
    folder = cache_dir() / "torch-datasets"
    folder.mkdir(parents=True, exist_ok=True)
    handle, path = tempfile.mkstemp(suffix=".npy", dir=folder)
    os.close(handle)
    try:
        images = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8 if exact else np.float32,
                                           shape=(n, *first_images.shape[1:]))
    finally:
        os.unlink(path)  # the mapping keeps the data; the file goes when the process does
    labels = torch.empty(n, dtype=torch.int64)
    start = 0
    for batch, targets in [(first_images, first_labels), *batches]:
        with parts.part(f"images {start + 1}–{start + len(batch)}"):
            if tuple(batch.shape[1:]) != images.shape[1:]:
                raise LicliError(f"the dataset's images have different sizes ({tuple(batch.shape[1:])} and "
                                 f"{images.shape[1:]})", "resize them in the dataset's transform")
            if exact and not _on_255_grid(batch):
                raise LicliError("the dataset's images change from 8-bit to other float values",
                                 "return one kind of image for the whole dataset")
            values = batch if batch.dtype == torch.uint8 else (batch * 255).round() if exact else batch
            images[start:start + len(batch)] = values.numpy().astype(images.dtype)
            labels[start:start + len(batch)] = targets
            start += len(batch)
    return Split(torch.from_numpy(images), labels)
