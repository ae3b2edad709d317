"""Activation statistics at the model's slots (NormOut Tables 3.2–3.3): mean, max, standard deviation,
variance and sparsity of each slot's output over ``n`` images.

Choices: the statistics are over all elements (samples × units) of the slot output, with the model in
eval mode after training (the thesis reports an exponential moving average during training);
sparsity is the fraction of elements exactly equal to zero; the variance is the population variance.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from licli.data import Dataset, batches
from licli.errors import LicliError
from licli.models import model_slots
from licli.contract import setting


@dataclass(frozen=True)
class ActivationConfig:
    n: int = 1000
    split: str = "test"
    batch_size: int = 500

    def __post_init__(self) -> None:
        if self.n <= 0:
            raise LicliError(f"n must be > 0 (got {self.n})", "pass e.g. n=1000", field="n")
        if self.batch_size <= 0:
            raise LicliError(f"batch_size must be > 0 (got {self.batch_size})", "pass e.g. batch_size=500",
                             field="batch_size")
        if self.split not in ("test", "train"):
            raise LicliError(f"unknown split {self.split!r}", "choose test or train")


@contextmanager
def _sums_at_slots(model: nn.Module) -> Iterator[dict[str, torch.Tensor]]:
    """Accumulate [count, Σx, Σx², max, zeros] (float64, on the device) of each slot's output."""
    sums: dict[str, torch.Tensor] = {}

    def hook_for(name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            x = output.detach().double()
            row = torch.stack([torch.tensor(x.numel(), dtype=torch.float64, device=x.device), x.sum(),
                               x.square().sum(), x.max(), (x == 0).sum().double()])
            if name in sums:
                previous = sums[name]
                sums[name] = torch.cat([previous[:3] + row[:3], torch.maximum(previous[3:4], row[3:4]),
                                        previous[4:] + row[4:]])
            else:
                sums[name] = row
        return hook

    handles = [slot.register_forward_hook(hook_for(name)) for name, slot in model_slots(model).items()]
    try:
        yield sums
    finally:
        for handle in handles:
            handle.remove()


def run(model: nn.Module, data: Dataset, *, device: torch.device,
        config: ActivationConfig = ActivationConfig()) -> pd.DataFrame:
    """One row per slot: mean, max, std, variance, sparsity of its output, and the element count."""
    if not model_slots(model):
        raise LicliError("the model has no slots to measure", "evaluate a licli model (mlp, small-cnn, vgg16, resnet18)")
    split = data.test if config.split == "test" else data.train
    n = min(config.n, len(split))
    was_training = model.training
    model.eval()
    with torch.no_grad(), _sums_at_slots(model) as sums:
        for x, _, _ in batches(split.subset(torch.arange(n)).to(device), config.batch_size, device=device):
            model(x)
    model.train(was_training)
    rows = []
    for slot, (count, total, squares, largest, zeros) in ((k, v.tolist()) for k, v in sums.items()):
        mean = total / count
        variance = max(squares / count - mean ** 2, 0.0)
        rows.append({"slot": slot, "n": n, "elements": int(count), "mean": mean, "max": largest,
                     "std": variance ** 0.5, "variance": variance, "sparsity": zeros / count})
    return pd.DataFrame(rows)


SUMMARY_METRICS = {"activation_mean": "mean", "activation_variance": "variance", "activation_sparsity": "sparsity"}
"""NormOut Tables 3.2–3.3's columns as report-contract metrics (their direction is descriptive, not better)."""


def summary_rows(result: pd.DataFrame) -> pd.DataFrame:
    """The report contract's rows of ``run`` frames stacked over models (column ``model``): mean,
    variance and sparsity of each slot's output, in setting ``slot=…``."""
    return pd.DataFrame([{"model": r["model"], "metric": metric, "value": r[column], "setting": setting(slot=r["slot"])}
                         for r in result.to_dict(orient="records") for metric, column in SUMMARY_METRICS.items()])
