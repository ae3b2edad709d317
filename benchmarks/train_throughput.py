"""Training-loop overhead: images/s of ``licli.training.loop.train`` vs a bare loop, in one process.

    OMP_NUM_THREADS=2 python benchmarks/train_throughput.py [--model small-cnn] [--batch-size 128]
        [--images 2048] [--repeats 5] [--device cpu]

Both loops train the same architecture (fresh seeded weights, SGD with momentum) on the same
``mnist-mini`` images with the same batch size. The bare loop is forward + cross-entropy + backward +
optimizer step on batches already converted to float; licli's loop adds its on-device shuffling,
uint8→float conversion, loss/accuracy accumulation, model.train()/eval() switches and the
end-of-epoch test evaluation, here on a 32-image test split (a real epoch also pays the test-set
forward passes, ≈ 1/3 of a training step per test image; that is evaluation, not loop overhead).
The two are interleaved ``--repeats`` times and the median of the per-round ratios is reported, for
wall-clock time and for the process's CPU time (which a shared, loaded machine disturbs much less).
Target: ratio ≥ 0.9 on CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from licli.training.config import TrainConfig
from licli.data import load_dataset
from licli.models import build_model
from licli.runtime import resolve_device
from licli.training.loop import model_spec_for, train
from licli.training.optimizers import OPTIMIZERS
from licli.runtime import tune_cpu_allocator


def timed(run: Callable[[], None], device: torch.device) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) of ``run()``, synchronising the device around it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - wall, time.process_time() - cpu


def bare_loop(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig) -> Callable[[], None]:
    """One epoch of forward + backward + step over pre-made float batches."""
    optimizer = OPTIMIZERS[config.optimizer](list(model.parameters()), config)
    model.train()
    batches = list(zip(x.split(config.batch_size), y.split(config.batch_size)))

    def run() -> None:
        for xb, yb in batches:
            loss = F.cross_entropy(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="small-cnn")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = resolve_device(args.device)
    full = load_dataset("mnist-mini")
    data = dataclasses.replace(full, train=full.train.subset(torch.arange(args.images)),
                               test=full.test.subset(torch.arange(32)))
    config = TrainConfig(model=args.model, dataset="mnist-mini", epochs=1, batch_size=args.batch_size)
    spec = model_spec_for(config, data)
    x = data.train.floats(device)
    y = data.train.labels.to(device)
    rounds = []
    for _ in range(args.repeats + 1):  # the first round warms up both loops and is discarded
        torch.manual_seed(0)
        bare = timed(bare_loop(build_model(spec).to(device), x, y, config), device)
        torch.manual_seed(0)
        model = build_model(spec).to(device)
        licli = timed(lambda: train(model, data, config, device=device), device)
        rounds.append((bare, licli))
    print(f"model {args.model} · batch {args.batch_size} · {args.images} images · device {device} · "
          f"{torch.get_num_threads()} threads · median of {args.repeats} interleaved rounds")
    for clock, i in (("wall", 0), ("CPU", 1)):
        bare_rate = statistics.median(args.images / bare[i] for bare, _ in rounds[1:])
        licli_rate = statistics.median(args.images / licli[i] for _, licli in rounds[1:])
        ratio = statistics.median(bare[i] / licli[i] for bare, licli in rounds[1:])
        print(f"{clock:>4} time: bare forward+backward+step {bare_rate:7.0f} img/s · "
              f"licli.training.loop.train {licli_rate:7.0f} img/s · ratio licli/bare {ratio:.3f}")


if __name__ == "__main__":
    tune_cpu_allocator()  # what the licli command does
    main()
