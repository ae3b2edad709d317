"""CIFAR-10 layouts (archive, image folders), the seeded sample, the decoded-array cache, missing data."""

import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from licli.cli import app
from licli.data import cifar10, load_dataset
from licli.data.cifar10 import CIFAR10_CLASSES, Sample, read_cifar10, stratified_indices
from licli.errors import LicliError

PER_CLASS = {"train": 6, "test": 3}


def synthetic_images(split: str, label: int) -> list[np.ndarray]:
    g = np.random.default_rng([list(PER_CLASS).index(split), label])
    return [g.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(PER_CLASS[split])]


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")  # lossless: decoded pixels must equal these
    return buffer.getvalue()


@pytest.fixture
def synthetic(tmp_path, monkeypatch):
    """The same tiny CIFAR-10-shaped data as an archive root and as an image-folder root."""
    monkeypatch.setenv("LICLI_CACHE_DIR", str(tmp_path / "cache"))
    expected, archive_root, folder_root = {}, tmp_path / "archive", tmp_path / "folders"
    archive_root.mkdir()
    with tarfile.open(archive_root / "cifar10-jpeg.tar.gz", "w:gz") as tar:
        for split in PER_CLASS:
            images, labels = [], []
            for label, name in enumerate(CIFAR10_CLASSES):
                for i, array in enumerate(synthetic_images(split, label)):
                    blob = png(array)
                    member = tarfile.TarInfo(f"cifar10-jpeg/{split}/{name}/{i:04d}.png")
                    member.size = len(blob)
                    tar.addfile(member, io.BytesIO(blob))
                    path = folder_root / "cifar10" / split / name / f"{i:04d}.png"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(blob)
                    images.append(array.transpose(2, 0, 1))
                    labels.append(label)
            expected[split] = (torch.from_numpy(np.stack(images)), torch.tensor(labels))
    return archive_root, folder_root, expected


def assert_split(split, images, labels):
    assert split.images.dtype == torch.uint8 and split.labels.dtype == torch.int64
    assert torch.equal(split.images, images) and torch.equal(split.labels, labels)


def test_archive_and_folders_decode_exactly(synthetic):
    archive_root, folder_root, expected = synthetic
    for root in (archive_root, folder_root):
        data = read_cifar10(root)
        assert data.classes == CIFAR10_CLASSES and data.num_classes == 10
        assert_split(data.train, *expected["train"])
        assert_split(data.test, *expected["test"])
    assert list(read_cifar10(archive_root).files) == ["cifar10/cifar10-jpeg.tar.gz"]


def test_sample_is_stratified_seeded_and_the_same_in_every_layout(synthetic):
    archive_root, folder_root, expected = synthetic
    sample = Sample(train_per_class=2, test_per_class=1, seed=3)
    from_archive, from_folders = read_cifar10(archive_root, sample=sample), read_cifar10(folder_root, sample=sample)
    for split, per_class in (("train", 2), ("test", 1)):
        images, labels = expected[split]
        keep = torch.from_numpy(stratified_indices(labels.numpy(), per_class, 3))
        assert torch.bincount(labels[keep]).tolist() == [per_class] * 10
        assert_split(getattr(from_archive, split), images[keep], labels[keep])
        assert_split(getattr(from_folders, split), images[keep], labels[keep])


def test_stratified_indices_depend_only_on_the_seed():
    labels = np.repeat(np.arange(10), 7)
    a, b, c = (stratified_indices(labels, 3, seed) for seed in (0, 0, 1))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert np.bincount(labels[a]).tolist() == [3] * 10 and np.all(np.diff(a) > 0)


@pytest.mark.parametrize("layout,reader", [("archive", "_read_archive"), ("folders", "_read_folders")])
def test_decoded_arrays_are_cached_atomically(synthetic, monkeypatch, tmp_path, layout, reader):
    root = {"archive": synthetic[0], "folders": synthetic[1]}[layout]
    expected = synthetic[2]
    first = read_cifar10(root)
    entries = list((tmp_path / "cache" / "cifar10").iterdir())
    assert len(entries) == 1 and not entries[0].name.startswith(".")  # no staging folder left behind
    with monkeypatch.context() as patch:
        patch.setattr(cifar10, reader, lambda *a: pytest.fail("the images were decoded again"))
        second = read_cifar10(root)
    assert_split(second.train, first.train.images, first.train.labels)
    assert_split(second.test, *expected["test"])
    if layout == "folders":  # a changed file is a new cache entry
        changed = root / "cifar10" / "test" / "cat" / "0000.png"
        os.utime(changed, ns=(0, 0))
        read_cifar10(root)
        assert len(list((tmp_path / "cache" / "cifar10").iterdir())) == 2


def test_a_folder_without_test_images_is_refused(synthetic):
    import shutil

    _, folder_root, _ = synthetic
    shutil.rmtree(folder_root / "cifar10" / "test")
    (folder_root / "cifar10" / "test").mkdir()
    with pytest.raises(LicliError, match="holds no test images"):
        read_cifar10(folder_root)


def test_missing_cifar10_names_the_expected_files(tmp_path):
    with pytest.raises(LicliError, match=r"cifar-10-batches-py/\{data_batch_1.*test_batch\}.*cifar10-jpeg\.tar\.gz"):
        load_dataset("cifar10", str(tmp_path))


def test_missing_cifar10_on_the_command_line(runner, tmp_path):
    result = runner.invoke(app, ["evaluate", "accuracy", "--model", "torchvision:resnet18", "--num-classes", "10",
                                 "--dataset", "cifar10", "--data-dir", str(tmp_path), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2
    line, = result.stderr.strip().splitlines()
    assert line.startswith("licli: error: CIFAR-10 not found") and "LICLI_DATA_DIR" in line
    assert not (tmp_path / "r").exists()


@pytest.fixture
def cifar_archive() -> Path:
    """The real archive (decoded arrays go to the session's temporary cache, shared with other tests)."""
    root = os.environ.get("LICLI_DATA_DIR")
    if not root or not (Path(root) / "cifar10-jpeg.tar.gz").exists():
        pytest.skip("LICLI_DATA_DIR with cifar10-jpeg.tar.gz is not set")
    return Path(root) / "cifar10-jpeg.tar.gz"


def decode_members(archive: Path, names: list[str]) -> np.ndarray:
    """Independent reference: Pillow on the named archive members."""
    with tarfile.open(archive, "r:gz") as tar:
        return np.stack([np.asarray(Image.open(tar.extractfile(name)).convert("RGB")) for name in names])


def test_cifar10_mini_from_the_real_archive(cifar_archive):
    data = load_dataset("cifar10-mini", str(cifar_archive.parent))
    assert (len(data.train), len(data.test)) == (2000, 500)
    assert torch.bincount(data.test.labels).tolist() == [50] * 10
    labels = np.repeat(np.arange(10), 1000)  # the test split: 1,000 files a class, NNNN.jpg
    keep = stratified_indices(labels, 50, 0)[::97]
    names = [f"cifar10-jpeg/test/{CIFAR10_CLASSES[i // 1000]}/{i % 1000:04d}.jpg" for i in keep]
    reference = decode_members(cifar_archive, names)
    rows = [int(np.flatnonzero(stratified_indices(labels, 50, 0) == i)[0]) for i in keep]
    assert np.array_equal(data.test.images[rows].permute(0, 2, 3, 1).numpy(), reference)


@pytest.mark.slow
def test_full_cifar10_from_the_real_archive_and_its_cache(cifar_archive):
    cold = load_dataset("cifar10", str(cifar_archive.parent))
    assert cold.train.images.shape == (50000, 3, 32, 32) and cold.test.images.shape == (10000, 3, 32, 32)
    assert torch.bincount(cold.train.labels).tolist() == [5000] * 10
    warm = load_dataset("cifar10", str(cifar_archive.parent))
    assert torch.equal(warm.train.images, cold.train.images) and torch.equal(warm.test.labels, cold.test.labels)
    reference = decode_members(cifar_archive, ["cifar10-jpeg/train/truck/4999.jpg"])
    assert np.array_equal(cold.train.images[-1].permute(1, 2, 0).numpy(), reference[0])


def test_torchvision_batches_are_read_without_unpickling_objects(synthetic, tmp_path):
    import argparse
    import pickle

    _, _, expected = synthetic
    folder = tmp_path / "batches" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    train_images, train_labels = expected["train"]
    chunks = np.array_split(np.arange(len(train_labels)), 5)
    for i, chunk in enumerate(chunks, 1):
        batch = {"data": train_images[chunk].reshape(len(chunk), -1).numpy(), "labels": train_labels[chunk].tolist()}
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch, protocol=2))
    test_images, test_labels = expected["test"]
    (folder / "test_batch").write_bytes(pickle.dumps(
        {"data": test_images.reshape(len(test_labels), -1).numpy(), "labels": test_labels.tolist()}, protocol=2))
    data = read_cifar10(folder.parent)
    assert_split(data.train, *expected["train"])
    assert_split(data.test, *expected["test"])
    assert set(data.files) == {f"cifar10/{name}" for name in cifar10.BATCH_FILES}

    (folder / "test_batch").write_bytes(pickle.dumps({"data": argparse.Namespace(), "labels": []}))
    with pytest.raises(LicliError, match="argparse.Namespace is not part of a CIFAR-10 batch"):
        read_cifar10(folder.parent)
