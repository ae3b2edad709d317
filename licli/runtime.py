"""Where a run happens and what it records: device resolution, seeding, and the run manifest."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from licli import __version__
from licli.errors import LicliError

if TYPE_CHECKING:  # torch is imported where it is used: `licli --help` starts without it
    import torch

MANIFEST_PACKAGES = ("torch", "torchvision", "numpy", "scipy", "Pillow", "pandas", "cleverhans",
                     "pyautoattack", "grad-cam", "safetensors")


GLIBC_M_TRIM_THRESHOLD, GLIBC_M_MMAP_MAX = -1, -4
ALLOCATOR_TRIM_BYTES = 1 << 30
CPU_ALLOCATOR = "default"
"""How CPU memory is allocated in this process (recorded in every manifest)."""


def tune_cpu_allocator() -> bool:
    """Keep freed CPU memory in glibc's heap instead of returning it to the kernel.

    By default glibc serves every block over 32 MiB (and, until its threshold adapts, over 128 KiB) with
    a fresh ``mmap`` and unmaps it on free, so each batch's activation tensors are page-faulted in anew:
    on the 2-core CI machine that made a 32-filter convolution of 512 MNIST images and its sigmoid 3× slower
    (``benchmarks/allocator.py``). Serving all blocks from the heap and trimming only above 1 GiB of free
    memory is what tcmalloc/jemalloc do without asking. A process-wide setting, so only entry points call
    it (the ``licli`` command, the benchmarks); the library never does.
    Returns whether it applied (glibc only; elsewhere a no-op).
    """
    global CPU_ALLOCATOR
    applied = set_glibc_allocator(mmap_max=0, trim_bytes=ALLOCATOR_TRIM_BYTES)
    if applied:
        CPU_ALLOCATOR = "glibc heap only (mmap off, trim above 1 GiB)"
    return applied


def set_glibc_allocator(*, mmap_max: int, trim_bytes: int) -> bool:
    """glibc's ``mallopt(M_MMAP_MAX)`` and ``mallopt(M_TRIM_THRESHOLD)``; False where glibc is absent."""
    import ctypes
    import ctypes.util

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(GLIBC_M_MMAP_MAX, mmap_max)) and bool(libc.mallopt(GLIBC_M_TRIM_THRESHOLD,
                                                                                    trim_bytes))
    except (OSError, AttributeError):
        return False


def resolve_device(name: str) -> torch.device:
    """``auto`` picks cuda:0 when available, else cpu; any named device must exist (no silent fallback)."""
    import torch

    name = name.strip().lower()
    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise LicliError(f"unknown device {name!r}", "use auto, cpu, cuda or cuda:N") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise LicliError(f"device type {device.type!r} is not supported", "use auto, cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise LicliError(f"device {name!r} was asked for but CUDA is not available on this machine",
                         "use --device cpu (or auto)")
    index = device.index if device.index is not None else 0
    count = torch.cuda.device_count()
    if index >= count:
        raise LicliError(f"device cuda:{index} does not exist (this machine has {count} CUDA device(s))",
                         f"use one of cuda:0..cuda:{count - 1} or cpu")
    return torch.device("cuda", index)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch (all devices); return a CPU generator seeded with ``seed``."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def package_versions(names: Iterable[str] = MANIFEST_PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {"licli": __version__, "python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The git revision and dirty flag of the licli source tree (``None`` outside a checkout)."""
    where = Path(path) if path else Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip() != ""
        return {"sha": sha, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"sha": None, "dirty": None}


def device_info(device: torch.device) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {"device": str(device), "torch_threads": torch.get_num_threads(),
                            "cpu": platform.processor() or platform.machine()}
    if device.type == "cuda":
        info["gpu_name"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def base_manifest(command: str, config: Any, device: torch.device, seed: int | None,
                  argv: list[str] | None = None) -> dict[str, Any]:
    """The manifest fields known when a run starts; the run folder adds files, hashes and end time.

    ``argv`` defaults to ``sys.argv``.
    """
    from dataclasses import asdict, is_dataclass

    return {
        "command": command,
        "argv": list(sys.argv if argv is None else argv),
        "config": asdict(config) if is_dataclass(config) else config,
        "seed": seed,
        "versions": package_versions(),
        "git": git_revision(),
        "device": device_info(device),
        "cpu_allocator": CPU_ALLOCATOR,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "started_unix": time.time(),
    }
