"""A user's own images: ``imagefolder:PATH`` in torchvision's ``ImageFolder`` layout.

``PATH/<class>/<image>`` is one evaluation set (it is both the train and the test split);
``PATH/{train,test}/<class>/<image>`` (or ``val`` for ``test``) gives both splits. Classes are the sorted folder
names and images are sorted by class, then file name — exactly ``torchvision.datasets.ImageFolder``'s order.
Images are decoded once with Pillow (RGB; ``L`` when every image is grey) into uint8 arrays, cached like
CIFAR-10 (keyed by every file's path, size and modification time) and memory-mapped, so a large evaluation set
is read from disk batch by batch instead of living in memory or on the device (``licli.data.core.on_device``).

All images must have one size, or ``imagefolder:PATH@S`` resizes them as the ImageNet evaluation protocol does:
shorter side to ⌊S·256/224⌋, then a central S×S crop (torchvision's ``Resize`` + ``CenterCrop``).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import torch

from licli.data.cache import cached_arrays
from licli.data.core import Dataset, Split
from licli.errors import LicliError
from licli.progress import OnProgress, Parts

PREFIX = "imagefolder:"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".ppm", ".pgm", ".tif", ".tiff")
SPLIT_FOLDERS = {"train": ("train",), "test": ("test", "val")}


def parse(name: str) -> tuple[Path, int | None]:
    """``imagefolder:PATH`` or ``imagefolder:PATH@S`` → (folder, crop size or None)."""
    text = name[len(PREFIX):]
    found = re.fullmatch(r"(.*)@(\d+)", text)
    path, size = (found.group(1), int(found.group(2))) if found else (text, None)
    if not path:
        raise LicliError(f"dataset {name!r} names no folder", "pass dataset=imagefolder:path/to/images", field="dataset")
    return Path(path).expanduser(), size


def listing(folder: Path) -> list[tuple[Path, int]]:
    """(file, class index) of every image under ``folder``/<class>/, in ImageFolder's order."""
    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    files = [(path, k) for k, name in enumerate(classes)
             for path in sorted((folder / name).rglob("*")) if path.suffix.lower() in IMAGE_SUFFIXES]
    return files


def _class_names(folder: Path) -> tuple[str, ...]:
    return tuple(sorted(p.name for p in folder.iterdir() if p.is_dir()))


def _decode(files: list[tuple[Path, int]], size: int | None, parts: Parts) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image, UnidentifiedImageError

    if size is not None:
        from torchvision.transforms import functional as tf

    images = []
    for path, _ in files:
        with parts.part(path.name):
            try:
                with Image.open(path) as opened:
                    image = opened.convert("RGB") if opened.mode not in ("L", "RGB") else opened.copy()
            except (UnidentifiedImageError, OSError) as error:
                raise LicliError(f"cannot decode the image {path} ({error})", "remove or replace the file") from None
            if size is not None:
                image = tf.center_crop(tf.resize(image, size * 256 // 224), [size, size])
            images.append(image)
    grey = all(image.mode == "L" for image in images)
    arrays = [np.asarray(image if grey else image.convert("RGB")) for image in images]
    shapes = sorted({a.shape for a in arrays})
    if len(shapes) > 1:
        raise LicliError(f"the images have different sizes ({', '.join('×'.join(map(str, s[:2])) for s in shapes[:3])} …)",
                         "append @SIZE to resize and centre-crop them as for ImageNet, e.g. dataset="
                         "imagefolder:PATH@224", field="dataset")
    stacked = np.stack(arrays) if arrays else np.zeros((0, 1, 1), np.uint8)
    stacked = stacked[:, None] if stacked.ndim == 3 else stacked.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(stacked), np.array([k for _, k in files], dtype=np.int64)


def _digest(folder: Path, size: int | None, files: list[tuple[Path, int]]) -> str:
    digest = hashlib.sha256(f"{folder.resolve()}\n{size}\n".encode())
    for path, k in files:
        stat = path.stat()
        digest.update(f"{path.relative_to(folder)}:{k}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]


def load_image_folder(name: str, on_progress: OnProgress | None = None) -> Dataset:
    """The dataset ``imagefolder:PATH[@S]`` (see the module docstring); ``on_progress`` hears of each decoded image
    (only on the first load: later loads read the cache)."""
    folder, size = parse(name)
    if not folder.is_dir():
        raise LicliError(f"image folder {folder} not found", "pass dataset=imagefolder:PATH with PATH/<class>/*.jpg",
                         field="dataset")
    roots = {split: next((folder / f for f in names if (folder / f).is_dir()), None)
             for split, names in SPLIT_FOLDERS.items()}
    if (roots["train"] is None) != (roots["test"] is None):
        raise LicliError(f"{folder} has {'train' if roots['train'] else 'test'}/ but not the other split",
                         "give both train/ and test/ (or val/), or one folder of classes")
    split_roots = roots if roots["train"] is not None else {"train": folder, "test": folder}
    classes = _class_names(split_roots["test"])
    if split_roots["train"] != split_roots["test"] and _class_names(split_roots["train"]) != classes:
        raise LicliError(f"{folder}'s train and test splits have different class folders",
                         "use the same class folder names in both")
    listed = {split: listing(root) for split, root in split_roots.items()}
    if not listed["test"]:
        raise LicliError(f"no images in {split_roots['test']}/<class>/", f"put images ({', '.join(IMAGE_SUFFIXES)}) "
                                                                          "into one folder per class")
    distinct = [split for split in ("train", "test") if split == "test" or split_roots["train"] != split_roots["test"]]
    counted: list[Parts] = []  # created by the first decoding, so a load from the cache reports nothing
    arrays: dict[str, np.ndarray] = {}
    for split in distinct:
        def build(split: str = split) -> dict[str, np.ndarray]:
            if not counted:
                counted.append(Parts("decode images", sum(len(listed[s]) for s in distinct), on_progress))
            images, labels = _decode(listed[split], size, counted[0])
            return {"images": images, "labels": labels}

        key = _digest(split_roots[split], size, listed[split])
        cached = cached_arrays("imagefolder", key, ("images", "labels"), build, mmap=True)
        arrays.update({f"{split}_images": cached["images"], f"{split}_labels": cached["labels"]})
    splits = {split: Split(torch.from_numpy(arrays[f"{split}_images"]),
                           torch.from_numpy(np.asarray(arrays[f"{split}_labels"])))
              for split in distinct}
    train = splits.get("train", splits["test"])
    return Dataset(name=f"{PREFIX}{folder}" + (f"@{size}" if size else ""), train=train, test=splits["test"],
                   num_classes=len(classes), classes=classes)
