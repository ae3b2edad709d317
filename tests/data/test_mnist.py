"""mnist-mini is a faithful stratified sample of MNIST; full MNIST loads when LICLI_DATA_DIR has it."""

import importlib.util
from pathlib import Path

import numpy as np
import torch

from licli.data import load_dataset
from licli.data.mnist import mnist_mini_path


def load_builder():
    path = Path(__file__).resolve().parents[2] / "scripts" / "build_mnist_mini.py"
    spec = importlib.util.spec_from_file_location("build_mnist_mini", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mnist_mini_is_class_balanced():
    data = load_dataset("mnist-mini")
    assert data.train.images.shape == (10_000, 1, 28, 28) and data.train.images.dtype == torch.uint8
    assert data.test.images.shape == (2_000, 1, 28, 28)
    assert torch.bincount(data.train.labels).tolist() == [1000] * 10
    assert torch.bincount(data.test.labels).tolist() == [200] * 10


def test_mnist_mini_equals_a_rebuild_from_the_idx_files(data_root):
    builder = load_builder()
    rebuilt = builder.build(data_root, seed=0)
    with np.load(mnist_mini_path()) as shipped:
        assert sorted(shipped.files) == sorted(rebuilt)
        for name, array in rebuilt.items():
            assert np.array_equal(shipped[name], array), name
    full = load_dataset("mnist", str(data_root))
    index = torch.from_numpy(rebuilt["test_source_index"].astype(np.int64))
    assert torch.equal(full.test.images[index, 0], torch.from_numpy(rebuilt["test_images"]))


def test_full_mnist_loads(data_root):
    data = load_dataset("mnist", str(data_root))
    assert len(data.train) == 60_000 and len(data.test) == 10_000
    assert data.train.images.shape[1:] == (1, 28, 28) and data.train.images.dtype == torch.uint8
    # 1,135 of the 10,000 test digits are ones (11.35%), the best a constant classifier can do.
    assert int((data.test.labels == 1).sum()) == 1135
    assert set(data.files) == {f"mnist/{name}" for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
