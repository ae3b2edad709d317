"""Run folders (``reports/<command>/<timestamp>-<name>/``); their files are written atomically (``licli.io``)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from licli.config import check_run_name
from licli.errors import LicliError


def check_writable(folder: str | os.PathLike, field: str = "out") -> Path:
    """Fail early, with a fix, when ``folder`` could not be created or written (creates nothing); the error
    names ``field``, the option that chose the folder."""
    folder = Path(folder).expanduser().absolute()
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise LicliError(f"cannot write to output folder {str(folder)!r} ({existing} is not a writable folder)",
                         f"pass a writable folder as {field}=…", field=field)
    return folder


def new_run_path(root: str | os.PathLike, command: str, name: str) -> Path:
    """``<root>/<command>/<YYYYmmdd-HHMMSS>-<name>``: the first choice for a new run's folder
    (``licli.runs.Run`` creates it exclusively, suffixing ``-2``, ``-3``… if it is taken)."""
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
    """The folder ``run_dir`` names, emptied of an unfinished run (or, with ``force``, a finished one).

    Refused when it holds a finished run without ``force``, or files that are not a licli run.
    """
    path = Path(run_dir).expanduser().absolute()
    if not path.exists():
        return path
    if not path.is_dir() or (any(path.iterdir()) and not (path / "manifest.json").exists()):
        raise LicliError(f"run_dir {str(path)!r} exists and is not a licli run folder",
                         "pass a new or empty folder as run_dir=…", field="run_dir")
    if finished_run(path) and not force:
        raise LicliError(f"run_dir {str(path)!r} already holds a finished run",
                         "pass another run_dir=…, or force=True to replace it", field="run_dir", also=("force",))
    shutil.rmtree(path)
    return path
