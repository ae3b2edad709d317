"""Atomic file writing and run folders (``reports/<command>/<timestamp>-<name>/``)."""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from licli.errors import LicliError

if TYPE_CHECKING:
    import pandas as pd


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a temp file in the same folder, fsync it, then ``os.replace`` it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
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
    """``<root>/<command>/<YYYYmmdd-HHMMSS>-<name>``, suffixed ``-2``, ``-3``… if taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = Path(root) / command / f"{stamp}-{name}"
    suffix = 1
    while path.exists():
        suffix += 1
        path = Path(root) / command / f"{stamp}-{name}-{suffix}"
    return path


class RunFolder:
    """A run's folder: results are written atomically into it, the manifest last.

    The folder is created on first use so that a command failing on bad input leaves nothing behind.
    """

    def __init__(self, path: str | os.PathLike, manifest: dict[str, Any]) -> None:
        self.path = Path(path)
        check_writable(self.path.parent)
        self.manifest = manifest
        self.manifest.setdefault("files", {})
        self.manifest.setdefault("inputs", {})

    def ensure(self) -> Path:
        """Create the folder (on first use) and return its path."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise LicliError(f"cannot create run folder {str(self.path)!r} ({error.strerror or error})",
                             "pass a writable folder with --out") from None
        return self.path

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
        from licli.runtime import sha256_file

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
