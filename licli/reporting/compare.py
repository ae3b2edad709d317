"""Models × metrics comparison: values aggregated over seeds (mean ± std), laid out one table per metric."""

from __future__ import annotations

import math

import pandas as pd

AGGREGATE_COLUMNS = ("model", "metric", "setting", "direction", "seeds", "mean", "std")


def aggregate(metrics: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample standard deviation of each (model, metric, setting) over seeds.

    Rows of one seed (e.g. the clean accuracy written by ``train`` and again by ``evaluate accuracy``)
    are averaged first, so ``seeds`` counts distinct seeds and the std is the spread across seeds.
    Rows without a seed count as one seed per run. ``std`` is NaN for a single seed.
    """
    if metrics.empty:
        return pd.DataFrame(columns=AGGREGATE_COLUMNS)
    frame = metrics.copy()
    run = frame["run"] if "run" in frame.columns else pd.Series(range(len(frame)), index=frame.index)
    frame["seed_key"] = [f"seed:{s}" if s is not None and not (isinstance(s, float) and math.isnan(s))
                         else f"run:{r}" for s, r in zip(frame["seed"], run)]
    keys = ["model", "metric", "setting"]
    per_seed = frame.groupby([*keys, "seed_key"], sort=False).agg(value=("value", "mean"),
                                                                    direction=("direction", "first"))
    grouped = per_seed.reset_index().groupby(keys, sort=False)
    result = grouped.agg(direction=("direction", "first"), seeds=("seed_key", "nunique"),
                         mean=("value", "mean"), std=("value", "std")).reset_index()
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
    direction is in ``table.attrs["direction"]``.
    """
    tables: dict[str, pd.DataFrame] = {}
    for metric, rows in aggregated.groupby("metric", sort=True):
        cells = rows.assign(cell=[format_cell(m, s, n) for m, s, n in zip(rows["mean"], rows["std"], rows["seeds"])],
                            setting=rows["setting"].replace("", "value"))
        wide = cells.pivot(index="model", columns="setting", values="cell").fillna("—")
        wide.columns.name = None
        seeds = rows.groupby("model")["seeds"].max()
        wide.insert(0, "seeds", seeds.reindex(wide.index).astype(int))
        table = wide.reset_index()
        table.attrs["direction"] = str(rows["direction"].iloc[0])
        tables[str(metric)] = table
    return tables
