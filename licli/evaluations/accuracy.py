"""Clean accuracy and loss."""

from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from licli.data import Dataset
from licli.data.core import on_device
from licli.errors import LicliError
from licli.registry import pick
from licli.training.loop import evaluate


def accuracy(model: nn.Module, data: Dataset, *, split: str = "test", device: torch.device,
             batch_size: int = 1000) -> pd.DataFrame:
    """One row: dataset, split, n, accuracy, loss (model in eval mode)."""
    chosen = pick({"test": data.test, "train": data.train}, split, "split")
    if chosen.images.shape[1:] != data.train.images.shape[1:]:
        raise LicliError("dataset images do not match", "check dataset=…", field="dataset")
    result = evaluate(model, on_device(chosen, device), device=device, batch_size=batch_size)
    return pd.DataFrame([{"dataset": data.name, "split": split, "n": len(chosen), **result}])
