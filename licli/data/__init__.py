"""Datasets by name, loaded once as uint8 tensors and batched on the device.

``DATASETS`` maps a name to a loader ``(root: Path, download: bool) -> Dataset``.
"""

from __future__ import annotations

from licli.data.cifar10 import load_cifar10, load_cifar10_mini
from licli.data.colored_mnist import load_colored_mnist, load_colored_mnist_mini
from licli.data.core import Dataset, Split, batches, cache_dir, resolve_data_dir
from licli.data.image_folder import PREFIX, load_image_folder
from licli.data.boxes import BoxedDataset, split_boxes, split_ids
from licli.data.mnist import load_mnist, load_mnist_mini
from licli.data.mnist_loc import load_mnist_loc
from licli.data.oracle import ORACLE_BASES, with_oracle
from licli.data.voc import load_voc2007
from licli.progress import OnProgress
from licli.registry import pick

DATASETS = {
    "mnist": load_mnist,
    "mnist-mini": load_mnist_mini,
    "cifar10": load_cifar10,
    "cifar10-mini": load_cifar10_mini,
    "mnist-loc": load_mnist_loc,
    "voc2007": load_voc2007,
    "colored-mnist": load_colored_mnist,
    "colored-mnist-mini": load_colored_mnist_mini,
}
DATASETS.update({name: lambda root, download, base=DATASETS[base]: with_oracle(base(root, download))
                 for name, base in ORACLE_BASES.items()})


def load_dataset(name: str, data_dir: str | None = None, download: bool = False,
                 on_progress: OnProgress | None = None) -> Dataset:
    """Load dataset ``name`` from ``data_dir`` (else ``$LICLI_DATA_DIR``, else the user cache), or the user's
    ``imagefolder:PATH`` (``on_progress`` hears of each image it decodes)."""
    if name.startswith(PREFIX):
        return load_image_folder(name, on_progress)
    loader = pick(DATASETS, name, "dataset")
    return loader(resolve_data_dir(data_dir), download)


__all__ = ["DATASETS", "BoxedDataset", "Dataset", "Split", "batches", "cache_dir", "load_dataset", "resolve_data_dir",
           "split_boxes", "split_ids"]
