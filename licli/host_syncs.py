"""Count the calls that make the host wait for the device (CUDA stream syncs), on any device.

A CUDA step loop runs at the GPU's speed only if the host never waits for it. The calls that wait
are the same on every device, so counting them on the CPU pins them for CUDA:

- reads of device values into Python: ``.item()``, ``.tolist()``, ``.cpu()``/``.numpy()``, ``bool``/
  ``int``/``float`` of a tensor (``if tensor:``), including those ATen makes internally
  (``aten._local_scalar_dense``, ``torch.allclose``/``torch.equal``, seen by a dispatch mode);
- operations whose output size depends on the data: ``nonzero``, ``masked_select``, ``unique``,
  boolean-mask indexing (``aten.nonzero``/``aten.masked_select``/``aten._unique2`` …);
- blocking host-to-device copies: ``.to(...)``/``.cuda()``/``.copy_`` of a CPU tensor without
  ``non_blocking=True`` (a copy from pageable memory waits), and ``torch.tensor``/``torch.as_tensor``
  with a ``device`` (a Python value copied to the device).

On a CPU run the copies are CPU-to-CPU, but the code path is the one a CUDA run takes, so the count
is what CUDA would see. ``HostSyncCounter`` is both a function mode (Python-level calls) and a
dispatch mode (ATen-level reads); a read is counted once.
"""

from __future__ import annotations

from collections import Counter
from contextlib import ExitStack
from typing import Any

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

READS = {torch.Tensor.item: "item", torch.Tensor.tolist: "tolist", torch.Tensor.cpu: "cpu",
         torch.Tensor.numpy: "numpy", torch.Tensor.__bool__: "bool", torch.Tensor.__int__: "int",
         torch.Tensor.__float__: "float", torch.Tensor.__index__: "index"}
COPIES = {torch.Tensor.to: "to", torch.Tensor.cuda: "cuda", torch.Tensor.copy_: "copy_"}
FROM_PYTHON = {torch.tensor: "tensor", torch.as_tensor: "as_tensor"}
SCALAR_READS = {"aten::_local_scalar_dense": "aten_scalar_read", "aten::allclose": "allclose",
                "aten::equal": "equal", "aten::is_nonzero": "aten_scalar_read"}
"""ATen operations returning a Python value read from the device (``torch.allclose`` …)."""
DATA_DEPENDENT = {"aten::nonzero": "nonzero", "aten::masked_select": "masked_select", "aten::_unique2": "unique",
                  "aten::unique_dim": "unique", "aten::unique_consecutive": "unique", "aten::nonzero_static": None,
                  "aten::repeat_interleave": None}


def _blocking_copy(func: Any, args: tuple, kwargs: dict) -> bool:
    """A copy of a CPU tensor to a device (named or a tensor's) without ``non_blocking=True``."""
    if kwargs.get("non_blocking") or any(arg is True for arg in args[1:] if isinstance(arg, bool)):
        return False
    source = args[1] if func is torch.Tensor.copy_ and len(args) > 1 else args[0]
    if not isinstance(source, torch.Tensor) or source.device.type != "cpu":
        return False
    if func is torch.Tensor.cuda:
        return True
    if func is torch.Tensor.copy_:
        return True
    names_device = "device" in kwargs or any(isinstance(arg, (torch.device, str, torch.Tensor)) for arg in args[1:])
    return names_device


def _has_mask(args: tuple) -> bool:
    indices = args[1] if len(args) > 1 and isinstance(args[1], (list, tuple)) else ()
    return any(isinstance(i, torch.Tensor) and i.dtype in (torch.bool, torch.uint8) for i in indices)


class _Dispatch(TorchDispatchMode):
    def __init__(self, counts: Counter, state: dict) -> None:
        super().__init__()
        self.counts, self.state = counts, state

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name
        if name in SCALAR_READS and not self.state["in_read"]:
            self.counts[SCALAR_READS[name]] += 1
        elif DATA_DEPENDENT.get(name):
            self.counts[DATA_DEPENDENT[name]] += 1
        elif name in ("aten::index", "aten::index_put", "aten::index_put_") and _has_mask(args):
            self.counts["boolean_mask_index"] += 1
        return func(*args, **(kwargs or {}))


class HostSyncCounter(TorchFunctionMode):
    """``with HostSyncCounter() as counter: …`` then ``counter.counts`` (a Counter by kind) and ``counter.total``."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: Counter = Counter()
        self._state = {"in_read": False}
        self._stack = ExitStack()

    def __enter__(self) -> "HostSyncCounter":
        self._stack.enter_context(_Dispatch(self.counts, self._state))
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        self._stack.close()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in READS:
            self.counts[READS[func]] += 1
            self._state["in_read"] = True
            try:
                return func(*args, **kwargs)
            finally:
                self._state["in_read"] = False
        if func in COPIES and _blocking_copy(func, args, kwargs):
            self.counts[f"blocking_{COPIES[func]}"] += 1
        elif func in FROM_PYTHON and kwargs.get("device") is not None:
            self.counts[f"{FROM_PYTHON[func]}_to_device"] += 1
        return func(*args, **kwargs)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def snapshot(self) -> Counter:
        return Counter(self.counts)
