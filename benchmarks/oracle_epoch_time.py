"""Seconds per Oracle-MNIST training epoch for ERM and each Local Inhibition variant, in one process.

A step is what ``licli.training.loop.train`` does per batch (objective, backward, optimizer step, every
``after_optimizer_step`` hook — LI's calibration). Methods take turns step by step (round robin) so
that load on a shared machine affects all alike; the mean step time × steps per epoch gives seconds
per epoch on full MNIST (60,000 images) and on mnist-mini (10,000), and the ratio to ERM. Process CPU
time per step is reported too: on a machine shared with other jobs, wall time mostly measures waiting.

    OMP_NUM_THREADS=1 PYTHONPATH=. python benchmarks/oracle_epoch_time.py --steps 20
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from licli.data import load_dataset
from licli.evaluations.oracle import METHODS, OracleConfig
from licli.models import build_model
from licli.models.oracle_net import feature_groups
from licli.runtime import tune_cpu_allocator
from licli.training.loop import model_spec_for, objective_for
from licli.training.optimizers import OPTIMIZERS
from licli.hooks import StepContext


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="erm,li,li-separate,li+sd,li-separate+sd")
    parser.add_argument("--calibration", default="paper", help="LI calibration: paper or online")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--pool", type=int, default=1, help="oracle-net max-pool (1 = none)")
    parser.add_argument("--default-allocator", action="store_true", help="skip licli's CPU allocator tuning")
    args = parser.parse_args()
    if not args.default_allocator:
        tune_cpu_allocator()
    data = load_dataset("oracle-mnist-mini")
    train = data.train
    config = OracleConfig(batch_size=args.batch_size, pool=args.pool, li_overrides={"calibration": args.calibration})
    groups = feature_groups(data.num_classes, **config.model_options())
    runs = {}
    for name in args.methods.split(","):
        train_config = config.train_config(METHODS[name], groups, 0, data.name)
        torch.manual_seed(0)
        model = build_model(model_spec_for(train_config, data)).train()
        model(train.images[:2].float() / 255)  # materialise lazy buffers before timing
        hooks = [m.after_optimizer_step for m in model.modules() if hasattr(m, "after_optimizer_step")]
        runs[name] = (model, OPTIMIZERS[train_config.optimizer](list(model.parameters()), train_config),
                      objective_for(train_config), hooks, torch.Generator().manual_seed(0), [])
    for step in range(args.steps + 1):
        index = torch.randint(len(train), (args.batch_size,), generator=torch.Generator().manual_seed(step))
        x, y = train.images[index].float() / 255, train.labels[index]
        for model, optimizer, objective, hooks, generator, times in runs.values():
            began, cpu = time.perf_counter(), time.process_time()
            loss, _ = objective(model, x, y, index)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            for hook in hooks:
                hook(StepContext(model, 0, step, train, generator))
            if step:  # the first step warms up
                times.append((time.perf_counter() - began, time.process_time() - cpu))
    rows = []
    for name, run in runs.items():
        per_step, cpu_per_step = (sum(t) / args.steps for t in zip(*run[5]))
        rows.append({"method": name, "pool": args.pool, "calibration": args.calibration, "seconds_per_step": per_step,
                     "cpu_seconds_per_step": cpu_per_step,
                     "s_per_epoch_mnist_mini": per_step * -(-10000 // args.batch_size),
                     "s_per_epoch_mnist": per_step * -(-60000 // args.batch_size),
                     "cpu_s_per_epoch_mnist": cpu_per_step * -(-60000 // args.batch_size)})
    frame = pd.DataFrame(rows)
    if "erm" in runs:
        frame["ratio_to_erm"] = frame["seconds_per_step"] / frame.loc[frame["method"] == "erm", "seconds_per_step"].iat[0]
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
