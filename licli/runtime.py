"""Where a run happens: device resolution, seeding, numerics, and the facts a run's manifest records
(versions, git revision, device; ``licli.runs.Run`` writes them)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import platform
import random
import subprocess
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from licli.version import __version__
from licli.errors import LicliError

if TYPE_CHECKING:  # torch is imported where it is used: `licli --help` starts without it
    import torch

T = TypeVar("T")

MANIFEST_PACKAGES = ("torch", "torchvision", "numpy", "scipy", "Pillow", "pandas", "cleverhans",
                     "pyautoattack", "grad-cam", "safetensors")


GLIBC_M_TRIM_THRESHOLD, GLIBC_M_MMAP_MAX = -1, -4
ALLOCATOR_TRIM_BYTES = 1 << 30
CPU_ALLOCATOR = "default"
"""How CPU memory is allocated in this process (recorded in every manifest)."""
CPU_ALLOCATOR_ENV = "LICLI_CPU_ALLOCATOR"
"""``LICLI_CPU_ALLOCATOR=0`` keeps glibc's defaults (opt out of ``tune_cpu_allocator``)."""


def tune_cpu_allocator_for(device: torch.device) -> bool:
    """``tune_cpu_allocator`` for CPU runs only: a CUDA run's tensors live in the CUDA caching allocator,
    where glibc's settings only keep freed host memory (decoded datasets) from going back to the kernel.
    ``LICLI_CPU_ALLOCATOR=0`` opts out. Returns whether it applied."""
    if device.type != "cpu" or os.environ.get(CPU_ALLOCATOR_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return tune_cpu_allocator()


def tune_cpu_allocator() -> bool:
    """Keep freed CPU memory in glibc's heap instead of returning it to the kernel.

    By default glibc serves every block over 32 MiB (and, until its threshold adapts, over 128 KiB) with
    a fresh ``mmap`` and unmaps it on free, so each batch's activation tensors are page-faulted in anew:
    on the 2-core CI machine that made a 32-filter convolution of 512 MNIST images and its sigmoid 3× slower
    (``benchmarks/allocator.py``). Serving all blocks from the heap and trimming only above 1 GiB of free
    memory is what tcmalloc/jemalloc do without asking. A process-wide setting, so only entry points call
    it (``recorded_run`` for CPU runs through ``tune_cpu_allocator_for``, the benchmarks); the library never does.
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
        raise LicliError(f"device {name!r} is unknown", "pass device=auto, cpu, cuda or cuda:N", field="device") from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise LicliError(f"device {name!r} is not supported (type {device.type!r})", "pass device=auto, cpu, cuda or cuda:N",
                         field="device")
    if not torch.cuda.is_available():
        raise LicliError(f"device {name!r} was asked for but CUDA is not available on this machine",
                         "pass device=cpu (or auto)", field="device")
    index = device.index if device.index is not None else 0
    count = torch.cuda.device_count()
    if index >= count:
        raise LicliError(f"device cuda:{index} does not exist (this machine has {count} CUDA device(s))",
                         f"pass device=cuda:0 … cuda:{count - 1}, or device=cpu", field="device")
    return torch.device("cuda", index)


SEED_LIMIT = 2**32
"""Seeds are in [0, 2³²): numpy's legacy seeding takes no more, and it keeps ``seed + offset`` in range."""


def check_seed(seed: int) -> int:
    """``seed`` if it is an integer in [0, 2³²), else a ``LicliError``."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEED_LIMIT:
        raise LicliError(f"seed must be an integer in [0, {SEED_LIMIT - 1}] (got {seed!r})", "pass e.g. seed=1",
                         field="seed")
    return seed


def to_device_async(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """``tensor`` (CPU) on ``device`` without a host sync: a CUDA copy goes from pinned memory, non-blocking
    (a copy from pageable memory waits for the stream)."""
    if device.type == "cuda":
        tensor = tensor.pin_memory()
    return tensor.to(device, non_blocking=True)


CHANNELS_LAST_VARIABLE = "LICLI_CHANNELS_LAST"


def channels_last_for(device: torch.device) -> bool:
    """Whether models run in the channels_last memory format on ``device``: on CUDA (cuDNN's NHWC
    convolutions), not on a CPU by default, so that CPU results stay bit-identical to earlier runs and to
    the regression baselines (on a CPU it was measured no slower: docs/performance.md); the environment
    variable ``LICLI_CHANNELS_LAST=1``/``0`` forces it on or off."""
    setting = os.environ.get(CHANNELS_LAST_VARIABLE, "").strip()
    if setting not in ("", "0", "1"):
        raise LicliError(f"{CHANNELS_LAST_VARIABLE}={setting!r} is neither 0 nor 1",
                         f"set {CHANNELS_LAST_VARIABLE}=1 (channels_last), 0 (contiguous) or leave it unset")
    return setting == "1" if setting else device.type == "cuda"


def memory_format_name(device: torch.device) -> str:
    """``channels_last`` or ``contiguous`` (the manifest's ``memory_format``)."""
    return "channels_last" if channels_last_for(device) else "contiguous"


def in_memory_format(model: T, device: torch.device) -> T:
    """``model`` (an ``nn.Module`` already on ``device``) with its 4-D parameters and buffers in
    channels_last where ``channels_last_for(device)``; convolutions then keep their activations in it.
    Other tensors (linear layers, mechanisms) are left as they are."""
    import torch

    if channels_last_for(device):
        model.to(memory_format=torch.channels_last)
    return model


def use_device(device: torch.device) -> None:
    """Make ``device`` the current CUDA device (no-op on CPU): libraries that seed or allocate on "the"
    GPU (pyautoattack reseeds the current device, ``fork_rng`` restores it, ``torch.cuda.*`` defaults to
    it) then act on ``--device cuda:N`` rather than on cuda:0."""
    import torch

    if device.type == "cuda":
        torch.cuda.set_device(device)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, numpy and torch (all devices); return a CPU generator seeded with ``seed``."""
    import numpy as np
    import torch

    check_seed(seed)
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
        info["gpu_capability"] = ".".join(map(str, torch.cuda.get_device_capability(device)))
        info["cuda"] = torch.version.cuda
    info["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return info


PRECISIONS = ("fp32", "tf32", "bf16")
"""``fp32``: IEEE float32 everywhere (the reference). ``tf32``: float32 tensors, CUDA matmuls and
convolutions on TF32 tensor cores (10-bit mantissa products, float32 sums) and cuDNN's autotuner.
``bf16``: ``tf32`` plus autocast of the forward pass to bfloat16 (CUDA and CPU); weights, gradients,
optimizer states and losses stay float32. Second-order evaluations (Fisher-Rao, GSNR, Hessian) take
no precision option: they always run at fp32."""
CUBLAS_WORKSPACE = ":4096:8"
"""cuBLAS's deterministic workspace setting (CUDA docs, "Results reproducibility")."""


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise LicliError(f"unknown precision {precision!r}", f"choose one of: {', '.join(PRECISIONS)}")
    return precision


def autocast(precision: str, device: torch.device):
    """The forward-pass context of ``precision``: bfloat16 autocast for ``bf16``, else nothing."""
    import torch

    if check_precision(precision) == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


@contextmanager
def precision_scope(precision: str, device: torch.device) -> Iterator[dict[str, Any]]:
    """Set the process-wide CUDA math flags of ``precision`` for the block, restore them after; yield them.

    TF32 and the cuDNN autotuner apply to ``tf32``/``bf16`` on CUDA only; under ``--deterministic``
    (``torch.are_deterministic_algorithms_enabled()``) the autotuner stays off. Autocast is separate
    (``autocast``): it wraps forward passes only."""
    import torch

    check_precision(precision)
    fast = precision != "fp32" and device.type == "cuda"
    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark)
    torch.backends.cuda.matmul.allow_tf32 = fast
    torch.backends.cudnn.allow_tf32 = fast
    torch.backends.cudnn.benchmark = fast and not torch.are_deterministic_algorithms_enabled()
    try:
        yield numerics(precision)
    finally:
        (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32,
         torch.backends.cudnn.benchmark) = saved


def numerics_under(precision: str, device: torch.device) -> dict[str, Any]:
    """The flags ``precision_scope(precision, device)`` runs under (for the manifest of a command that uses it)."""
    with precision_scope(precision, device) as flags:
        return flags


def numerics(precision: str | None = None) -> dict[str, Any]:
    """The math and determinism flags in force now (for the manifest)."""
    import torch

    return {"precision": precision, "autocast": "bfloat16" if precision == "bf16" else None,
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "tf32_cudnn": torch.backends.cudnn.allow_tf32,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
            "cudnn_version": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None}


NONDETERMINISTIC_MESSAGE = "does not have a deterministic implementation"


@contextmanager
def deterministic_scope(enabled: bool) -> Iterator[None]:
    """``--deterministic``: deterministic kernels only (``torch.use_deterministic_algorithms``), cuDNN
    deterministic without autotuning, cuBLAS's fixed workspace; everything restored after the block.

    ``CUBLAS_WORKSPACE_CONFIG`` takes effect only if cuBLAS was not yet used in this process (the CLI
    sets it before any CUDA work); a value already set by the user is kept."""
    import torch

    if not enabled:
        yield
        return
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark, os.environ.get("CUBLAS_WORKSPACE_CONFIG"))
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[2], saved[3]
        if saved[4] is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)


@contextmanager
def nondeterminism_explained() -> Iterator[None]:
    """Turn torch's error for an operation without a deterministic kernel into a LicliError naming it."""
    try:
        yield
    except RuntimeError as error:
        if NONDETERMINISTIC_MESSAGE not in str(error):
            raise
        raise LicliError(f"deterministic: {str(error).splitlines()[0]}",
                         "run without it (its results may then vary between runs)", field="deterministic") from None


@contextmanager
def out_of_memory_explained() -> Iterator[None]:
    """Turn a device out-of-memory error into a LicliError naming ``batch_size``."""
    import torch

    try:
        yield
    except torch.OutOfMemoryError as error:
        raise LicliError(f"out of device memory ({str(error).splitlines()[0][:160]})",
                         "pass a smaller batch_size=… (or batch_size=auto where a command offers it)",
                         field="batch_size") from None


def parse_batch_size(text: str | int, field: str = "batch_size") -> int | None:
    """``"250"`` → 250; ``"auto"`` → None (``first_batch_size`` then ``largest_batch_that_fits`` choose)."""
    if str(text).strip().lower() == "auto":
        return None
    try:
        value = int(str(text))
    except ValueError:
        raise LicliError(f"{field} {text!r} is neither a number nor auto", f"pass e.g. {field}=250 or {field}=auto",
                         field=field) from None
    if value < 1:
        raise LicliError(f"{field} must be ≥ 1 (got {value})", f"pass e.g. {field}=250 or {field}=auto", field=field)
    return value


def first_batch_size(device: torch.device, items: int, cpu_default: int) -> int:
    """Where ``--batch-size auto`` starts: every item at once on CUDA (halved on out-of-memory), the
    command's default on a CPU (whose memory does not fail fast: it swaps)."""
    return max(items, 1) if device.type == "cuda" else cpu_default


def largest_batch_that_fits(work: Callable[[int], T], start: int, *, back_off: bool = True) -> tuple[T, int]:
    """``work(batch_size)`` with the largest batch size that fits: ``start``, halved after every
    out-of-memory error (the device's cache emptied in between); without ``back_off`` the error
    propagates (an explicit ``--batch-size``). Returns (result, batch size used)."""
    import torch

    size = max(int(start), 1)
    while True:
        try:
            return work(size), size
        except torch.OutOfMemoryError:
            if size == 1 or not back_off:
                raise
            size = max(size // 2, 1)
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def cuda_rng_state(device: torch.device) -> torch.Tensor | None:
    """The RNG state of ``device``'s CUDA generator (None on CPU)."""
    import torch

    return torch.cuda.get_rng_state(device) if device.type == "cuda" else None


def restore_cuda_rng_state(device: torch.device, state: torch.Tensor | None, saved_on: str | None) -> bool:
    """Restore ``state`` (saved on device ``saved_on``) into ``device``'s generator; warn and skip when the
    run was saved on another device kind (a resume is then not bit-exact). Returns whether it restored."""
    import torch

    here = str(device)
    if device.type != "cuda" and saved_on in (None, "cpu"):
        return False
    if state is None or saved_on is None or device.type != "cuda" or saved_on.split(":")[0] != "cuda":
        warnings.warn(f"the training state was saved on {saved_on or 'an unknown device'} and resumes on {here}: "
                      "its device random numbers are not restored, so the resumed run is not bit-exact",
                      UserWarning, stacklevel=2)
        return False
    torch.cuda.set_rng_state(state, device)
    return True
