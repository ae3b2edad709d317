"""Images/s of each saliency method vs one forward+backward pass of the same model, in one process.

    OMP_NUM_THREADS=2 python benchmarks/saliency_speed.py [--model gap-cnn] [--batch 100] [--repeats 5]

Reports, per method and backend, images/s and the ratio of its time to one forward + backward pass
(cross-entropy, gradients of all parameters) on the same batch: 1.0 means "as costly as a training
step without the optimizer". Also native Grad-CAM(++) vs pytorch-grad-cam.
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch
import torch.nn.functional as F

from licli.saliency import BACKENDS, LAST_LAYER_ONLY
from licli.saliency.layers import default_layers, resolve_layers
from licli.models import ModelSpec, build_model
from licli.runtime import tune_cpu_allocator


def seconds(fn, repeats: int, device: torch.device) -> float:
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="gap-cnn")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_model(ModelSpec(args.model, 10, 1, (args.size, args.size))).to(device).eval()
    x = torch.rand(args.batch, 1, args.size, args.size, device=device)
    y = torch.randint(10, (args.batch,), device=device)

    def forward_backward():
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()

    base = seconds(forward_backward, args.repeats, device)
    model.zero_grad(set_to_none=True)
    rows = [{"method": "forward+backward", "backend": "-", "images_per_s": args.batch / base, "time_ratio": 1.0}]
    for backend, registry in BACKENDS.items():
        for name, factory in registry.items():
            if backend != "native" and factory is BACKENDS["native"][name]:
                continue
            layers = resolve_layers(model, default_layers(model, (1, args.size, args.size), LAST_LAYER_ONLY[name]))
            method = factory(model, layers)
            took = seconds(lambda: method(x, y), args.repeats, device)
            rows.append({"method": name, "backend": backend, "images_per_s": args.batch / took,
                         "time_ratio": took / base})
    frame = pd.DataFrame(rows)
    native = frame.set_index(["method", "backend"])["images_per_s"]
    for name in ("gradcam", "gradcam++"):
        print(f"native {name} / pytorch-grad-cam: {native[(name, 'native')] / native[(name, 'pytorch-grad-cam')]:.2f}x")
    print(f"{args.model} {args.size}x{args.size}, batch {args.batch}, {device}, "
          f"{torch.get_num_threads()} threads")
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    tune_cpu_allocator()  # what the licli command does
    main()
