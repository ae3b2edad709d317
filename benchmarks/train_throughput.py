"""Training-loop overhead: images/s of ``licli.training.train`` vs a bare loop, in one process.

    OMP_NUM_THREADS=2 python benchmarks/train_throughput.py [--model small-cnn] [--batch-size 128]
        [--images 4096] [--repeats 3] [--device cpu]

Both loops train the same architecture (fresh seeded weights, SGD with momentum) on the same
``mnist-mini`` images with the same batch size. The bare loop is forward + cross-entropy + backward +
optimizer step on batches already converted to float; licli's loop adds its on-device shuffling,
uint8→float conversion, loss/accuracy accumulation and the end-of-epoch test evaluation (on a
256-image test split, as a cost every real epoch pays). The two are interleaved ``--repeats`` times
and the medians compared, so machine load affects both alike. Target: ratio ≥ 0.9 on CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch
import torch.nn.functional as F

from licli.config import TrainConfig
from licli.data import Dataset, load_dataset
from licli.models import build_model
from licli.runtime import resolve_device
from licli.training import OPTIMIZERS, model_spec_for, train


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bare_loop(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, config: TrainConfig,
              device: torch.device) -> float:
    """Seconds for one epoch of forward + backward + step over pre-made float batches."""
    optimizer = OPTIMIZERS[config.optimizer](model.parameters(), config)
    model.train()
    batches = list(zip(x.split(config.batch_size), y.split(config.batch_size)))
    synchronize(device)
    began = time.perf_counter()
    for xb, yb in batches:
        loss = F.cross_entropy(model(xb), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return time.perf_counter() - began


def licli_loop(model: torch.nn.Module, data: Dataset, config: TrainConfig, device: torch.device) -> float:
    synchronize(device)
    began = time.perf_counter()
    train(model, data, config, device=device)
    synchronize(device)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="small-cnn")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--images", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    device = resolve_device(args.device)
    full = load_dataset("mnist-mini")
    data = dataclasses.replace(full, train=full.train.subset(torch.arange(args.images)),
                               test=full.test.subset(torch.arange(256)))
    config = TrainConfig(model=args.model, dataset="mnist-mini", epochs=1, batch_size=args.batch_size)
    spec = model_spec_for(config, data)
    x = data.train.floats(device)
    y = data.train.labels.to(device)
    bare_times, licli_times = [], []
    for _ in range(args.repeats + 1):  # the first round warms up both loops and is discarded
        torch.manual_seed(0)
        bare_times.append(bare_loop(build_model(spec).to(device), x, y, config, device))
        torch.manual_seed(0)
        licli_times.append(licli_loop(build_model(spec).to(device), data, config, device))
    bare = args.images / statistics.median(bare_times[1:])
    licli = args.images / statistics.median(licli_times[1:])
    print(f"model {args.model} · batch {args.batch_size} · {args.images} images · device {device} · "
          f"{torch.get_num_threads()} threads · median of {args.repeats}")
    print(f"bare forward+backward+step: {bare:8.0f} img/s")
    print(f"licli.training.train:       {licli:8.0f} img/s")
    print(f"ratio licli / bare:         {licli / bare:8.3f}")


if __name__ == "__main__":
    main()
