"""The loop every multi-model evaluation command shares: load, record, evaluate each model, stack."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import torch
from torch import nn

from licli.data import Dataset, load_dataset
from licli.models.sources import ModelSource, load_models
from licli.reporting.files import RunFolder


def evaluate_each(sources: list[ModelSource], *, dataset: str | None, data_dir: str | None, device: torch.device,
                  run: RunFolder, evaluation: Callable[[nn.Module, Dataset], pd.DataFrame]
                  ) -> tuple[Dataset, pd.DataFrame]:
    """Load every model (hashing its files into the manifest), apply ``evaluation(model, data)`` to each,
    and return the dataset and the results stacked with a leading ``model`` column."""
    models = load_models(sources, device)
    data = load_dataset(dataset or models[0].dataset or "mnist-mini", data_dir)
    run.record_dataset(data.files)
    frames = []
    for loaded in models:
        run.record_model(loaded.label, loaded.files)
        frames.append(evaluation(loaded.model, data).assign(model=loaded.label))
    result = pd.concat(frames, ignore_index=True)
    return data, result[["model", *[c for c in result.columns if c != "model"]]]
