"""channels_last against the contiguous layout on this machine: one forward+backward of licli's conv models,
the two layouts interleaved in one process, median CPU seconds of ``--repeats`` rounds, and their ratio
(> 1: channels_last is slower). It decides ``licli.runtime.channels_last_for``'s CPU default.

    PYTHONPATH=. python benchmarks/channels_last.py [--repeats 5] [--batch 64]
"""

from __future__ import annotations

import argparse
import statistics
import time

import pandas as pd
import torch
import torch.nn.functional as F

from licli.models import ModelSpec, build_model

MODELS = {
    "small-cnn": ModelSpec("small-cnn", 10, 1, (28, 28)),
    "gap-cnn": ModelSpec("gap-cnn", 10, 3, (32, 32)),
    "resnet18": ModelSpec("resnet18", 10, 3, (32, 32)),
    "vgg16 (1/8 width)": ModelSpec("vgg16", 10, 3, (32, 32), {"channels": 8, "width": 64}),
}


def step_seconds(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    began = time.process_time()
    F.cross_entropy(model(x), y).backward()
    return time.process_time() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    rows = []
    for name, spec in MODELS.items():
        torch.manual_seed(0)
        models = {"contiguous": build_model(spec)}
        models["channels_last"] = build_model(spec).to(memory_format=torch.channels_last)
        models["channels_last"].load_state_dict(models["contiguous"].state_dict())
        x = torch.rand(args.batch, spec.in_channels, *spec.image_size)
        inputs = {"contiguous": x, "channels_last": x.contiguous(memory_format=torch.channels_last)}
        y = torch.randint(10, (args.batch,))
        times: dict[str, list[float]] = {layout: [] for layout in models}
        for layout in models:  # warm-up
            step_seconds(models[layout], inputs[layout], y)
        for _ in range(args.repeats):
            for layout in models:
                times[layout].append(step_seconds(models[layout], inputs[layout], y))
        medians = {layout: statistics.median(t) for layout, t in times.items()}
        rows.append({"model": name, "batch": args.batch, "contiguous_s": medians["contiguous"],
                     "channels_last_s": medians["channels_last"],
                     "ratio": medians["channels_last"] / medians["contiguous"]})
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU seconds per forward+backward")
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.4f}"))


if __name__ == "__main__":
    main()
