"""CIFAR-10 from the user's own copy, decoded once into uint8 tensors.

Three layouts are read, looked for in this order under the data root:

1. ``cifar-10-batches-py/`` — torchvision's ``CIFAR10`` python batches (``--download`` fetches them),
   read by an unpickler that admits numpy arrays only, so a tampered batch cannot run code;
2. ``cifar10/{train,test}/<class>/*`` or ``cifar10-jpeg/{train,test}/<class>/*`` — image folders
   (torchvision ``ImageFolder`` layout: classes are the sorted folder names, files sorted by name),
   cached like the archive, keyed by every file's path, size and modification time;
3. ``cifar10-jpeg.tar.gz`` — the same image folders in one archive, decoded straight from the
   archive (nothing is extracted to disk) and cached as ``.npy`` arrays in the user cache folder, keyed
   by the archive's sha256, so only the first load pays for decoding 60,000 images.

``cifar10-mini`` is a seeded stratified sample (200 train / 50 test images per class) for quick runs;
from the folder and archive layouts only the sampled images are decoded.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from licli.data.cache import cached_arrays
from licli.data.core import Dataset, Split
from licli.errors import LicliError
from licli.runtime import sha256_file

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
BATCHES_FOLDER = "cifar-10-batches-py"
BATCH_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)
FOLDER_NAMES = ("cifar10", "cifar10-jpeg")
ARCHIVE_NAME = "cifar10-jpeg.tar.gz"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
SPLITS = ("train", "test")


@dataclass(frozen=True)
class Sample:
    """A seeded stratified sample: ``per_class`` images of each class from each split."""

    train_per_class: int
    test_per_class: int
    seed: int = 0

    def key(self) -> str:
        return f"sample-{self.train_per_class}-{self.test_per_class}-{self.seed}"

    def per_class(self, split: str) -> int:
        return self.train_per_class if split == "train" else self.test_per_class


MINI = Sample(train_per_class=200, test_per_class=50)


def stratified_indices(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """``per_class`` indices of each label, drawn without replacement by a seeded generator, sorted."""
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < per_class:
            raise LicliError(f"class {label} has only {len(members)} images, fewer than the {per_class} sampled",
                             "use the full dataset (cifar10) or a complete copy of CIFAR-10")
        order = torch.randperm(len(members), generator=generator)[:per_class].numpy()
        chosen.append(members[np.sort(order)])
    return np.sort(np.concatenate(chosen))


def decode_images(blobs: Iterable[bytes]) -> np.ndarray:
    """Decode encoded images (JPEG, PNG, …) with Pillow into one uint8 (N, H, W, 3) array."""
    from PIL import Image, UnidentifiedImageError

    arrays = []
    for blob in blobs:
        try:
            with Image.open(io.BytesIO(blob)) as image:
                arrays.append(np.asarray(image.convert("RGB")))
        except (UnidentifiedImageError, OSError) as error:
            raise LicliError(f"cannot decode a CIFAR-10 image ({error})",
                             "the copy is damaged: restore it from its source") from None
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise LicliError(f"CIFAR-10 images have different sizes ({sorted(shapes)[:3]})",
                         "all images must be 32×32; resize them before use")
    return np.stack(arrays) if arrays else np.zeros((0, 32, 32, 3), np.uint8)


def _split_from_listing(entries: list[tuple[str, int, object]], per_class: int | None, seed: int,
                        read: Callable[[object], bytes]) -> Split:
    """``entries`` are (file name, class index, member); ``read(member)`` gives the encoded bytes."""
    entries = sorted(entries, key=lambda entry: (entry[1], entry[0]))
    labels = np.array([entry[1] for entry in entries], dtype=np.int64)
    keep = np.arange(len(entries)) if per_class is None else stratified_indices(labels, per_class, seed)
    images = decode_images(read(entries[i][2]) for i in keep)
    return _split(images, labels[keep])


def _split(images_nhwc: np.ndarray, labels: np.ndarray) -> Split:
    return Split(torch.from_numpy(np.ascontiguousarray(images_nhwc.transpose(0, 3, 1, 2))),
                 torch.from_numpy(np.asarray(labels, dtype=np.int64)))


def _class_index(name: str, split: str, where: Path) -> int:
    if name not in CIFAR10_CLASSES:
        raise LicliError(f"unexpected class folder {split}/{name} in {where}",
                         f"CIFAR-10 class folders are {', '.join(CIFAR10_CLASSES)}")
    return CIFAR10_CLASSES.index(name)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10 batches (dicts of numpy arrays, lists, bytes) and refuses any other global."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a CIFAR-10 batch")
        return super().find_class(module, name)


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One python batch file → (N, 32, 32, 3) uint8 images, (N,) labels."""
    try:
        with open(path, "rb") as handle:
            batch = _ArrayUnpickler(handle, encoding="latin1").load()
        data = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
        labels = np.asarray(batch["labels"], dtype=np.int64)
    except (pickle.UnpicklingError, OSError, EOFError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise LicliError(f"cannot read the CIFAR-10 batch {path} ({error})",
                         "restore the file, or re-fetch the batches with download=True", field="download") from None
    return data, labels


def _read_batches(folder: Path, sample: Sample | None, download: bool) -> tuple[Split, Split]:
    """torchvision's python batches, read with an unpickler that admits only arrays (never arbitrary objects)."""
    if download:
        from torchvision.datasets import CIFAR10

        try:
            CIFAR10(str(folder.parent), train=True, download=True)
        except (RuntimeError, OSError, ValueError) as error:
            raise LicliError(f"could not download CIFAR-10 into {folder.parent} ({error})",
                             "check the network, or put the batches there yourself") from None
    result = []
    for split, files in (("train", BATCH_FILES[:5]), ("test", BATCH_FILES[5:])):
        parts = [_read_batch(folder / file) for file in files]
        images, labels = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
        keep = np.arange(len(labels)) if sample is None else stratified_indices(labels, sample.per_class(split),
                                                                                sample.seed)
        result.append(_split(images[keep], labels[keep]))
    return result[0], result[1]


def _require_both_splits(listing: dict[str, list], where: Path) -> None:
    empty = [split for split in SPLITS if not listing[split]]
    if empty:
        raise LicliError(f"{where} holds no {' or '.join(empty)} images",
                         "expected {train,test}/<class>/*.jpg|png inside; restore the complete copy")


def _folder_listing(folder: Path) -> dict[str, list[Path]]:
    listing = {split: sorted(path for path in (folder / split).glob("*/*") if path.suffix.lower() in IMAGE_SUFFIXES)
               for split in SPLITS}
    _require_both_splits(listing, folder)
    return listing


def _listing_digest(folder: Path, listing: dict[str, list[Path]]) -> str:
    """A cache key for image folders: the folder, and every file's relative path, size and modification time."""
    digest = hashlib.sha256(f"{folder.resolve()}\n".encode())
    for split, paths in listing.items():
        for path in paths:
            stat = path.stat()
            digest.update(f"{split}/{path.parent.name}/{path.name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _read_folders(folder: Path, listing: dict[str, list[Path]], sample: Sample | None) -> tuple[Split, Split]:
    result = []
    for split in SPLITS:
        entries = [(path.name, _class_index(path.parent.name, split, folder), path) for path in listing[split]]
        result.append(_split_from_listing(entries, sample and sample.per_class(split),
                                          sample.seed if sample else 0, lambda path: path.read_bytes()))
    return result[0], result[1]


def _read_archive(archive: Path, sample: Sample | None) -> tuple[Split, Split]:
    """Read every image of the archive into memory (≈ 20 MB compressed), then decode the kept ones."""
    listing: dict[str, list] = {split: [] for split in SPLITS}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = Path(member.name).parts
                if not member.isfile() or len(parts) < 4 or parts[-3] not in SPLITS \
                        or Path(parts[-1]).suffix.lower() not in IMAGE_SUFFIXES:
                    continue
                blob = tar.extractfile(member).read()
                listing[parts[-3]].append((parts[-1], _class_index(parts[-2], parts[-3], archive), blob))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise LicliError(f"cannot read the CIFAR-10 archive {archive} ({error})",
                         "the archive is corrupt or truncated: restore it from its source") from None
    _require_both_splits(listing, archive)
    splits = [_split_from_listing(listing[split], sample and sample.per_class(split),
                                  sample.seed if sample else 0, lambda blob: blob) for split in SPLITS]
    return splits[0], splits[1]


CACHE_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")


def _cached(key: str, build: Callable[[], tuple[Split, Split]]) -> tuple[Split, Split]:
    """Load the decoded arrays of ``key`` from the cache, or build and cache them (``cached_arrays``)."""
    def arrays() -> dict[str, np.ndarray]:
        train, test = build()
        return dict(zip(CACHE_ARRAYS, (t.numpy() for t in (train.images, train.labels, test.images, test.labels))))

    loaded = {name: torch.from_numpy(array)
              for name, array in cached_arrays("cifar10", key, CACHE_ARRAYS, arrays).items()}
    return Split(loaded["train_images"], loaded["train_labels"]), Split(loaded["test_images"], loaded["test_labels"])


def _missing(root: Path) -> LicliError:
    return LicliError(
        f"CIFAR-10 not found in {root}: expected {BATCHES_FOLDER}/{{{','.join(BATCH_FILES)}}} (torchvision), "
        f"or {{{','.join(FOLDER_NAMES)}}}/{{train,test}}/<class>/*.jpg|png (image folders), or {ARCHIVE_NAME}",
        "put one of them there, point data_dir=… or LICLI_DATA_DIR at their root, or pass download=True",
        field="data_dir", also=("download",))


def read_cifar10(root: Path, download: bool = False, sample: Sample | None = None) -> Dataset:
    """Find CIFAR-10 under ``root`` in one of the three layouts and load it (or ``sample`` of it)."""
    name = "cifar10" if sample is None else "cifar10-mini"
    batches = root / BATCHES_FOLDER
    folders = [root / folder for folder in FOLDER_NAMES if (root / folder / "train").is_dir()]
    archive = root / ARCHIVE_NAME
    hashes: dict[str, str] = {}
    if all((batches / file).exists() for file in BATCH_FILES) or (download and not folders and not archive.exists()):
        train, test = _read_batches(batches, sample, download)
        files = {f"cifar10/{file}": str(batches / file) for file in BATCH_FILES}
    elif folders:
        listing = _folder_listing(folders[0])
        key = f"folders-{_listing_digest(folders[0], listing)[:32]}" + ("" if sample is None else f"-{sample.key()}")
        train, test = _cached(key, lambda: _read_folders(folders[0], listing, sample))
        files = {}
    elif archive.exists():
        digest = sha256_file(archive)
        key = digest[:32] + ("" if sample is None else f"-{sample.key()}")
        train, test = _cached(key, lambda: _read_archive(archive, sample))
        files = {f"cifar10/{ARCHIVE_NAME}": str(archive)}
        hashes = {f"cifar10/{ARCHIVE_NAME}": digest}
    else:
        raise _missing(root)
    return Dataset(name=name, train=train, test=test, num_classes=10, classes=CIFAR10_CLASSES, files=files,
                   hashes=hashes)


def load_cifar10(root: Path, download: bool = False) -> Dataset:
    """All 50,000 training and 10,000 test images."""
    return read_cifar10(root, download)


def load_cifar10_mini(root: Path, download: bool = False) -> Dataset:
    """A seeded stratified sample of CIFAR-10: 2,000 training and 500 test images (see ``MINI``)."""
    return read_cifar10(root, download, MINI)
