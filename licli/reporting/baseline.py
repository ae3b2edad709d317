"""Regression checks: compare aggregated metrics with a committed baseline JSON.

Baseline file (``licli report --write-baseline PATH`` writes one from the runs it reads)::

    {"format": "licli-baseline", "version": 1,
     "tolerance": {"absolute": 0.02, "relative": 0.0},
     "entries": [{"model": "small-cnn", "metric": "clean_accuracy", "setting": "dataset=mnist-mini;split=test",
                  "value": 0.9765, "direction": "higher", "tolerance": {"absolute": 0.02}}]}

An entry's allowed drift is ``max(absolute, relative × |value|)``; the tolerance comes from the
command line (per metric, then overall), else the entry's own, else the file's, else 0.02 absolute. A value worse than the baseline by more than that in the
entry's ``direction`` is a regression; a baseline entry with no current value is ``missing`` (an
evaluation that silently stopped reporting is a failure too). Better by more than the tolerance is
``improved`` (not a failure: refresh the baseline on purpose to lock it in).

Like is compared with like: an entry written with a ``training`` configuration (see
``licli.reporting.summary.training_key``) matches only current rows of the same model label trained
the same way, whatever suffix the report gave them; a row of a model that is degenerate now
(``licli.reporting.compare.degenerate_models``) is ``degenerate``, a failure, never ``ok`` or
``improved``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from licli.errors import CheckFailed, LicliError
from licli.reporting.compare import base_label, degenerate_models
from licli.io import atomic_write_json
from licli.contract import DIRECTIONS, setting_key

FORMAT = "licli-baseline"
VERSION = 1
KEYS = ("model", "metric", "setting")
DIFF_COLUMNS = ("status", "model", "metric", "setting", "direction", "baseline", "current", "delta", "allowed")
FAILING = ("regressed", "missing", "degenerate")


@dataclass(frozen=True)
class Tolerance:
    absolute: float = 0.0
    relative: float = 0.0

    def __post_init__(self) -> None:
        for name in ("absolute", "relative"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0 or math.isinf(value):
                raise LicliError(f"{name} must be a finite number ≥ 0 (got {value!r})",
                                 f"pass e.g. {name}={'0.02' if name == 'absolute' else '0.1 (10%)'}", field=name)

    def allowed(self, reference: float) -> float:
        return max(self.absolute, self.relative * abs(reference))

    @classmethod
    def parse(cls, data: Any, where: str) -> "Tolerance":
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return cls(absolute=float(data))
        if not isinstance(data, Mapping) or set(data) - {"absolute", "relative"}:
            raise LicliError(f"{where}: tolerance must be a number or {{\"absolute\": …, \"relative\": …}}",
                             "fix the baseline file")
        return cls(**{k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v
                      for k, v in data.items()})


@dataclass(frozen=True)
class Entry:
    model: str
    metric: str
    setting: str
    value: float
    direction: str
    tolerance: Tolerance | None = None
    training: str | None = None
    """The training configuration the value was measured on (``training_key``), when recorded."""


@dataclass(frozen=True)
class Baseline:
    entries: tuple[Entry, ...]
    tolerance: Tolerance | None = None
    description: str = ""


def parse_baseline(data: Any, source: str = "baseline") -> Baseline:
    """Validate a baseline document (LicliError naming the first problem: exit 2)."""
    fix = "fix the file or rewrite it with `licli report … --write-baseline PATH`"
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise LicliError(f"{source} is not a licli baseline (no \"format\": \"{FORMAT}\")", fix)
    if data.get("version") != VERSION:
        raise LicliError(f"{source} has baseline version {data.get('version')!r}; this licli reads {VERSION}", fix)
    raw = data.get("entries")
    if not isinstance(raw, list) or not raw:
        raise LicliError(f"{source} has no entries", fix)
    entries = []
    for index, item in enumerate(raw):
        where = f"{source} entry {index}"
        if not isinstance(item, dict) or any(k not in item for k in (*KEYS[:2], "value")):
            raise LicliError(f"{where} needs model, metric and value", fix)
        value = item["value"]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise LicliError(f"{where} ({item['metric']}) value {value!r} is not a finite number", fix)
        direction = item.get("direction", "higher")
        if direction not in DIRECTIONS:
            raise LicliError(f"{where} direction {direction!r} is not one of {', '.join(DIRECTIONS)}", fix)
        tolerance = Tolerance.parse(item["tolerance"], where) if "tolerance" in item else None
        training = item.get("training")
        if training is not None and not isinstance(training, str):
            raise LicliError(f"{where} training {training!r} is not a string", fix)
        entries.append(Entry(str(item["model"]), str(item["metric"]), str(item.get("setting", "")),
                             float(value), direction, tolerance, training))
    default = Tolerance.parse(data["tolerance"], source) if "tolerance" in data else None
    return Baseline(tuple(entries), default, str(data.get("description", "")))


def load_baseline(path: str | Path) -> Baseline:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise LicliError(f"baseline file {path} not found",
                         "check the path, or create it with `licli report … --write-baseline PATH`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LicliError(f"baseline file {path} is not valid JSON ({error})", "fix the file") from None
    return parse_baseline(data, str(path))


def baseline_document(aggregated: pd.DataFrame, tolerance: Tolerance, description: str = "",
                      per_metric: Mapping[str, Tolerance] | None = None) -> dict[str, Any]:
    """The JSON document ``--write-baseline`` writes: the current means, with tolerances."""
    if aggregated.empty:
        raise LicliError("no metrics to write into a baseline", "point licli report at finished runs")
    entries = []
    for row in aggregated.itertuples(index=False):
        entry = {"model": row.model, "metric": row.metric, "setting": row.setting,
                 "value": float(row.mean), "direction": row.direction}
        if per_metric and row.metric in per_metric:
            entry["tolerance"] = per_metric[row.metric].__dict__
        if isinstance(getattr(row, "training", None), str):
            entry["training"] = row.training
        entries.append(entry)
    return {"format": FORMAT, "version": VERSION, "description": description,
            "tolerance": tolerance.__dict__, "entries": entries}


def write_baseline(path: str | Path, document: dict[str, Any]) -> Path:
    parse_baseline(document, str(path))
    return atomic_write_json(path, document)


DEFAULT_TOLERANCE = Tolerance(absolute=0.02)


def compare(aggregated: pd.DataFrame, baseline: Baseline, tolerance: Tolerance | None = None,
            per_metric: Mapping[str, Tolerance] | None = None) -> pd.DataFrame:
    """The diff table: one row per baseline entry (ok/regressed/improved/missing) and per new metric.

    Tolerance precedence (the command line beats the file, the specific beats the general):
    ``per_metric`` > ``tolerance`` > the entry's > the file's > ``DEFAULT_TOLERANCE``.
    """
    current = {(r.model, r.metric, setting_key(r.setting)): float(r.mean) for r in aggregated.itertuples(index=False)}
    trained = {(base_label(r.model), r.training, r.metric, setting_key(r.setting)): r.model
               for r in aggregated.itertuples(index=False) if isinstance(getattr(r, "training", None), str)}
    degenerate = degenerate_models(aggregated)
    rows = []
    for entry in baseline.entries:
        model = entry.model
        if entry.training is not None:
            model = trained.get((base_label(entry.model), entry.training, entry.metric, setting_key(entry.setting)), "")
        key = (model, entry.metric, setting_key(entry.setting))
        chosen = ((per_metric or {}).get(entry.metric) or tolerance or entry.tolerance or baseline.tolerance
                  or DEFAULT_TOLERANCE)
        allowed = chosen.allowed(entry.value)
        value = current.pop(key, math.nan)
        sign = 1.0 if entry.direction == "higher" else -1.0
        gain = sign * (value - entry.value)
        if math.isnan(value):
            status = "missing"
        elif model in degenerate:
            status = "degenerate"
        elif gain < -allowed:
            status = "regressed"
        elif gain > allowed:
            status = "improved"
        else:
            status = "ok"
        rows.append({"status": status, "model": entry.model, "metric": entry.metric, "setting": entry.setting,
                     "direction": entry.direction, "baseline": entry.value, "current": value,
                     "delta": value - entry.value, "allowed": allowed})
    directions = {(r.model, r.metric, setting_key(r.setting)): r.direction for r in aggregated.itertuples(index=False)}
    labels = {(r.model, r.metric, setting_key(r.setting)): r.setting for r in aggregated.itertuples(index=False)}
    for key, value in current.items():
        rows.append({"status": "new, degenerate" if key[0] in degenerate else "new", **dict(zip(KEYS, key)),
                     "setting": labels[key], "direction": directions[key],
                     "baseline": math.nan, "current": value, "delta": math.nan, "allowed": math.nan})
    return pd.DataFrame(rows, columns=list(DIFF_COLUMNS))


def describe_failures(diff: pd.DataFrame) -> list[str]:
    """One phrase per regressed or missing entry, naming model, metric and setting."""
    phrases = []
    for row in diff[diff["status"].isin(FAILING)].itertuples(index=False):
        name = f"{row.model} {row.metric}" + (f" [{row.setting}]" if row.setting else "")
        if row.status == "missing":
            phrases.append(f"{name} is missing (baseline {row.baseline:.4g})")
        elif row.status == "degenerate":
            phrases.append(f"{name} = {row.current:.4g} comes from a degenerate model (one class or chance-level "
                           "answers): not evidence of robustness")
        else:
            phrases.append(f"{name} = {row.current:.4g}, baseline {row.baseline:.4g} "
                           f"({row.direction} is better, allowed drift {row.allowed:.3g})")
    return phrases


def check(diff: pd.DataFrame) -> None:
    """Raise CheckFailed (exit 1) naming every regression in ``diff``."""
    failures = describe_failures(diff)
    if failures:
        raise CheckFailed(f"{len(failures)} regression(s) against the baseline: " + "; ".join(failures),
                          "fix the change, or refresh the baseline on purpose with --write-baseline")
