"""Cost of licli's wrapper around a foreign model (input-size check + normalisation) in one process.

    OMP_NUM_THREADS=1 python benchmarks/foreign_wrapper.py

Times forward+backward w.r.t. the input (one gradient-attack step) through ``load_model``'s model
and through the bare network with the normalisation written by hand, on pyautoattack's example
CIFAR-10 ResNet-18; prints images/s of both and their ratio (1.0 = no overhead).
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import torch

from licli.models.foreign import ForeignSpec
from licli.sources import ModelSource, load_model
from licli.runtime import tune_cpu_allocator

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


def images_per_second(step, x: torch.Tensor, repeats: int = 5) -> float:
    step(x)
    start = time.perf_counter()
    for _ in range(repeats):
        step(x)
    return repeats * len(x) / (time.perf_counter() - start)


def main(batch: int = 64) -> None:
    examples = Path(str(resources.files("pyautoattack") / "examples"))
    spec = ForeignSpec(kind="definition", target=f"{examples / 'resnet.py'}:ResNet18", input_mean=MEAN, input_std=STD)
    loaded = load_model(ModelSource(foreign=spec, weights=str(examples / "model_test.pt")), torch.device("cpu"))
    bare = loaded.model.net
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    for p in loaded.model.parameters():
        p.requires_grad_(False)

    def step(model):
        def run(x):
            x = x.clone().requires_grad_(True)
            model(x).logsumexp(1).sum().backward()
        return run

    x = torch.rand(batch, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    wrapped = images_per_second(step(loaded.model), x)
    plain = images_per_second(step(lambda v: bare((v - mean) / std)), x)
    print(f"wrapped {wrapped:.1f} img/s, bare {plain:.1f} img/s, ratio {wrapped / plain:.3f} (batch {batch})")


if __name__ == "__main__":
    tune_cpu_allocator()  # what the licli command does
    main()
