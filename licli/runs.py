"""A run: its folder, its manifest, what it read and wrote, and how it ended.

``Run`` is the one object a command records through. It creates its folder on first write (so a command
failing on bad input leaves nothing), writes results atomically (``write_csv``, ``write_json``,
``save_figure``, ``record_checkpoint``), records its inputs with their sha256 (``record_model``,
``record_dataset``: the hashes the loaders computed while checking the files, so no file is hashed twice)
and writes ``manifest.json`` last (``finish``; ``ended`` decides the status from how the command's block
ended). Commands never edit the manifest: command-specific entries go through ``note``.
The manifest's keys are the report contract (docs/runs.md, docs/report-contract.md).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from licli import runtime
from licli.errors import Interrupted, LicliError
from licli.io import (atomic_write_bytes, atomic_write_csv, atomic_write_json, missing_folders, remove_empty_folders,
                      write_failure)
from licli.reporting.files import check_writable, make_new_folder

if TYPE_CHECKING:
    import pandas as pd
    import torch

MANIFEST = "manifest.json"
FIGURE_DPI = 120
"""The resolution licli draws figures at (``licli.reporting.plots.subplots``)."""
RESERVED = frozenset({"command", "argv", "seed", "versions", "git", "device", "cpu_allocator", "memory_format", "started",
                      "started_unix", "files", "inputs", "status", "exit_code", "error", "finished", "seconds",
                      "run_options", "earlier_attempts"})
"""Manifest keys only ``Run`` writes (``note`` refuses them)."""


class Figure(Protocol):
    """A matplotlib figure (``licli.reporting.plots`` draws them; ``Run.save_figure`` writes them)."""

    def savefig(self, fname: Any, **kwargs: Any) -> None: ...


def figure_png(figure: Figure) -> bytes:
    """``figure`` as PNG bytes at its own dpi, tight bounding box: how every licli figure is written."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi="figure", bbox_inches="tight")
    return buffer.getvalue()


def start_manifest(command: str, config: Any, device: torch.device | None, seed: int | None,
                   argv: list[str] | None = None) -> dict[str, Any]:
    """The manifest fields known when a run starts (``argv`` defaults to ``sys.argv``). Without a ``device``
    (a run that computes nothing, e.g. in tests) torch is not imported: no device and numerics are recorded."""
    return {
        "command": command,
        "argv": list(sys.argv if argv is None else argv),
        "config": asdict(config) if is_dataclass(config) else config,
        "seed": seed,
        "versions": runtime.package_versions(),
        "git": runtime.git_revision(),
        "device": runtime.device_info(device) if device is not None else None,
        "numerics": runtime.numerics() if device is not None else None,
        "cpu_allocator": runtime.CPU_ALLOCATOR,
        "memory_format": runtime.memory_format_name(device) if device is not None else None,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "started_unix": time.time(),
    }


def earlier_attempts(folder: Path) -> list[dict[str, Any]]:
    """When, how long and how each earlier run in ``folder`` ended (a resumed run keeps its history)."""
    try:
        previous = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(previous, dict):
        return []
    keys = ("started", "finished", "seconds", "status", "exit_code", "error")
    return [*previous.get("earlier_attempts", []), {key: previous.get(key) for key in keys}]


def holds_results(folder: Path) -> bool:
    """Whether ``folder`` holds anything besides its manifest (results, or state to resume from)."""
    return folder.is_dir() and any(entry.name != MANIFEST for entry in folder.iterdir())


class Run:
    """One run of a command: its folder, its manifest, its recorded inputs and outputs, its end.

    A ``new`` run creates ``path`` exclusively on first write (``make_new_folder``: it may gain a ``-2``
    suffix); otherwise ``path`` is an existing run's folder, continued (``licli train --resume``, or
    ``--run-dir``). ``details`` are entries known at the start (``run_options``; ``earlier_attempts`` of
    a resumed run).
    """

    def __init__(self, path: str | os.PathLike, command: str, *, config: Any = None, seed: int | None = None,
                 device: torch.device | None = None, argv: list[str] | None = None, new: bool = True,
                 details: Mapping[str, Any] | None = None) -> None:
        self.path = Path(path)
        check_writable(self.path.parent)
        self._manifest = start_manifest(command, config, device, seed, argv)
        self._manifest.update(details or {})
        self._manifest.update(files={}, inputs={})
        self.models: dict[str, dict[str, Any] | None] = {}
        """Label → checkpoint metadata of every recorded model (``None``: not a licli checkpoint)."""
        self.new = new
        self.created = False
        """Whether this run created its folder (then a failure on bad input removes it)."""
        self._ready = False
        self._new_parents = missing_folders(self.path.parent)

    @property
    def manifest(self) -> Mapping[str, Any]:
        """The manifest as it stands (read-only: record through the methods)."""
        return MappingProxyType(self._manifest)

    @property
    def in_use(self) -> bool:
        """Whether the folder is this run's (created by it, or an existing run's folder it continues)."""
        return self._ready or not self.new

    def folder(self) -> Path:
        """The run folder, created on first use."""
        if not self._ready:
            try:
                if self.new:
                    self.path = make_new_folder(self.path)
                    self.created = True
                else:
                    self.created = not self.path.exists()
                    self.path.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise LicliError(f"cannot create run folder {str(self.path)!r} ({error.strerror or error})",
                                 "pass a writable folder as out=…", field="out") from None
            self._ready = True
        return self.path

    def file(self, name: str) -> Path:
        """The path of ``name`` inside the run folder (created), for a writer that is not ``Run``'s own."""
        return self.folder() / name

    def remove(self) -> None:
        """Delete the folder this run created, and the parent folders it had to create, leaving nothing."""
        if not self.created:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        remove_empty_folders(self._new_parents)

    # results
    def write_csv(self, name: str, frame: pd.DataFrame) -> Path:
        path = atomic_write_csv(self.file(name), frame)
        self._manifest["files"][name] = {"rows": int(len(frame))}
        return path

    def write_json(self, name: str, data: Any) -> Path:
        path = atomic_write_json(self.file(name), data)
        self._manifest["files"][name] = {}
        return path

    def save_figure(self, name: str, figure: Figure) -> Path:
        """Write a matplotlib figure as the PNG ``name``."""
        path = atomic_write_bytes(self.file(name), figure_png(figure))
        self._manifest["files"][name] = {}
        return path

    def record_checkpoint(self, checkpoint: Any) -> None:
        """List a checkpoint written into the run folder (``licli.checkpoints.Checkpoint``) with the sha256
        its writer computed."""
        for path, digest in ((checkpoint.weights, checkpoint.weights_sha256),
                             (checkpoint.metadata, checkpoint.metadata_sha256)):
            self._manifest["files"][Path(path).name] = {"sha256": digest}

    # inputs
    def _record_input(self, role: str, path: str, sha256: str | None) -> None:
        self._manifest["inputs"][role] = {"path": str(path), "sha256": sha256 or runtime.sha256_file(path)}

    def record_dataset(self, data: Any) -> None:
        """Record every file a dataset (``licli.data.Dataset``) was read from as ``data:<role>``; a file whose
        sha256 the loader computed (``data.hashes``) is not read again."""
        for role, path in data.files.items():
            self._record_input(f"data:{role}", path, data.hashes.get(role))

    def record_model(self, loaded: Any) -> None:
        """Record every file a model (``licli.sources.LoadedModel``) was built from as ``<label>:<role>``
        with the sha256 its loader computed, and keep its checkpoint metadata (its identity in reports)."""
        for role, path in loaded.files.items():
            self._record_input(f"{loaded.label}:{role}", path, loaded.hashes.get(role))
        self.models[loaded.label] = loaded.meta if "metadata" in loaded.files else None

    def record_inputs(self, inputs: Mapping[str, Any]) -> None:
        """Inputs another run recorded (``licli merge-shards``: the shards' models and data)."""
        self._manifest["inputs"].update(inputs)

    def note(self, key: str, value: Any) -> None:
        """A command's own manifest entry (``attack``, ``verdict``, ``numerics``…); a later note replaces it."""
        if key in RESERVED:
            raise ValueError(f"{key!r} is recorded by Run itself")
        self._manifest[key] = value

    # the end
    def finish(self, status: str = "ok", exit_code: int = 0, error: str | None = None) -> Path:
        """Write the manifest with how the run ended (written last: a manifest means the run is over)."""
        end = time.time()
        self._manifest.update({
            "status": status, "exit_code": exit_code, "error": error,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds": round(end - self._manifest.get("started_unix", end), 3),
        })
        return atomic_write_json(self.file(MANIFEST), self._manifest)

    def interrupted(self, resume: str | None) -> Interrupted:
        """Record an interrupted run: a folder this run created that holds nothing is removed; otherwise its
        manifest is marked ``interrupted``. Returns the error saying what was kept and how to resume
        (``resume``: the command that continues it, ``{path}`` standing for its folder)."""
        if self.created and not holds_results(self.path):
            self.remove()
            return Interrupted("nothing was kept (the run had no results yet)")
        if not self.in_use:
            return Interrupted("nothing was written")
        self.finish("interrupted", 130, "interrupted (SIGINT)")
        if resume is not None:
            return Interrupted(f"kept {self.path}; resume with `{resume.format(path=self.path)}`")
        return Interrupted(f"kept the partial results in {self.path} (manifest status: interrupted)")

    @contextmanager
    def ended(self, resume: str | None = None) -> Iterator[Run]:
        """Finish the run with how the block ended: ``ok``; a bad-input error removes a folder it created;
        Ctrl-C becomes ``Interrupted`` (``interrupted``); a full disk becomes one line (``write_failure``);
        any other error is recorded as ``failed`` with its exit code and raised again."""
        try:
            yield self
            self.finish("ok", 0)
        except KeyboardInterrupt:
            raise self.interrupted(resume) from None
        except BaseException as error:
            failure = write_failure(error, self.path) if isinstance(error, OSError) else error
            if isinstance(failure, LicliError) and failure.exit_code == 2 and self.created:
                self.remove()
            elif self.in_use:
                if isinstance(failure, LicliError):
                    self.finish("failed", failure.exit_code, str(failure))
                else:
                    self.finish("failed", 3, f"{type(failure).__name__}: {failure}")
            if failure is error:
                raise
            raise failure from None
