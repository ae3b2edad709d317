"""Shared fixtures: tiny data and models, the CLI runner, and the optional full-data root.

Full-dataset tests run when ``LICLI_DATA_DIR`` points at a root holding ``MNIST/raw`` (CI sets it to
``../shared/data``); otherwise they are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from licli.data import Dataset, Split


@pytest.fixture(autouse=True, scope="session")
def _temporary_cache(tmp_path_factory):
    """Decoded datasets (cifar10) are cached in a session folder, never in the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LICLI_CACHE_DIR", str(tmp_path_factory.mktemp("licli-cache")))
        yield


@pytest.fixture(autouse=True)
def _single_thread_determinism():
    torch.manual_seed(0)
    yield


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def data_root() -> Path:
    root = os.environ.get("LICLI_DATA_DIR")
    if not root or not (Path(root) / "MNIST" / "raw").exists():
        pytest.skip("LICLI_DATA_DIR with MNIST/raw is not set")
    return Path(root)


def tiny_dataset(n_train: int = 64, n_test: int = 32, channels: int = 1, size: int = 8,
                 num_classes: int = 3, seed: int = 0) -> Dataset:
    """A random uint8 dataset whose label is recoverable from the mean brightness (learnable)."""
    g = torch.Generator().manual_seed(seed)

    def split(n: int) -> Split:
        labels = torch.randint(num_classes, (n,), generator=g)
        base = (labels.float() + 0.5) / num_classes * 255
        noise = torch.randn(n, channels, size, size, generator=g) * 20
        images = (base.view(n, 1, 1, 1) + noise).clamp(0, 255).to(torch.uint8)
        return Split(images, labels)

    return Dataset(name="tiny", train=split(n_train), test=split(n_test), num_classes=num_classes,
                   classes=tuple(str(i) for i in range(num_classes)))


@pytest.fixture
def tiny_data() -> Dataset:
    return tiny_dataset()
