"""Fixtures shared by the CLI tests."""

import pytest
import torch

from licli.checkpoints import save_checkpoint
from licli.models import ModelSpec, build_model

TINY_CNN = ModelSpec("small-cnn", 10, 1, (28, 28), {"filters": 2, "hidden": 8})


@pytest.fixture
def checkpoint(tmp_path):
    """An untrained, seeded tiny ``small-cnn`` checkpoint for ``mnist-mini`` (what the evaluations need to run)."""
    torch.manual_seed(0)
    path = tmp_path / "ckpt" / "tiny.safetensors"
    save_checkpoint(path, build_model(TINY_CNN), TINY_CNN, extra={"dataset": "mnist-mini"})
    return path
