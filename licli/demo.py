"""``licli demo``: train ``small-cnn`` on the embedded ``mnist-mini`` sample and evaluate it, offline.

The demo is the whole pipeline in miniature: seeded training (``licli.training.fit``), a checkpoint,
then every evaluation in ``DEMO_EVALUATIONS``. Later evaluations join the demo by adding an entry:
a function ``(model, data, *, device) -> DataFrame`` (tidy, never printing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from licli.config import TrainConfig
from licli.data import Dataset, load_dataset
from licli.evaluations.accuracy import accuracy
from licli.models import ModelSpec
from licli.training import Progress, fit

DemoEvaluation = Callable[..., pd.DataFrame]
"""``(model, data, *, device) -> DataFrame``: one evaluation of the trained demo model."""

DEMO_EVALUATIONS: dict[str, DemoEvaluation] = {
    "accuracy": accuracy,
}


def demo_config(seed: int = 0, epochs: int = 2) -> TrainConfig:
    """The demo's training recipe: the LI paper's small CNN (§4.1.1) on ``mnist-mini``.

    SGD (lr 0.05, momentum 0.9, batch 128) reaches ≈ 96% test accuracy after 2 epochs (≈ 20,000
    training images, well under a minute on a 2-core CPU).
    """
    return TrainConfig(model="small-cnn", dataset="mnist-mini", epochs=epochs, batch_size=128,
                       optimizer="sgd", lr=0.05, momentum=0.9, seed=seed)


@dataclass(frozen=True)
class DemoResult:
    model: nn.Module
    spec: ModelSpec
    data: Dataset
    history: pd.DataFrame
    """One row per epoch (see ``licli.training.train``)."""
    evaluations: dict[str, pd.DataFrame]
    """Evaluation name → its DataFrame, in ``DEMO_EVALUATIONS`` order."""


def run_demo(config: TrainConfig, *, device: torch.device, run_dir: Path | None = None,
             progress: Progress | None = None) -> DemoResult:
    """Train ``config`` on its (embedded) dataset, then run every evaluation in ``DEMO_EVALUATIONS``."""
    data = load_dataset(config.dataset)
    model, spec, history = fit(config, data, device=device, run_dir=run_dir, progress=progress)
    evaluations = {name: evaluate(model, data, device=device) for name, evaluate in DEMO_EVALUATIONS.items()}
    return DemoResult(model, spec, data, history, evaluations)
