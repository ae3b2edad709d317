"""Find run folders (``manifest.json`` + CSVs + PNGs) and read their summary rows.

A folder that cannot be read — no manifest beside result CSVs, a manifest that is not JSON or lacks
its command, a failed run, a malformed summary — is skipped and described in ``Discovery.skipped``;
discovery itself never raises for one bad folder. Only a path that does not exist is an error.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from licli.errors import LicliError
from licli.reporting.adapters import ADAPTERS, RESULT_FILES
from licli.reporting.summary import COLUMNS, SUMMARY_FILE, read_summary, summary_frame

MANIFEST = "manifest.json"
_MECHANISM = re.compile(r"\+([^@+()]+)@")


def mechanisms_of(model: str) -> tuple[str, ...]:
    """Mechanism names in a model label (``vgg16+normout@fc1+normout@fc2`` → ``('normout', 'normout')``)."""
    return tuple(_MECHANISM.findall(model))


@dataclass(frozen=True)
class RunFilter:
    """Keep runs whose command/name/tag is among those given, and rows whose model label contains one
    of ``models`` and uses one of ``mechanisms`` (``none`` selects models without mechanisms).
    An empty tuple does not filter."""

    commands: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    mechanisms: tuple[str, ...] = ()

    def keeps_run(self, run: "Run") -> bool:
        return ((not self.commands or run.command in self.commands)
                and (not self.names or run.name in self.names)
                and (not self.tags or bool(set(run.tags) & set(self.tags))))

    def keeps_model(self, model: str) -> bool:
        used = mechanisms_of(model)
        return ((not self.models or any(wanted in model for wanted in self.models))
                and (not self.mechanisms or any(m in used or (m == "none" and not used) for m in self.mechanisms)))


@dataclass(frozen=True)
class Run:
    path: Path
    command: str
    name: str
    seed: int | None
    tags: tuple[str, ...]
    started: str
    metrics: pd.DataFrame
    """The run's summary rows (contract columns) with ``seed`` filled from the manifest when absent."""
    images: tuple[Path, ...]
    manifest: dict[str, Any] = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str

    def notice(self) -> str:
        return f"skipped {self.path}: {self.reason}"


@dataclass
class Discovery:
    runs: list[Run]
    skipped: list[Skipped]

    def metrics(self) -> pd.DataFrame:
        """All rows of all runs, with ``run``, ``command`` and ``name`` columns in front."""
        frames = [run.metrics.assign(run=str(run.path), command=run.command, name=run.name)
                  for run in self.runs if len(run.metrics)]
        columns = ["run", "command", "name", *COLUMNS]
        return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)

    def images(self) -> list[tuple[Run, Path]]:
        return [(run, image) for run in self.runs for image in run.images]


def _candidates(root: Path) -> Iterable[tuple[Path, str | None]]:
    """(folder, None) for each run folder under ``root``; (folder, reason) for result folders lacking a manifest."""
    if (root / MANIFEST).is_file():
        yield root, None
        return
    for here, folders, files in os.walk(root):
        folders.sort()
        if MANIFEST in files:
            folders.clear()
            yield Path(here), None
        elif RESULT_FILES & set(files):
            yield Path(here), f"holds {', '.join(sorted(RESULT_FILES & set(files)))} but no {MANIFEST} " \
                              "(an interrupted run, or files copied without their manifest)"


def _manifest(folder: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LicliError(f"{MANIFEST} is not valid JSON ({error})") from None
    if not isinstance(manifest, dict):
        raise LicliError(f"{MANIFEST} is not a JSON object")
    if not isinstance(manifest.get("command"), str) or not manifest["command"]:
        raise LicliError(f"{MANIFEST} has no command")
    status = manifest.get("status")
    if status != "ok":
        detail = f": {manifest['error']}" if manifest.get("error") else ""
        raise LicliError(f"the run did not finish successfully (status {status or 'missing'}{detail})")
    return manifest


def _rows(folder: Path, manifest: dict[str, Any]) -> pd.DataFrame:
    command = manifest["command"]
    if (folder / SUMMARY_FILE).exists():
        frame = read_summary(folder / SUMMARY_FILE)
    elif command in ADAPTERS:
        frame = summary_frame(ADAPTERS[command](folder, manifest))
    else:
        raise LicliError(f"command {command!r} wrote no {SUMMARY_FILE} and has no adapter")
    seed = manifest.get("seed")
    if seed is not None:
        frame["seed"] = [int(seed) if s is None else s for s in frame["seed"]]
    return frame


def load_run(folder: Path) -> Run:
    """Read one run folder (LicliError naming the problem if it is malformed)."""
    manifest = _manifest(folder)
    options = manifest.get("run_options") or {}
    tags = manifest.get("tags") or options.get("tags") or ()
    return Run(path=folder, command=manifest["command"], name=str(options.get("name") or folder.name),
               seed=manifest.get("seed"), tags=tuple(str(t) for t in tags), started=str(manifest.get("started", "")),
               metrics=_rows(folder, manifest), images=tuple(sorted(folder.glob("*.png"))), manifest=manifest)


def discover(paths: Sequence[str | os.PathLike] = ("reports",), run_filter: RunFilter = RunFilter()) -> Discovery:
    """Find and read the run folders under ``paths``, filtered; malformed ones go to ``skipped``."""
    runs: list[Run] = []
    skipped: list[Skipped] = []
    seen: set[Path] = set()
    for given in paths:
        root = Path(given).expanduser()
        if root.name == MANIFEST and root.is_file():
            root = root.parent
        if not root.is_dir():
            raise LicliError(f"no run folder or reports folder at {str(root)!r}",
                             "pass a folder written by licli (default: reports)")
        for folder, problem in _candidates(root):
            if folder.resolve() in seen:
                continue
            seen.add(folder.resolve())
            if problem:
                skipped.append(Skipped(folder, problem))
                continue
            try:
                run = load_run(folder)
            except LicliError as error:
                skipped.append(Skipped(folder, str(error)))
                continue
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:  # garbage CSV/JSON content
                skipped.append(Skipped(folder, f"unreadable ({type(error).__name__}: {' '.join(str(error).split())[:160]})"))
                continue
            if not run_filter.keeps_run(run):
                continue
            keep = run.metrics["model"].map(run_filter.keeps_model).astype(bool)
            if keep.any() or not (run_filter.models or run_filter.mechanisms):
                runs.append(replace(run, metrics=run.metrics.loc[keep].reset_index(drop=True)))
    runs.sort(key=lambda r: (r.command, r.started, str(r.path)))
    return Discovery(runs, skipped)
