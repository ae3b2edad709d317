"""Per-step training time of each mechanism relative to the same model without it, in one process.

A step is what ``licli.training.loop.train`` does per batch: forward, loss, backward, optimizer step and
every ``after_optimizer_step`` hook (Local Inhibition's calibration). Baseline and mechanism steps
alternate (ABAB…) so that load on a shared machine affects both alike; the ratio is the mean
mechanism step over the mean baseline step (means, because LI's calibration is a random event).

    OMP_NUM_THREADS=1 python benchmarks/mechanism_overhead.py            # CPU, all cases
    python benchmarks/mechanism_overhead.py --device cuda --steps 50
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import pandas as pd
import torch
import torch.nn.functional as F

from licli.data import Split
from licli.models import MechanismSpec, ModelSpec, build_model
from licli.runtime import tune_cpu_allocator
from licli.hooks import StepContext


@dataclass(frozen=True)
class Case:
    label: str
    target: str
    model: str
    options: dict
    mechanisms: dict[str, tuple[str, dict]]
    shape: tuple[int, int, int]
    batch: int = 128
    steps_factor: float = 1.0
    baseline_options: dict = field(default_factory=dict)


LI_MODEL = {"activation": "sigmoid"}  # the thesis's Oracle-MNIST network: conv 32 + FC 728 (sigmoid, §3.7)
CASES = [
    Case("local-inhibition online (cmap)", "≤ 1.5×", "small-cnn", LI_MODEL,
         {"hidden": ("local-inhibition", {"calibration": "online"})}, (1, 28, 28)),
    Case("local-inhibition paper (p_update 0.3, 2048 images)", "report (thesis: ~10×)", "small-cnn", LI_MODEL,
         {"hidden": ("local-inhibition", {"calibration": "paper"})}, (1, 28, 28)),
    Case("normout temporal-max", "≤ 1.1×", "small-cnn", {}, {"hidden": ("normout", {})}, (1, 28, 28)),
    Case("normout spatiotemporal-exp T=80", "≤ 1.1×", "small-cnn", {},
         {"hidden": ("normout", {"variant": "spatiotemporal-exp", "temperature": 80.0})}, (1, 28, 28)),
    Case("dropout p=0.5", "—", "small-cnn", {}, {"hidden": ("dropout", {})}, (1, 28, 28)),
    Case("gradient-mask resnet18 layer1.0–layer3.1 (σ 11, K 16, q 0.5)", "≤ 1.5×", "resnet18", {},
         {"layer[123].*": ("gradient-mask", {})}, (3, 32, 32), batch=32, steps_factor=0.2),
]


def make_step(model: torch.nn.Module, split: Split, batch: int, seed: int):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    hooks = [m.after_optimizer_step for m in model.modules() if callable(getattr(m, "after_optimizer_step", None))]
    generator = torch.Generator().manual_seed(seed)
    x = split.images[:batch].float().div(255)
    y = split.labels[:batch]
    counter = iter(range(10 ** 9))

    def step() -> None:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        context = StepContext(model, 0, next(counter), split, generator)
        for hook in hooks:
            hook(context)

    return step


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(case: Case, device: torch.device, steps: int, images: int = 4096) -> dict:
    channels, height, width = case.shape
    g = torch.Generator().manual_seed(0)
    split = Split(torch.randint(0, 256, (images, channels, height, width), dtype=torch.uint8, generator=g),
                  torch.randint(0, 10, (images,), generator=g)).to(device)
    models = {}
    for kind, mechanisms in (("baseline", {}), ("mechanism", case.mechanisms)):
        torch.manual_seed(0)
        spec = ModelSpec(case.model, 10, channels, (height, width), options=dict(case.options),
                         mechanisms={slot: MechanismSpec(name, params) for slot, (name, params) in mechanisms.items()})
        models[kind] = build_model(spec).to(device).train()
    step = {kind: make_step(model, split, case.batch, seed=1) for kind, model in models.items()}
    for kind in step:  # warm-up (lazy sizing, allocator, kernels)
        for _ in range(2):
            step[kind]()
    totals = {"baseline": 0.0, "mechanism": 0.0}
    n = max(int(steps * case.steps_factor), 3)
    for _ in range(n):
        for kind in ("baseline", "mechanism"):
            synchronize(device)
            began = time.perf_counter()
            step[kind]()
            synchronize(device)
            totals[kind] += time.perf_counter() - began
    return {"mechanism": case.label, "model": case.model, "batch": case.batch, "steps": n,
            "baseline_ms": 1000 * totals["baseline"] / n, "mechanism_ms": 1000 * totals["mechanism"] / n,
            "ratio": totals["mechanism"] / totals["baseline"], "target": case.target}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=40, help="timed steps per model (resnet18 cases: a fifth)")
    parser.add_argument("--only", default=None, help="run only cases whose label contains this text")
    parser.add_argument("--csv", default=None, help="also write the table to this CSV file")
    args = parser.parse_args()
    device = torch.device(args.device)
    rows = [measure(case, device, args.steps) for case in CASES if args.only is None or args.only in case.label]
    table = pd.DataFrame(rows)
    print(f"device: {device} · torch {torch.__version__} · threads {torch.get_num_threads()}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if args.csv:
        table.to_csv(args.csv, index=False)


if __name__ == "__main__":
    tune_cpu_allocator()  # what the licli command does
    main()
