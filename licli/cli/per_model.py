"""What every multi-model evaluation command shares: load, record, evaluate each model, stack, write."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import torch
from torch import nn

from licli.cli.app import recorded_run
from licli.config import RunOptions
from licli.data import Dataset, load_dataset
from licli.sources import ModelSource, check_fits, load_models_for
from licli.reporting.console import PartProgress
from licli.reporting.summary import with_identities, write_summary
from licli.runs import Run
from licli.runtime import first_batch_size, largest_batch_that_fits


class Evaluation(Protocol):
    """The shape of every per-model evaluation's entry point (``licli.evaluations.<name>.run``)."""

    def __call__(self, model: nn.Module, data: Dataset, *, device: torch.device, config: Any) -> pd.DataFrame: ...


def evaluate_each(sources: list[ModelSource], *, dataset: str | None, data_dir: str | None, device: torch.device,
                  run: Run, evaluation: Callable[[nn.Module, Dataset], pd.DataFrame]
                  ) -> tuple[Dataset, pd.DataFrame]:
    """Load every model (recording it and the dataset in the run), apply ``evaluation(model, data)`` to each,
    and return the dataset and the results stacked with a leading ``model`` column."""
    progress = PartProgress()
    models, data = load_models_for(sources, device, dataset,
                                   lambda name: load_dataset(name, data_dir, on_progress=progress))
    run.record_dataset(data)
    for loaded in models:
        check_fits(loaded, data)
    frames = []
    for loaded in models:
        run.record_model(loaded)
        frames.append(evaluation(loaded.model, data).assign(model=loaded.label))
    result = pd.concat(frames, ignore_index=True)
    return data, result[["model", *[c for c in result.columns if c != "model"]]]


@dataclass(frozen=True)
class PerModelCommandConfig:
    """What a per-model evaluation records as its config: the models, the dataset and its settings."""

    models: list[str]
    dataset: str | None
    settings: dict[str, Any]
    batch_size_auto: bool = False


def run_per_model(command: str, sources: list[ModelSource], options: RunOptions, *, dataset: str | None,
                  settings: Any, seed: int | None, evaluation: Evaluation, csv: str,
                  summary_rows: Callable[[pd.DataFrame], pd.DataFrame], batch_size_auto: bool = False
                  ) -> tuple[Path, pd.DataFrame]:
    """A whole per-model evaluation run: ``evaluation(model, data, device=…, config=settings)`` for every
    model, its stacked table as ``csv`` and the contract's ``summary.csv`` from ``summary_rows`` in the run
    folder ``evaluate-<command>``; returns the folder and the table.

    ``batch_size_auto`` (``--batch-size auto``; ``settings`` has ``batch_size`` and ``n``): each model is
    evaluated with the largest batch that fits (``settings.n`` images at once on CUDA, ``settings.batch_size``
    on a CPU, halved after each out-of-memory error); the sizes used are the manifest's ``batch_size``."""
    config = PerModelCommandConfig([s.describe() for s in sources], dataset, asdict(settings), batch_size_auto)
    used: list[int] = []

    def evaluate(net: nn.Module, data: Dataset, device: torch.device) -> pd.DataFrame:
        start = first_batch_size(device, settings.n, settings.batch_size) if batch_size_auto else settings.batch_size
        frame, size = largest_batch_that_fits(
            lambda batch_size: evaluation(net, data, device=device, config=replace(settings, batch_size=batch_size)),
            start, back_off=batch_size_auto)
        used.append(size)
        return frame

    with recorded_run(f"evaluate-{command}", config, options, seed=seed) as (device, run):
        _, result = evaluate_each(sources, dataset=dataset, data_dir=options.data_dir, device=device, run=run,
                                  evaluation=lambda net, data: evaluate(net, data, device))
        run.note("batch_size", dict(zip(pd.unique(result["model"]), used)))
        run.write_csv(csv, result)
        write_summary(run, with_identities(summary_rows(result), run.models))
    return run.path, result
