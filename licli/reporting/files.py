"""Run folders (``reports/<command>/<timestamp>-<name>/``); their files are written atomically (``licli.io``)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from licli.config import check_run_name
from licli.errors import LicliError
from licli.io import atomic_write_csv, atomic_write_json, missing_folders, remove_empty_folders
from licli.runtime import sha256_file

if TYPE_CHECKING:
    import pandas as pd


def check_writable(folder: str | os.PathLike) -> Path:
    """Fail early, with a fix, when ``folder`` could not be created or written (creates nothing)."""
    folder = Path(folder).expanduser().absolute()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise LicliError(f"cannot write to output folder {str(folder)!r} ({existing} is not a writable folder)",
                         "pass a writable folder with --out")
    return folder


def new_run_path(root: str | os.PathLike, command: str, name: str) -> Path:
    """``<root>/<command>/<YYYYmmdd-HHMMSS>-<name>``: the first choice for a new run's folder
    (``RunFolder`` creates it exclusively, suffixing ``-2``, ``-3``… if it is taken)."""
    return Path(root) / command / f"{time.strftime('%Y%m%d-%H%M%S')}-{check_run_name(name)}"


def make_new_folder(path: Path) -> Path:
    """Create ``path``, or ``path-2``, ``path-3``… if taken, atomically (``os.mkdir`` fails if it exists),
    so runs started in the same second by parallel processes never share a folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate, suffix = path, 1
    while True:
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            suffix += 1
            candidate = path.with_name(f"{path.name}-{suffix}")


def finished_run(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds a run whose manifest says it finished (status ``ok``)."""
    try:
        return json.loads((Path(folder) / "manifest.json").read_text()).get("status") == "ok"
    except (OSError, ValueError, AttributeError):
        return False


def exact_run_path(run_dir: str | os.PathLike, force: bool = False) -> Path:
    """The folder ``--run-dir`` names, emptied of an unfinished run (or, with ``force``, a finished one).

    Refused when it holds a finished run without ``force``, or files that are not a licli run.
    """
    path = Path(run_dir).expanduser().absolute()
    if not path.exists():
        return path
    if not path.is_dir() or (any(path.iterdir()) and not (path / "manifest.json").exists()):
        raise LicliError(f"--run-dir {str(path)!r} exists and is not a licli run folder",
                         "pass a new or empty folder to --run-dir")
    if finished_run(path) and not force:
        raise LicliError(f"--run-dir {str(path)!r} already holds a finished run",
                         "pass another --run-dir, or add --force to replace it")
    shutil.rmtree(path)
    return path


class RunFolder:
    """A run's folder: results are written atomically into it, the manifest last.

    The folder is created on first use so that a command failing on bad input leaves nothing behind.
    A ``new`` folder is created exclusively (``make_new_folder``: ``path`` may gain a ``-2`` suffix);
    otherwise ``path`` is an existing run's folder, reused (``licli train --resume``).
    """

    def __init__(self, path: str | os.PathLike, manifest: dict[str, Any], *, new: bool = True) -> None:
        self.path = Path(path)
        check_writable(self.path.parent)
        self.manifest = manifest
        self.manifest.setdefault("files", {})
        self.manifest.setdefault("inputs", {})
        self.new = new
        self.created = False
        """Whether this run created its folder (then a failure on bad input removes it)."""
        self._ready = False
        self._new_parents = missing_folders(self.path.parent)

    @property
    def in_use(self) -> bool:
        """Whether the folder is this run's (created by it, or an existing run's folder it continues)."""
        return self._ready or not self.new

    def ensure(self) -> Path:
        """Create the folder (on first use) and return its path."""
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
                                 "pass a writable folder with --out") from None
            self._ready = True
        return self.path

    def remove(self) -> None:
        """Delete the folder this run created, and the parent folders it had to create, leaving nothing."""
        if not self.created:
            return
        shutil.rmtree(self.path, ignore_errors=True)
        remove_empty_folders(self._new_parents)

    def file(self, name: str) -> Path:
        """The path of a result file inside the run folder (creating the folder)."""
        return self.ensure() / name

    def write_csv(self, name: str, frame: pd.DataFrame) -> Path:
        path = atomic_write_csv(self.file(name), frame)
        self.manifest["files"][name] = {"rows": int(len(frame))}
        return path

    def write_json(self, name: str, data: Any) -> Path:
        path = atomic_write_json(self.file(name), data)
        self.manifest["files"][name] = {}
        return path

    def record_input(self, role: str, path: str | os.PathLike, sha256: str | None = None) -> None:
        """Record an input file (checkpoint, dataset file) with its sha256 in the manifest."""
        self.manifest["inputs"][role] = {"path": str(path), "sha256": sha256 or sha256_file(path)}

    def record_dataset(self, files: dict[str, str]) -> None:
        """Record every file a dataset was read from as ``data:<role>``."""
        for role, path in files.items():
            self.record_input(f"data:{role}", path)

    def record_model(self, label: str, files: dict[str, str]) -> None:
        """Record every file a model was built from as ``<label>:<role>``."""
        for role, path in files.items():
            self.record_input(f"{label}:{role}", path)

    def finish(self, status: str = "ok", exit_code: int = 0, error: str | None = None,
               timings: dict[str, float] | None = None) -> Path:
        end = time.time()
        self.manifest.update({
            "status": status, "exit_code": exit_code, "error": error,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "seconds": round(end - self.manifest.get("started_unix", end), 3),
        })
        if timings:
            self.manifest["timings"] = timings
        return atomic_write_json(self.file("manifest.json"), self.manifest)
