"""Adapters: the summary rows of commands whose run folders hold no ``summary.csv``.

``ADAPTERS`` maps a manifest ``command`` to a function ``(folder, manifest) -> rows`` that reads
the command's own CSVs and returns the contract's columns (``licli.reporting.summary``). New commands
write ``summary.csv`` themselves and need no adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import json

import pandas as pd

from licli.errors import LicliError
from licli.reporting.summary import checkpoint_identity, model_identity, recorded_models, training_key
from licli.contract import setting

Adapter = Callable[[Path, dict[str, Any]], pd.DataFrame]


def _read(folder: Path, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    path = folder / name
    if not path.exists():
        raise LicliError(f"{name} is missing", "rerun the command (the run folder is incomplete)")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise LicliError(f"{name} is not a readable CSV ({str(error).splitlines()[0]})", "rerun the command") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing or frame.empty:
        raise LicliError(f"{name} lacks column(s) {', '.join(missing)}" if missing else f"{name} has no rows",
                         "rerun the command")
    return frame


def train_rows(folder: Path, manifest: dict[str, Any]) -> pd.DataFrame:
    """``licli train``: the last epoch of ``metrics.csv`` (test/train accuracy, test loss)."""
    last = _read(folder, "metrics.csv", ("train_accuracy", "test_accuracy", "test_loss")).iloc[-1]
    config = manifest.get("config") or {}
    model, seed = (checkpoint_identity(folder / "model.json") if (folder / "model.json").exists()
                   else (str(config.get("model", "?")), manifest.get("seed")))
    dataset = config.get("dataset")
    training = training_key(config)
    return pd.DataFrame([
        {"model": model, "metric": "clean_accuracy", "setting": setting(dataset=dataset, split="test"),
         "value": last["test_accuracy"], "seed": seed},
        {"model": model, "metric": "train_accuracy", "setting": setting(dataset=dataset, split="train"),
         "value": last["train_accuracy"], "seed": seed},
        {"model": model, "metric": "test_loss", "setting": setting(dataset=dataset, split="test"),
         "value": last["test_loss"], "seed": seed},
    ]).assign(training=training)


def evaluate_accuracy_rows(folder: Path, manifest: dict[str, Any]) -> pd.DataFrame:
    """``licli evaluate accuracy``: one clean-accuracy and one loss row per model in ``accuracy.csv``."""
    frame = _read(folder, "accuracy.csv", ("model", "dataset", "split", "accuracy", "loss"))
    rows, models = [], recorded_models(manifest)
    for record in frame.to_dict(orient="records"):
        model, seed, training = model_identity(str(record["model"]), models.get(str(record["model"])))
        where = setting(dataset=record["dataset"], split=record["split"])
        rows.append({"model": model, "metric": "clean_accuracy", "setting": where,
                     "value": record["accuracy"], "seed": seed, "training": training})
        rows.append({"model": model, "metric": "test_loss" if record["split"] == "test" else "train_loss",
                     "setting": where, "value": record["loss"], "direction": "lower", "seed": seed,
                     "training": training})
    return pd.DataFrame(rows)


VERDICT_FILE = "verdict.json"
VERDICT_KEYS = ("decision", "verdict", "evidence", "scale", "comparisons")


def read_verdict(folder: Path) -> dict[str, Any]:
    """``licli verdict``'s ``verdict.json`` (LicliError naming the problem when missing or malformed)."""
    path = folder / VERDICT_FILE
    if not path.exists():
        raise LicliError(f"{VERDICT_FILE} is missing", "rerun licli verdict (the run folder is incomplete)")
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LicliError(f"{VERDICT_FILE} is not valid JSON ({error})", "rerun licli verdict") from None
    missing = [key for key in VERDICT_KEYS if not isinstance(document, dict) or key not in document]
    if missing:
        raise LicliError(f"{VERDICT_FILE} lacks {', '.join(missing)}", "rerun licli verdict")
    return document


def verdict_rows(folder: Path, manifest: dict[str, Any]) -> pd.DataFrame:
    """``licli verdict``: no metric rows (its numbers are a comparison, shown as a report section of its
    own by ``licli.reporting.document.verdict_section``); checks that ``verdict.json`` is readable."""
    read_verdict(folder)
    return pd.DataFrame(columns=["model", "metric", "setting", "value"])


ADAPTERS: dict[str, Adapter] = {
    "train": train_rows,
    "evaluate-accuracy": evaluate_accuracy_rows,
    "verdict": verdict_rows,
}

RESULT_FILES = frozenset({"summary.csv", "metrics.csv", "accuracy.csv", VERDICT_FILE})
"""Files whose presence marks a folder as a run's (so a folder holding them without a manifest is reported)."""
