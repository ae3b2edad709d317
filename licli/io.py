"""Atomic file writes (temp file, fsync, ``os.replace``), JSON without NaN, and the one-line error for a
full or read-only disk. Every module that writes a file goes through here."""

from __future__ import annotations

import errno
import json
import math
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from licli.errors import LicliError

if TYPE_CHECKING:
    import pandas as pd


FULL_OR_READ_ONLY = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def write_failed(path: Path, error: OSError) -> LicliError:
    """The one-line error for a file that could not be written (a full disk, a read-only folder…)."""
    fix = ("free some space there or pass another out=…" if error.errno in (errno.ENOSPC, errno.EDQUOT)
           else "pass a writable folder as out=…")
    return LicliError(f"cannot write {path} ({error.strerror or error})", fix, field="out")


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
