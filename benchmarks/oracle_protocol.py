"""Which optimizer makes the Oracle-MNIST protocol valid? (issue: the default must be chosen by measurement)

For each candidate (optimizer, learning rate, momentum) it runs the protocol check of ``licli evaluate
oracle``: the no-oracle control and ERM with the oracle, same seed and data order, and prints the image
layer's saturation after the first step, the control's zeroed-oracle accuracy per epoch, and whether ERM
follows the oracle. Usage::

    LICLI_DATA_DIR=… python benchmarks/oracle_protocol.py --dataset mnist-mini --epochs 2
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from licli.data import load_dataset
from licli.evaluations.oracle import OracleConfig, run_benchmark

CANDIDATES = (("adam", 1e-3, 0.0), ("adam", 1e-4, 0.0), ("sgd", 0.1, 0.0), ("sgd", 0.01, 0.9), ("sgd", 0.05, 0.9))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist-mini", choices=["mnist-mini", "mnist"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--candidates", default=",".join(f"{o}:{lr}:{m}" for o, lr, m in CANDIDATES),
                        help="optimizer:lr:momentum, comma-separated")
    args = parser.parse_args()
    candidates = [(o, float(lr), float(m)) for o, lr, m in (c.split(":") for c in args.candidates.split(","))]
    base = load_dataset(args.dataset)
    rows, curves = [], []
    for optimizer, lr, momentum in candidates:
        began = time.perf_counter()
        config = OracleConfig(methods=("erm",), seeds=(args.seed,), epochs=args.epochs, optimizer=optimizer, lr=lr,
                              momentum=momentum)
        report = run_benchmark(base, config, device=torch.device("cpu"))
        checks = report.protocol.set_index("check")
        control = report.curves[report.curves["method"] == "no-oracle"]
        erm = report.runs.iloc[0]
        rows.append({"optimizer": optimizer, "lr": lr, "momentum": momentum,
                     "control_saturation_step1": report.protocol_runs.iloc[0]["image_saturation_step1"],
                     "control_zeroed_accuracy": checks.loc["image learnable without the oracle", "measured"],
                     "erm_follows_oracle": checks.loc["ERM follows the oracle", "measured"],
                     "erm_permuted_accuracy": erm["permuted_accuracy"], "erm_zeroed_accuracy": erm["zeroed_accuracy"],
                     "valid": report.protocol_valid, "seconds": time.perf_counter() - began})
        erm_curve = report.curves[report.curves["method"] == "erm"].set_index("epoch")["permuted_accuracy"]
        curves.append(control[["epoch", "zeroed_accuracy"]].assign(erm_permuted_accuracy=erm_curve.to_numpy(),
                                                                   optimizer=optimizer, lr=lr, momentum=momentum))
        print(pd.DataFrame(rows[-1:]).to_string(index=False), flush=True)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(pd.DataFrame(rows).to_string(index=False))
        print(pd.concat(curves).to_string(index=False))


if __name__ == "__main__":
    from licli.runtime import tune_cpu_allocator

    tune_cpu_allocator()
    main()
