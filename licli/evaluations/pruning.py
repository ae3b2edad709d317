"""L1 (magnitude) unstructured pruning curves (Gradient Mask §3.3.1, Fig. 5).

At each level s the fraction s of conv and linear weights with the smallest |w| is set to zero, either
within each layer (``layerwise``: round(s·nₗ) weights of each layer) or across all of them (``global``:
round(s·N) weights of the whole network). Ties in |w| are broken by position (stable sort), so the
count pruned is exact and the masks are deterministic. Biases and normalisation parameters are kept
(the paper prunes "weights"). Magnitudes are sorted once; the weights are masked in place level by
level (levels ascending, each mask contains the previous one) and restored bit-for-bit at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import time

import pandas as pd
import torch
from scipy.integrate import trapezoid
from torch import nn

from licli.data import Dataset, Split
from licli.data.core import on_device
from licli.errors import CheckFailed, LicliError
from licli.evaluations.functional import select_parameters
from licli.parsing import comma_list
from licli.progress import OnProgress, Parts
from licli.registry import pick
from licli.contract import setting
from licli.training.loop import evaluate

DEFAULT_LEVELS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
RobustAccuracy = Callable[[nn.Module, Split], float]
"""Hook for robust accuracy under one attack at each level: ``(pruned model, split) -> accuracy``."""


Group = tuple[tuple[str, ...], torch.Tensor]
"""Layers pruned together, and the order (ascending |w|, stable) of their concatenated weights."""


SORTABLE_BITS = {torch.float64: torch.int64, torch.float32: torch.int32, torch.float16: torch.int16,
                 torch.bfloat16: torch.int16}


def magnitude_order(magnitudes: torch.Tensor) -> torch.Tensor:
    """``argsort(magnitudes, stable=True)`` for non-negative floats, sorted as their IEEE-754 bit patterns:
    those order exactly like the numbers, and torch sorts integers about 3× faster (15.8 M weights:
    0.9 s instead of 3.0 s on 2 CPU cores)."""
    bits = SORTABLE_BITS.get(magnitudes.dtype)
    return torch.argsort(magnitudes.view(bits) if bits is not None else magnitudes, stable=True)


def _layerwise_groups(weights: dict[str, torch.Tensor]) -> list[Group]:
    return [((name,), magnitude_order(w.abs().flatten())) for name, w in weights.items()]


def _global_groups(weights: dict[str, torch.Tensor]) -> list[Group]:
    magnitudes = torch.cat([w.abs().flatten() for w in weights.values()])
    return [(tuple(weights), magnitude_order(magnitudes))]


SCOPES: dict[str, Callable[[dict[str, torch.Tensor]], list[Group]]] = {
    "layerwise": _layerwise_groups,
    "global": _global_groups,
}


@dataclass(frozen=True)
class PruneConfig:
    scope: str = "global"
    levels: tuple[float, ...] = DEFAULT_LEVELS
    split: str = "test"
    batch_size: int = 1000

    def __post_init__(self) -> None:
        pick(SCOPES, self.scope, "pruning scope")
        if not self.levels:
            raise LicliError("no pruning level given", "pass e.g. levels=0,0.5,0.9", field="levels")
        bad = [level for level in self.levels if not 0 <= level < 1]
        if bad:
            raise LicliError(f"levels must be in [0, 1) (got {bad[0]})", "pass e.g. levels=0,0.5,0.9",
                             field="levels")
        if self.batch_size <= 0:
            raise LicliError(f"batch_size must be > 0 (got {self.batch_size})", "pass e.g. batch_size=1000",
                             field="batch_size")
        if self.split not in ("test", "train"):
            raise LicliError(f"unknown split {self.split!r}", "choose test or train")


def parse_levels(text: str) -> tuple[float, ...]:
    return comma_list(text, "levels", float, example="0,0.5,0.9")


@contextmanager
def pruned(model: nn.Module, levels: Sequence[float], scope: str) -> Iterator[Iterator[tuple[float, list[Group]]]]:
    """Yield an iterator over the ascending ``levels`` (with the scope's groups); while it is at a level,
    the model's conv and linear weights are pruned to that level. All weights are restored on exit."""
    weights = select_parameters(model, "weights")
    if not weights:
        raise LicliError("the model has no conv or linear weights to prune", "evaluate another model")
    original = {name: w.clone() for name, w in weights.items()}
    groups = pick(SCOPES, scope, "pruning scope")(weights)

    def steps() -> Iterator[tuple[float, list[Group]]]:
        done = [0] * len(groups)
        for level in sorted(levels):
            for index, (names, order) in enumerate(groups):
                k = round(level * order.numel())
                newly, done[index], start = order[done[index]:k], k, 0
                for name in names:
                    weight = weights[name]
                    # the weight in its logical order: a view, or a copy written back for channels_last weights
                    flat = weight.view(-1) if weight.is_contiguous() else weight.flatten()
                    inside = newly[(newly >= start) & (newly < start + flat.numel())] if len(names) > 1 else newly
                    flat[inside - start] = 0
                    if not weight.is_contiguous():
                        weight.copy_(flat.view_as(weight))
                    start += flat.numel()
            yield level, groups

    try:
        yield steps()
    finally:
        for name, w in weights.items():
            w.copy_(original[name])


def _zero_counts(weights: dict[str, torch.Tensor]) -> dict[str, int]:
    return dict(zip(weights, torch.stack([(w == 0).sum() for w in weights.values()]).tolist()))


def run(model: nn.Module, data: Dataset, *, device: torch.device, config: PruneConfig = PruneConfig(),
        robust_accuracy: RobustAccuracy | None = None, on_progress: OnProgress | None = None,
        label: str = "") -> pd.DataFrame:
    """One row per level × layer (``layer == "all"`` for the whole network): the requested level, the
    weights that are zero (measured), the achieved sparsity (their fraction), and on the ``all`` rows the
    level's clean accuracy and loss (and ``robust_accuracy`` when the hook is given) and the seconds the
    level took. ``on_progress`` hears of each finished level (``licli.progress``; ``label`` names the model).

    Weights already zero sort first, so pruning k = round(level·n) weights of a group (a layer, or the
    whole network for ``global``) leaves exactly max(k, zeros before) zeros in it; CheckFailed if not."""
    split = on_device(data.test if config.split == "test" else data.train, device)
    weights = select_parameters(model, "weights")
    sizes = {name: w.numel() for name, w in weights.items()}
    total = sum(sizes.values())
    zeros_before = _zero_counts(weights)
    rows = []
    parts = Parts("prune levels", len(config.levels), on_progress)
    with pruned(model, config.levels, config.scope) as levels:
        for level, groups in levels:
            started = time.perf_counter()
            zeros = _zero_counts(weights)
            for names, order in groups:
                expected = max(round(level * order.numel()), sum(zeros_before[name] for name in names))
                if sum(zeros[name] for name in names) != expected:
                    raise CheckFailed(f"{sum(zeros[name] for name in names)} weights of {', '.join(names)} are "
                                      f"zero at level {level}, expected {expected}", "report this as a bug")
            metrics = evaluate(model, split, device=device, batch_size=config.batch_size)
            if robust_accuracy is not None:
                metrics["robust_accuracy"] = float(robust_accuracy(model, split))
            seconds = time.perf_counter() - started
            parts.finished(f"{label}level {level:g}", seconds)
            rows.append({"level": level, "layer": "all", "size": total, "zeros": sum(zeros.values()),
                         "sparsity": sum(zeros.values()) / total, **metrics, "seconds": seconds})
            rows += [{"level": level, "layer": name, "size": sizes[name], "zeros": zeros[name],
                      "sparsity": zeros[name] / sizes[name]} for name in sizes]
    return pd.DataFrame(rows)


def curve_area(curve: pd.DataFrame, metric: str = "accuracy") -> float:
    """Area under ``metric`` vs achieved sparsity (trapezoid rule) over the levels evaluated."""
    ordered = curve.sort_values("sparsity")
    return float(trapezoid(ordered[metric].to_numpy(), ordered["sparsity"].to_numpy()))


def summary_rows(curve: pd.DataFrame, *, scope: str, dataset: str, split: str) -> pd.DataFrame:
    """The report contract's rows (docs/report-contract.md) of the ``layer == "all"`` rows of ``run``,
    stacked over models (column ``model``).

    Per model: ``pruned_accuracy`` per level (setting ``scope=…;sparsity=<requested level>``: the level
    asked for, not the achieved sparsity, so that models compare on one grid), ``robust_accuracy`` per
    level when it was measured, ``pruning_auc`` (``scope=…``, ``curve_area``) and, for level 0, the
    unpruned ``clean_accuracy`` (``dataset=…;split=…``, as ``licli train`` reports it).
    """
    rows = []
    for model, part in curve.groupby("model", sort=False):
        for record in part.to_dict(orient="records"):
            where = setting(scope=scope, sparsity=float(record["level"]))
            rows.append({"model": model, "metric": "pruned_accuracy", "setting": where, "value": record["accuracy"]})
            if "robust_accuracy" in record:
                rows.append({"model": model, "metric": "robust_accuracy", "setting": where,
                             "value": record["robust_accuracy"]})
            if record["level"] == 0:
                rows.append({"model": model, "metric": "clean_accuracy", "setting": setting(dataset=dataset, split=split),
                             "value": record["accuracy"]})
        rows.append({"model": model, "metric": "pruning_auc", "setting": setting(scope=scope),
                     "value": curve_area(part)})
    return pd.DataFrame(rows)
