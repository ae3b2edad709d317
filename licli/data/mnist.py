"""MNIST from the original IDX files (torchvision layout) and the embedded ``mnist-mini`` sample."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
import torch

from licli.data.core import Dataset, Split
from licli.errors import LicliError

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
MNIST_CLASSES = tuple(str(digit) for digit in range(10))
MNIST_MINI_ASSET = "mnist_mini.npz"


def _mnist_raw_folder(root: Path) -> Path:
    return root / "MNIST" / "raw"


def _missing_mnist(root: Path) -> list[str]:
    raw = _mnist_raw_folder(root)
    return [name for name in MNIST_FILES if not (raw / name).exists() and not (raw / f"{name}.gz").exists()]


def load_mnist(root: Path, download: bool = False) -> Dataset:
    """The 60,000/10,000 MNIST split via ``torchvision.datasets.MNIST`` (download only if asked)."""
    from torchvision.datasets import MNIST

    missing = _missing_mnist(root)
    if missing and not download:
        raise LicliError(
            f"MNIST not found: expected {', '.join(missing)} in {_mnist_raw_folder(root)}",
            "put the IDX files there, point data_dir=… or LICLI_DATA_DIR at their root, or pass download=True",
            field="data_dir", also=("download",))
    try:
        train = MNIST(str(root), train=True, download=download)
        test = MNIST(str(root), train=False, download=download)
    except (RuntimeError, OSError, ValueError) as error:
        raise LicliError(f"could not read MNIST from {root} ({error})",
                         "check the IDX files or re-fetch them with download=True", field="download") from None
    raw = _mnist_raw_folder(root)
    files = {f"mnist/{name}": str(path) for name in MNIST_FILES
             for path in [raw / name if (raw / name).exists() else raw / f"{name}.gz"]}
    return Dataset(
        name="mnist",
        train=Split(train.data.unsqueeze(1).contiguous(), train.targets.long()),
        test=Split(test.data.unsqueeze(1).contiguous(), test.targets.long()),
        num_classes=10, classes=MNIST_CLASSES, files=files,
    )


def mnist_mini_path() -> Path:
    return Path(str(resources.files("licli.data") / "assets" / MNIST_MINI_ASSET))


def load_mnist_mini(root: Path | None = None, download: bool = False) -> Dataset:
    """The embedded stratified MNIST sample (10,000 train / 2,000 test); see scripts/build_mnist_mini.py."""
    path = mnist_mini_path()
    if not path.exists():
        raise LicliError(f"the embedded mnist-mini sample is missing ({path})",
                         "reinstall licli, or rebuild it with scripts/build_mnist_mini.py")
    with np.load(path) as arrays:
        train = Split(torch.from_numpy(arrays["train_images"]).unsqueeze(1).contiguous(),
                      torch.from_numpy(arrays["train_labels"]).long())
        test = Split(torch.from_numpy(arrays["test_images"]).unsqueeze(1).contiguous(),
                     torch.from_numpy(arrays["test_labels"]).long())
    return Dataset(name="mnist-mini", train=train, test=test, num_classes=10, classes=MNIST_CLASSES,
                   files={"mnist-mini": str(path)})
