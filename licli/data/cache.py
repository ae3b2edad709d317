"""Decoded datasets cached as ``.npy`` arrays in the user cache folder (``cache_dir()``).

An entry is the folder ``<cache>/<namespace>/<key>/`` holding one ``<name>.npy`` per array. It is
written into a temporary folder beside its final place and renamed into place, so a reader sees a
complete entry or none; an entry that cannot be read is rebuilt, one that cannot be written is
skipped. Arrays are loaded with ``allow_pickle=False``: a cache file can never run code.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from licli.data.core import cache_dir


def cached_arrays(namespace: str, key: str, names: Sequence[str], build: Callable[[], dict[str, np.ndarray]],
                  *, mmap: bool = False) -> dict[str, np.ndarray]:
    """The arrays ``names`` of entry ``key``: loaded from the cache, else ``build()`` and cached.

    ``mmap`` maps the cached files copy-on-write (``np.load(mmap_mode="c")``): pages are read when
    used, and writes to the arrays stay in memory, never reaching the cache.
    """
    folder = cache_dir() / namespace / key
    if all((folder / f"{name}.npy").exists() for name in names):
        try:
            return {name: np.load(folder / f"{name}.npy", mmap_mode="c" if mmap else None, allow_pickle=False)
                    for name in names}
        except (OSError, ValueError, EOFError):
            shutil.rmtree(folder, ignore_errors=True)
    arrays = build()
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=folder.parent))
        for name in names:
            with open(staging / f"{name}.npy", "wb") as handle:
                np.save(handle, arrays[name], allow_pickle=False)
                handle.flush()
                os.fsync(handle.fileno())
        try:
            os.replace(staging, folder)
        except OSError:  # another process cached it first
            shutil.rmtree(staging, ignore_errors=True)
    except OSError:
        pass
    return arrays
