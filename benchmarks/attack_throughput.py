"""Attack throughput (images/s) and its ratio to the bare passes each attack needs, in one process.

Bare cost: for a k-step gradient attack, k forward + input-gradient passes with frozen parameters
(FGSM: k = 1); for Square, its query count of forward passes. ``ratio = bare time / attack time``
(1.0 = no overhead). "cleverhans direct" calls cleverhans PGD with trainable parameters, as the
papers' released code did, so it also computes the weight gradients it never uses.

    OMP_NUM_THREADS=1 python benchmarks/attack_throughput.py --n 500 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from cleverhans.torch.attacks.projected_gradient_descent import projected_gradient_descent

from licli.attacks.runner import run_attack
from licli.data import load_dataset
from licli.models import ModelSpec, build_model
from licli.runtime import tune_cpu_allocator


def timed(function, repeats: int, device: torch.device) -> float:
    """Median seconds of ``repeats`` calls (after one warm-up), synchronising CUDA around each."""
    function()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        function()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="small-cnn")
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--n-queries", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", default=None, help="Also write the rows to this JSON file.")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    data = load_dataset("mnist-mini")
    x = data.test.images[:args.n].to(device).float() / 255
    y = data.test.labels[:args.n].to(device)
    model = build_model(ModelSpec(args.model, 10, 1, (28, 28))).to(device).eval()
    eps, step = 8 / 255, 3 / 255

    def passes(k: int, gradient: bool) -> None:
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        probe = x.clone().requires_grad_(gradient)
        for _ in range(k):
            if gradient:
                torch.autograd.grad(F.cross_entropy(model(probe), y), probe)
            else:
                with torch.no_grad():
                    model(probe)
        for parameter in model.parameters():
            parameter.requires_grad_(True)

    def cleverhans_direct() -> None:
        projected_gradient_descent(model, x, eps, step, args.steps, np.inf, clip_min=0.0, clip_max=1.0, y=y,
                                   rand_init=True, sanity_checks=False)

    params = {"steps": args.steps, "step_size": step, "n_queries": args.n_queries}
    cases = {
        "fgsm": (lambda: run_attack("fgsm", model, x, y, norm="linf", eps=eps, seed=0), 1, True),
        "pgd": (lambda: run_attack("pgd", model, x, y, norm="linf", eps=eps, seed=0, **params), args.steps, True),
        "pgd-t": (lambda: run_attack("pgd-t", model, x, y, norm="linf", eps=eps, seed=0, **params), args.steps, True),
        "pgd (cleverhans direct, trainable)": (cleverhans_direct, args.steps, True),
        "apgd-ce": (lambda: run_attack("apgd-ce", model, x, y, norm="linf", eps=eps, seed=0, **params),
                    args.steps, True),
        "square": (lambda: run_attack("square", model, x, y, norm="linf", eps=eps, seed=0, **params),
                   args.n_queries, False),
    }
    rows = []
    for name, (attack, k, gradient) in cases.items():
        bare = timed(lambda: passes(k, gradient), args.repeats, device)
        seconds = timed(attack, args.repeats, device)
        rows.append({"attack": name, "bare_passes": f"{k} × {'fwd+input-grad' if gradient else 'fwd'}",
                     "images_per_s": round(args.n / seconds, 1), "bare_images_per_s": round(args.n / bare, 1),
                     "ratio_to_bare": round(bare / seconds, 3)})
    header = f"{args.model} on mnist-mini, n={args.n}, device={device}, threads={torch.get_num_threads()}"
    print(header)
    print(f"{'attack':38} {'bare passes':24} {'img/s':>9} {'bare img/s':>11} {'ratio':>6}")
    for row in rows:
        print(f"{row['attack']:38} {row['bare_passes']:24} {row['images_per_s']:9.1f} "
              f"{row['bare_images_per_s']:11.1f} {row['ratio_to_bare']:6.3f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"setup": header, "rows": rows}, handle, indent=2)


if __name__ == "__main__":
    tune_cpu_allocator()  # what the licli command does
    main()
