"""The report contract in code: every evaluation run summarises itself as a tidy ``summary.csv``.

One row per model × metric × setting (docs/report-contract.md)::

    model,metric,setting,value,direction,seed
    small-cnn,clean_accuracy,split=test,0.9765,higher,0
    small-cnn+normout@fc1,robust_accuracy,attack=fgsm;eps=0.03137;norm=linf,0.132,higher,0

``licli report`` reads these files (or, for commands written before the contract, the adapter
registered for the command in ``licli.reporting.adapters``), compares models across runs and seeds,
and checks them against a baseline.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from licli.contract import DIRECTIONS, METRIC_DIRECTIONS, model_label
from licli.errors import LicliError

SUMMARY_FILE = "summary.csv"
REQUIRED_COLUMNS = ("model", "metric", "setting", "value")
COLUMNS = (*REQUIRED_COLUMNS, "direction", "seed", "training")

NOT_TRAINING = ("seed", "model", "mechanisms", "eval_batch_size")
"""Training-configuration fields that do not make two runs different experiments: the seed (what
"± std over seeds" averages), the architecture and mechanisms (already in the model label) and the
evaluation batch size (it does not change the weights)."""


def training_key(config: Mapping[str, Any] | None) -> str | None:
    """The training configuration that makes a model what it is, as canonical JSON (``None`` when not
    recorded): two runs are the same model only when their labels and these keys are equal."""
    if not config:
        return None
    kept = {key: value for key, value in config.items() if key not in NOT_TRAINING}
    return json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str)


def meta_identity(meta: Mapping[str, Any]) -> tuple[str, int | None]:
    """(model label, training seed) of a licli checkpoint's metadata."""
    seed = (meta.get("config") or {}).get("seed")
    return model_label(meta["model"]), (int(seed) if seed is not None else None)


def checkpoint_identity(metadata_path: str | Path) -> tuple[str, int | None]:
    """(model label, training seed) of a licli checkpoint, read from its ``.json`` metadata."""
    return meta_identity(json.loads(Path(metadata_path).read_text()))


def recorded_models(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any] | None]:
    """Label → checkpoint metadata of every model a finished run recorded (input ``<label>:metadata``,
    read back from the checkpoint; ``None`` when it is not there). A live run has them: ``Run.models``."""
    models: dict[str, dict[str, Any] | None] = {}
    for role, recorded in (manifest.get("inputs") or {}).items():
        label, _, kind = str(role).rpartition(":")
        if kind != "metadata" or label == "data":
            continue
        try:
            meta = json.loads(Path(recorded["path"]).read_text())
        except (KeyError, OSError, ValueError, TypeError):
            meta = None
        models[label] = meta if isinstance(meta, dict) else None
    return models


def model_identity(label: str, meta: Mapping[str, Any] | None) -> tuple[str, int | None, str | None]:
    """(identity, training seed, ``training_key``) of the model shown as ``label`` whose checkpoint metadata
    is ``meta``; models without licli metadata (foreign models) keep their display ``label``, no seed."""
    if meta is None:
        return label, None, None
    try:
        name, seed = meta_identity(meta)
    except (KeyError, TypeError, ValueError, AttributeError):
        name, seed = label, None
    config = meta.get("config")
    return name, seed, training_key(config) if isinstance(config, Mapping) else None


def with_identities(rows: pd.DataFrame, models: Mapping[str, Mapping[str, Any] | None]) -> pd.DataFrame:
    """``rows`` whose ``model`` column holds display labels, with each label replaced by the model's
    identity, the ``seed`` column set to its training seed and the ``training`` column to its training
    configuration (``model_identity``); ``models`` maps labels to checkpoint metadata (``Run.models``)."""
    identities = {label: model_identity(label, models.get(label)) for label in rows["model"].unique()}
    return rows.assign(model=[identities[label][0] for label in rows["model"]],
                       seed=[identities[label][1] for label in rows["model"]],
                       training=[identities[label][2] for label in rows["model"]])


def summary_frame(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Validate summary rows and return them with the contract's columns in order.

    Raises LicliError naming the first problem (missing column, non-numeric value, bad direction).
    """
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise LicliError(f"summary lacks column(s) {', '.join(missing)}",
                         f"write the columns {', '.join(COLUMNS)} (docs/report-contract.md)")
    frame["setting"] = frame["setting"].fillna("").astype(str)
    frame["model"] = frame["model"].astype(str)
    frame["metric"] = frame["metric"].astype(str)
    values = pd.to_numeric(frame["value"], errors="coerce")
    bad = frame["value"][values.isna() & frame["value"].notna()]
    if len(bad):
        raise LicliError(f"summary value {bad.iloc[0]!r} is not a number", "write numbers in the value column")
    frame["value"] = values.astype(float)
    if "direction" not in frame.columns:
        frame["direction"] = None
    frame["direction"] = [d if isinstance(d, str) and d else METRIC_DIRECTIONS.get(m, "higher")
                          for d, m in zip(frame["direction"], frame["metric"])]
    wrong = sorted(set(frame["direction"]) - set(DIRECTIONS))
    if wrong:
        raise LicliError(f"summary direction {wrong[0]!r} is not one of {', '.join(DIRECTIONS)}",
                         "write higher or lower in the direction column")
    if "seed" not in frame.columns:
        frame["seed"] = None
    frame["seed"] = [None if s is None or (isinstance(s, float) and math.isnan(s)) else int(s)
                     for s in frame["seed"]]
    if "training" not in frame.columns:
        frame["training"] = None
    frame["training"] = [t if isinstance(t, str) and t else None for t in frame["training"]]
    return frame[list(COLUMNS)].reset_index(drop=True)


def read_summary(path: str | Path) -> pd.DataFrame:
    """Read and validate a ``summary.csv`` (LicliError if it is not one)."""
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values={"value": [""], "seed": [""]},
                            dtype={"training": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise LicliError(f"{path} is not a readable CSV ({str(error).splitlines()[0]})",
                         "rewrite it with the columns of docs/report-contract.md") from None
    return summary_frame(frame)


def write_summary(run: Any, rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> Path:
    """Validate ``rows`` and write them as ``summary.csv`` into ``run`` (a ``licli.runs.Run``)."""
    return run.write_csv(SUMMARY_FILE, summary_frame(rows))
