"""Atomic file writing and run folders (``reports/<command>/<timestamp>-<name>/``)."""

from __future__ import annotations

import errno
import json
import math
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from licli.errors import LicliError

if TYPE_CHECKING:
    import pandas as pd


FULL_OR_READ_ONLY = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def write_failed(path: Path, error: OSError) -> LicliError:
    """The one-line error for a file that could not be written (a full disk, a read-only folder…)."""
    fix = ("free some space there or pass another --out" if error.errno in (errno.ENOSPC, errno.EDQUOT)
           else "pass a writable folder with --out")
    return LicliError(f"cannot write {path} ({error.strerror or error})", fix)


def write_failure(error: OSError, path: Path) -> BaseException:
    """``error`` as a ``LicliError`` when it says the disk under ``path`` is full or read-only (the user's
    environment, not a bug), else ``error`` itself."""
    return write_failed(Path(error.filename or path), error) if error.errno in FULL_OR_READ_ONLY else error


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temp file in the same folder, fsync it, then ``os.replace`` it into place.

    The file gets the mode ``open()`` would give it (0666 less the umask), unlike ``tempfile.mkstemp``'s
    0600. An ``OSError`` (e.g. a full disk) becomes a ``LicliError`` and leaves no temp file behind.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as error:
        raise write_failed(path, error) from None
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def to_json(data: Any) -> str:
    return json.dumps(_finite(data), indent=2, default=_json_default, sort_keys=False) + "\n"


def atomic_write_json(path: str | os.PathLike, data: Any) -> Path:
    return atomic_write_text(path, to_json(data))


def atomic_write_csv(path: str | os.PathLike, frame: pd.DataFrame) -> Path:
    return atomic_write_text(path, frame.to_csv(index=False))


def missing_folders(folder: Path) -> list[Path]:
    """``folder`` and its ancestors that do not exist yet, nearest first (what writing into it would create)."""
    return [path for path in (folder, *folder.parents) if not path.exists()]


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove ``folders`` (nearest first) while they are empty: a failed command leaves no empty folder behind,
    and never removes what a parallel run put there."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            break


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


def check_run_name(name: str) -> str:
    """A run name is one plain folder-name part: not empty, no path separator, not ``.`` or ``..``."""
    separators = {"/", "\\", os.sep, os.altsep} - {None}
    if not name or name in (".", "..") or any(sep in name for sep in separators) or "\0" in name:
        raise LicliError(f"--name {name!r} is not a plain name (it becomes a folder name inside --out)",
                         "pass a name without '/', '\\' or '..', e.g. --name baseline-seed1")
    return name


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
