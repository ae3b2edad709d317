"""Runs as TensorBoard event files (``licli export tensorboard``), written offline with
``torch.utils.tensorboard.SummaryWriter`` (needs the ``tensorboard`` package: ``pip install 'licli[tensorboard]'``).

Each run folder becomes one TensorBoard run, ``<out>/<run folder name>``:

- ``metrics.csv`` (``licli train``'s per-epoch history): every numeric column as the scalar ``train/<column>``
  at step = epoch;
- ``summary.csv`` (every command's contract rows): each row's value as the scalar ``<metric>/<model>`` (with
  ``/<setting>`` when the row has one) at step = its seed (0 without one).

Nothing else is read; the CSVs stay the record, the event files are a view of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from licli.errors import LicliError
from licli.reporting.summary import SUMMARY_FILE, read_summary

METRICS_FILE = "metrics.csv"


def _writer(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise LicliError("exporting to TensorBoard needs the tensorboard package",
                         "pip install 'licli[tensorboard]' (or pip install tensorboard)") from None
    return SummaryWriter(log_dir=str(folder))


def scalars_of(run: Path) -> pd.DataFrame:
    """The scalars a run folder exports: columns tag, step, value."""
    rows: list[dict] = []
    if (run / METRICS_FILE).is_file():
        history = pd.read_csv(run / METRICS_FILE)
        if "epoch" in history.columns:
            for column in history.select_dtypes("number").columns.drop("epoch"):
                rows += [{"tag": f"train/{column}", "step": int(epoch), "value": float(value)}
                         for epoch, value in zip(history["epoch"], history[column]) if pd.notna(value)]
    if (run / SUMMARY_FILE).is_file():
        for row in read_summary(run / SUMMARY_FILE).itertuples():
            if pd.isna(row.value):
                continue
            setting = f"/{row.setting}" if str(row.setting) else ""
            rows.append({"tag": f"{row.metric}/{row.model}{setting}", "value": float(row.value),
                         "step": 0 if pd.isna(row.seed) else int(row.seed)})
    return pd.DataFrame(rows, columns=["tag", "step", "value"])


def export_tensorboard(runs: Sequence[Path], out: Path) -> pd.DataFrame:
    """Write each run's scalars under ``out/<run folder name>``; one row per run: run, events folder, scalars."""
    names = [Path(run).resolve().name for run in runs]
    for run in runs:
        if not Path(run).is_dir():
            raise LicliError(f"run folder {run} not found", "pass run folders written by licli commands")
    if len(set(names)) != len(names):
        raise LicliError("two run folders have the same name", "export them in two calls with different out=…",
                         field="out")
    found = [(Path(run), scalars_of(Path(run))) for run in runs]
    empty = [str(run) for run, scalars in found if scalars.empty]
    if empty:
        raise LicliError(f"no {METRICS_FILE} or {SUMMARY_FILE} to export in {', '.join(empty)}",
                         "pass finished run folders")
    rows = []
    for (run, scalars), name in zip(found, names):
        writer = _writer(out / name)
        try:
            for item in scalars.itertuples():
                writer.add_scalar(item.tag, item.value, global_step=item.step)
        finally:
            writer.close()
        rows.append({"run": str(run), "events": str(out / name), "scalars": len(scalars)})
    return pd.DataFrame(rows)
