"""What ``licli.runtime.tune_cpu_allocator`` buys: the same operations with glibc's default allocator
and with the tuned one, interleaved in one process (the setting only changes how later allocations are
served, so the two modes can alternate), median of ``--repeats`` rounds.

    PYTHONPATH=. python benchmarks/allocator.py [--repeats 7]

Operations: a 32-filter 3×3 convolution of 512 MNIST-sized images, a sigmoid over its output, and one
Oracle-MNIST training step (oracle-net, batch 128, fused Adam) — each allocates tens of megabytes.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import pandas as pd
import torch
import torch.nn.functional as F

from licli.data import load_dataset
from licli.evaluations.oracle import METHODS, OracleConfig
from licli.models import build_model
from licli.models.oracle_net import feature_groups
from licli.runtime import set_glibc_allocator, tune_cpu_allocator
from licli.training.loop import model_spec_for
from licli.training.optimizers import OPTIMIZERS

GLIBC_DEFAULT_MMAP_MAX, GLIBC_DEFAULT_TRIM = 65536, 128 * 1024


def default_allocator() -> None:
    set_glibc_allocator(mmap_max=GLIBC_DEFAULT_MMAP_MAX, trim_bytes=GLIBC_DEFAULT_TRIM)


def seconds(operation: Callable[[], object], calls: int = 5) -> float:
    operation()
    began = time.perf_counter()
    for _ in range(calls):
        operation()
    return (time.perf_counter() - began) / calls


def operations() -> dict[str, Callable[[], object]]:
    images = torch.rand(512, 1, 28, 28)
    weight, bias = torch.randn(32, 1, 3, 3), torch.randn(32)
    conv_out = F.conv2d(images, weight, bias).detach()
    data = load_dataset("oracle-mnist-mini")
    config = OracleConfig()
    train_config = config.train_config(METHODS["erm"], feature_groups(10, **config.model_options()), 0, data.name)
    model = build_model(model_spec_for(train_config, data)).train()
    optimizer = OPTIMIZERS["adam"](list(model.parameters()), train_config)
    x, y = data.train.images[:128].float() / 255, data.train.labels[:128]

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return {"conv 512×(1→32, 3×3)": torch.no_grad()(lambda: F.conv2d(images, weight, bias)),
            "sigmoid 512×32×26×26": torch.no_grad()(lambda: torch.sigmoid(conv_out)),
            "oracle-net training step (128)": step}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    ops = operations()
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeats):
        for mode, apply in (("default", default_allocator), ("tuned", tune_cpu_allocator)):
            apply()
            for name, operation in ops.items():
                times.setdefault((name, mode), []).append(seconds(operation))
    rows = [{"operation": name, "default_ms": 1e3 * statistics.median(times[(name, "default")]),
             "tuned_ms": 1e3 * statistics.median(times[(name, "tuned")])} for name in ops]
    frame = pd.DataFrame(rows)
    frame["speedup"] = frame["default_ms"] / frame["tuned_ms"]
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
