"""Models × metrics comparison: values aggregated over seeds (mean ± std), laid out one table per metric.

A model is its label *and* its training configuration (``licli.reporting.summary.training_key``):
runs of one label trained differently (another lr, more epochs) are different experiments and stay
separate rows, labelled with what differs (``small-cnn [lr=0.002]``). Models whose ``degenerate``
metric is set in any seed are marked ``DEGENERATE`` in every table: their robustness is no win.
"""

from __future__ import annotations

import json
import math

import pandas as pd

from licli.contract import setting_key

AGGREGATE_COLUMNS = ("model", "metric", "setting", "direction", "seeds", "mean", "std", "training")
NOT_RECORDED = "training not recorded"
DEGENERATE_MARK = " (DEGENERATE)"


def base_label(model: str) -> str:
    """The label without the training suffix ``distinguish_trainings`` adds (labels hold no spaces)."""
    return model.split(" [", 1)[0]


def _describe(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def distinguish_trainings(metrics: pd.DataFrame) -> pd.DataFrame:
    """``metrics`` with each label that was trained in more than one way split into one label per
    training configuration: ``<label> [key=value, …]`` naming the fields that differ between them
    (``[training not recorded]`` for rows without one). Labels trained one way are unchanged."""
    if metrics.empty or "training" not in metrics.columns:
        return metrics
    trainings = [t if isinstance(t, str) and t else None for t in metrics["training"]]
    renamed: dict[tuple[str, str | None], str] = {}
    for model in dict.fromkeys(metrics["model"]):
        keys = list(dict.fromkeys(t for m, t in zip(metrics["model"], trainings) if m == model))
        if len(keys) < 2:
            continue
        configs = {key: json.loads(key) for key in keys if key is not None}
        fields = sorted({name for config in configs.values() for name in config})
        differing = [name for name in fields if len({_describe(c.get(name)) for c in configs.values()}) > 1]
        for key in keys:
            if key is None:
                renamed[(model, key)] = f"{model} [{NOT_RECORDED}]"
            elif differing:
                renamed[(model, key)] = f"{model} [" + ", ".join(
                    f"{name}={_describe(configs[key].get(name))}" for name in differing) + "]"
    return metrics.assign(model=[renamed.get((m, t), m) for m, t in zip(metrics["model"], trainings)],
                          training=trainings)


def degenerate_models(aggregated: pd.DataFrame) -> set[str]:
    """Models whose ``degenerate`` metric (written by ``licli attack``) is above 0: degenerate in some seed."""
    rows = aggregated[aggregated["metric"] == "degenerate"]
    return set(rows.loc[rows["mean"] > 0, "model"])


def aggregate(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample standard deviation of each (model, metric, setting) over seeds.

    Models are first told apart by training configuration (``distinguish_trainings``). Rows of one
    seed (e.g. the clean accuracy written by ``train`` and again by ``evaluate accuracy``) are averaged
    first, so ``seeds`` counts distinct seeds and the std is the spread across seeds. Rows without a
    seed count as one seed per run. ``std`` is NaN for a single seed.
    """
    if metrics.empty:
        return pd.DataFrame(columns=AGGREGATE_COLUMNS)
    frame = distinguish_trainings(metrics.copy())
    if "training" not in frame.columns:
        frame["training"] = None
    run = frame["run"] if "run" in frame.columns else pd.Series(range(len(frame)), index=frame.index)
    frame["seed_key"] = [f"seed:{s}" if s is not None and not (isinstance(s, float) and math.isnan(s))
                         else f"run:{r}" for s, r in zip(frame["seed"], run)]
    frame["setting_key"] = frame["setting"].map(setting_key)  # settings match by value (eps=8/255 in any spelling)
    keys = ["model", "metric", "setting_key"]
    per_seed = frame.groupby([*keys, "seed_key"], sort=False).agg(value=("value", "mean"),
                                                                    setting=("setting", "first"),
                                                                    direction=("direction", "first"),
                                                                    training=("training", "first"))
    grouped = per_seed.reset_index().groupby(keys, sort=False)
    result = grouped.agg(setting=("setting", "first"), direction=("direction", "first"), seeds=("seed_key", "nunique"),
                         mean=("value", "mean"), std=("value", "std"), training=("training", "first")).reset_index()
    return result[list(AGGREGATE_COLUMNS)].sort_values(["metric", "setting", "model"], ignore_index=True)


def format_cell(mean: float, std: float, seeds: int) -> str:
    """``0.9765`` for one seed, ``0.9765 ± 0.0021`` for several (NaN → ``—``)."""
    if isinstance(mean, float) and math.isnan(mean):
        return "—"
    if seeds > 1 and not math.isnan(std):
        return f"{mean:.4g} ± {std:.2g}"
    return f"{mean:.4g}"


def metric_tables(aggregated: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """One wide table per metric: rows = models, columns = settings, cells = mean ± std.

    Each table has a ``seeds`` column (the most seeds any cell of the row aggregates). The metric's
    direction is in ``table.attrs["direction"]``. Degenerate models (``degenerate_models``) have
    `` (DEGENERATE)`` after their label.
    """
    tables: dict[str, pd.DataFrame] = {}
    degenerate = degenerate_models(aggregated)
    for metric, rows in aggregated.groupby("metric", sort=True):
        cells = rows.assign(cell=[format_cell(m, s, n) for m, s, n in zip(rows["mean"], rows["std"], rows["seeds"])],
                            setting=rows["setting"].replace("", "value"))
        wide = cells.pivot(index="model", columns="setting", values="cell").fillna("—")
        wide.columns.name = None
        seeds = rows.groupby("model")["seeds"].max()
        wide.insert(0, "seeds", seeds.reindex(wide.index).astype(int))
        table = wide.reset_index()
        table["model"] = [m + DEGENERATE_MARK if m in degenerate else m for m in table["model"]]
        table.attrs["direction"] = str(rows["direction"].iloc[0])
        tables[str(metric)] = table
    return tables
