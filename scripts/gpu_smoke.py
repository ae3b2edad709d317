"""GPU smoke test of licli: every command and the device-path checks, each step time-boxed, results as files.

    python scripts/gpu_smoke.py --device cuda --out smoke        # one GPU, ≤ 8 minutes (CIFAR-10 via LICLI_DATA_DIR)
    python scripts/gpu_smoke.py --device cpu --toy --out smoke   # the same steps at toy sizes (the test suite runs it)

Each step is a subprocess with a timeout; a failure or timeout is recorded and the next step runs.
``OUT/results.json`` (and the readable ``OUT/results.md``) hold one row per step (status, seconds,
what it measured); ``OUT/<step>.log`` its output; ``OUT/<step>.json`` the numbers of the probes.
Steps: device resolution; VGG-16 + NormOut training with augmentation (2 CIFAR-10 epochs, states
saved every epoch, bf16); every attack with the masking checks (--batch-size auto); Fisher-Rao, GSNR,
Hessian trace (--batch-size auto) and pruning; each mechanism's training path; host syncs per step; resume equality under
--deterministic; CPU-vs-device parity (each in its default memory format: channels_last on CUDA); peak memory; throughput of licli's loop against bare fp32 and
bf16 loops. Exit status 0 when every step passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MECHANISM_SLOTS = {"local-inhibition": "hidden", "normout": "hidden", "dropout": "hidden", "gradient-mask": "conv",
                   "activation-statistics": "hidden"}
ATTACKS = "fgsm,pgd,pgd-t,square,apgd-ce,apgd-t,fab-t,autoattack"


@dataclasses.dataclass(frozen=True)
class Sizes:
    """What the steps train and attack: ``FULL`` on a GPU, ``TOY`` on a CPU in the test suite."""

    model: str
    model_options: str
    slot: str
    precision: str
    dataset: str
    epochs: int
    batch_size: int
    attacks: str
    attack_n: int
    attack_steps: int
    n_queries: int
    evaluation_n: int
    mechanism_dataset: str
    mechanism_model_options: str
    probe_images: int
    timeout_scale: float


FULL = Sizes(model="vgg16", model_options="{}", slot="fc1", precision="bf16", dataset="cifar10", epochs=2,
             batch_size=128, attacks=ATTACKS, attack_n=1000, attack_steps=10, n_queries=1000, evaluation_n=500,
             mechanism_dataset="mnist", mechanism_model_options="{}", probe_images=4096, timeout_scale=1.0)
TOY = Sizes(model="mlp", model_options='{"hidden": 32}', slot="hidden1", precision="fp32", dataset="mnist-mini",
            epochs=2, batch_size=128, attacks="fgsm,pgd,pgd-t,square,apgd-ce", attack_n=8, attack_steps=2,
            n_queries=20, evaluation_n=16, mechanism_dataset="mnist-mini",
            mechanism_model_options='{"filters": 16, "hidden": 32}', probe_images=256, timeout_scale=4.0)


def licli(*args: str) -> list[str]:
    return [sys.executable, "-m", "licli", *args]


def probe(name: str, args: argparse.Namespace) -> list[str]:
    command = [sys.executable, str(Path(__file__).resolve()), "--device", args.device, "--out", str(args.out),
               "--probe", name]
    return command + (["--toy"] if args.toy else [])


def steps(args: argparse.Namespace, sizes: Sizes) -> list[tuple[str, list[str], float]]:
    """(name, command, timeout in seconds) of every step, in order."""
    run = ["--device", args.device, "--out", str(args.out / "runs")]
    trained = str(args.out / "runs" / "train")  # the train step's folder (found by name below)
    checkpoint = ["--checkpoint", f"@{trained}/smoke-main"]
    mechanism_model = "small-cnn"  # conv and hidden slots: every mechanism fits one
    listed = [
        ("device", probe("device", args), 60),
        ("train", licli("train", "--model", sizes.model, "--model-options", sizes.model_options, "--dataset",
                        sizes.dataset, "--epochs", str(sizes.epochs), "--batch-size", str(sizes.batch_size), "--augment",
                        "--mechanism", f"{sizes.slot}=normout", "--precision", sizes.precision, "--state-every", "1",
                        "--name", "smoke-main", *run), 150),
        ("attack", licli("attack", *checkpoint, "--attacks", sizes.attacks, "--n", str(sizes.attack_n), "--steps",
                         str(sizes.attack_steps), "--n-queries", str(sizes.n_queries), "--masking-check",
                         "--batch-size", "auto", "--name", "smoke", *run), 150),
        ("fisher-rao", licli("evaluate", "fisher-rao", *checkpoint, "--n", str(sizes.evaluation_n),
                                  "--batch-size", "auto", *run), 45),
        ("gsnr", licli("evaluate", "gsnr", *checkpoint, "--n", str(sizes.evaluation_n),
                                  "--batch-size", "auto", *run), 45),
        ("hessian-trace", licli("evaluate", "hessian-trace", *checkpoint, "--n", str(sizes.evaluation_n), "--samples",
                                "4", "--batch-size", "auto", *run), 45),
        ("prune", licli("evaluate", "prune", *checkpoint, "--levels", "0,0.5,0.9", *run), 45),
    ]
    for mechanism, slot in MECHANISM_SLOTS.items():
        listed.append((f"mechanism-{mechanism}", licli(
            "train", "--model", mechanism_model, "--model-options", sizes.mechanism_model_options, "--dataset",
            sizes.mechanism_dataset, "--epochs", "1",
            "--mechanism", f"{slot}={mechanism}", "--state-every", "final", "--name", f"smoke-{mechanism}", *run), 40))
    listed += [("syncs", probe("syncs", args), 60), ("resume", probe("resume", args), 90),
               ("parity", probe("parity", args), 45), ("throughput", probe("throughput", args), 90)]
    scale = sizes.timeout_scale if args.timeout_scale is None else args.timeout_scale
    return [(name, command, timeout * scale) for name, command, timeout in listed]


def resolve_checkpoints(command: list[str]) -> list[str]:
    """``@FOLDER/NAME`` → the newest run folder in FOLDER whose name ends with NAME (made by an earlier step)."""
    resolved = []
    for part in command:
        if part.startswith("@"):
            folder, name = part[1:].rsplit("/", 1)
            found = sorted(Path(folder).glob(f"*{name}")) if Path(folder).exists() else []
            part = str(found[-1]) if found else f"{folder}/(no {name} run: the train step failed)"
        resolved.append(part)
    return resolved


def run_steps(args: argparse.Namespace) -> int:
    sizes = TOY if args.toy else FULL
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    began = time.monotonic()
    for name, command, timeout in steps(args, sizes):
        if args.only and name not in args.only:
            continue
        command = resolve_checkpoints(command)
        start = time.monotonic()
        log = args.out / f"{name}.log"
        try:
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                                  env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                      [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])})
            status = "ok" if done.returncode == 0 else f"failed (exit {done.returncode})"
            output = done.stdout + done.stderr
        except subprocess.TimeoutExpired as expired:
            status = f"timed out after {timeout:.0f} s"
            output = f"{expired.stdout or ''}{expired.stderr or ''}"
            output = output.decode() if isinstance(output, bytes) else output
        log.write_text(f"$ {' '.join(command)}\n{output}")
        measured = args.out / f"{name}.json"
        results.append({"step": name, "status": status, "seconds": round(time.monotonic() - start, 2),
                        "timeout_s": timeout, "measured": json.loads(measured.read_text()) if measured.exists() else None,
                        "last_line": output.strip().splitlines()[-1][:300] if output.strip() else ""})
        (args.out / "results.json").write_text(json.dumps({"device": args.device, "toy": args.toy,
                                                           "total_seconds": round(time.monotonic() - began, 2),
                                                           "steps": results}, indent=2))
    lines = ["| step | status | seconds | last line |", "|---|---|---|---|"]
    lines += [f"| {r['step']} | {r['status']} | {r['seconds']} | {r['last_line'].replace('|', '/')} |" for r in results]
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(r["status"] == "ok" for r in results) else 1


# ---- probes: in-process checks, each writing OUT/<name>.json -------------------------------------------------


def _data(sizes: Sizes, images: int):
    import torch

    from licli.data import load_dataset

    full = load_dataset(sizes.dataset, os.environ.get("LICLI_DATA_DIR"))
    return dataclasses.replace(full, train=full.train.subset(torch.arange(min(images, len(full.train)))),
                               test=full.test.subset(torch.arange(min(256, len(full.test)))))


def _config(sizes: Sizes, **changes: Any):
    from licli.training.config import TrainConfig

    mechanisms = {sizes.slot: {"name": "normout", "params": {}}}
    return TrainConfig(**{"model": sizes.model, "model_options": json.loads(sizes.model_options),
                          "dataset": sizes.dataset, "epochs": 2, "batch_size": sizes.batch_size, "augment": True,
                          "mechanisms": mechanisms, "precision": sizes.precision, **changes})


def probe_device(device, sizes: Sizes) -> dict[str, Any]:
    from licli.runtime import device_info, memory_format_name, numerics, package_versions

    return {"resolved": str(device), "info": device_info(device), "numerics": numerics(),
            "memory_format": memory_format_name(device), "versions": package_versions()}


def probe_syncs(device, sizes: Sizes) -> dict[str, Any]:
    """Host syncs per training step (augmentation + NormOut) and per native PGD step, and peak memory."""
    import torch

    from licli.attacks.runner import run_attack
    from licli.attacks.threat import Threat
    from licli.host_syncs import HostSyncCounter
    from licli.training.loop import fit

    data = _data(sizes, 8 * sizes.batch_size)
    snapshots: list = []

    class Steps:
        def start_epoch(self, *_):
            snapshots.append([])

        def advance(self):
            snapshots[-1].append(counter.snapshot())

        def end_epoch(self, row):
            pass

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with HostSyncCounter() as counter:
        model, _, _ = fit(_config(sizes, epochs=1), data, device=device, progress=Steps())
    per_step = [dict(b - a) for epoch in snapshots for a, b in zip(epoch, epoch[1:])]
    peak_training = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    x = data.test.images[:sizes.batch_size].to(device).float() / 255
    y = data.test.labels[:sizes.batch_size].to(device)
    counts = []
    for steps in (3, 6):
        with HostSyncCounter() as pgd:
            run_attack("pgd", model, x, y, threat=Threat("linf", 8 / 255), seed=0, steps=steps, step_size=2 / 255)
        counts.append(pgd.snapshot())
    return {"training_step_syncs": per_step, "training_steps_without_syncs": sum(not s for s in per_step),
            "native_pgd_syncs_per_step": {k: v / 3 for k, v in (counts[1] - counts[0]).items()},
            "peak_training_memory_bytes": peak_training}


def probe_resume(device, sizes: Sizes) -> dict[str, Any]:
    """Interrupted + resumed training equals an uninterrupted run, bit for bit, under --deterministic."""
    import tempfile

    import torch

    from licli.models import build_model
    from licli.runtime import deterministic_scope
    from licli.training.loop import model_spec_for, train

    data = _data(sizes, 4 * sizes.batch_size)
    config = _config(sizes, epochs=2)
    with deterministic_scope(True), tempfile.TemporaryDirectory() as folder:
        torch.manual_seed(config.seed)
        full_model = build_model(model_spec_for(config, data))
        full = train(full_model, data, config, device=device)
        torch.manual_seed(config.seed)
        first = build_model(model_spec_for(config, data))
        train(first, data, config, device=device, state_dir=Path(folder), stop_after_epoch=1)
        torch.manual_seed(99)
        resumed_model = build_model(model_spec_for(config, data))
        resumed = train(resumed_model, data, config, device=device, state_dir=Path(folder), resume=True)
    columns = ["train_loss", "train_accuracy", "test_loss", "test_accuracy"]
    weights_equal = all(torch.equal(a, b) for a, b in zip(full_model.state_dict().values(),
                                                          resumed_model.state_dict().values()))
    return {"weights_equal": weights_equal, "history_equal": bool(full[columns].equals(resumed[columns])),
            "final_train_loss": float(full["train_loss"].iloc[-1])}


def probe_parity(device, sizes: Sizes) -> dict[str, Any]:
    """The same seeded model and batch on the CPU and on ``device`` at fp32 (TF32 off), each in its default
    memory format (channels_last on CUDA): logits and one step's gradients, largest absolute differences."""
    import torch
    import torch.nn.functional as F

    from licli.models import build_model
    from licli.runtime import in_memory_format
    from licli.training.loop import model_spec_for

    data = _data(sizes, sizes.batch_size)
    config = _config(sizes)
    x, y = data.train.images[:32].float() / 255, data.train.labels[:32]
    outputs = {}
    for where in (torch.device("cpu"), device):
        torch.manual_seed(0)
        model = in_memory_format(build_model(model_spec_for(config, data)).to(where), where).eval()
        logits = model(x.to(where))
        F.cross_entropy(logits, y.to(where)).backward()
        outputs[str(where)] = (logits.detach().cpu(), torch.cat([p.grad.flatten().cpu() for p in model.parameters()]))
    (cpu_logits, cpu_grads), (dev_logits, dev_grads) = outputs["cpu"], outputs[str(device)]
    return {"compared": f"cpu vs {device}", "logits_max_abs_diff": float((cpu_logits - dev_logits).abs().max()),
            "logits_max_abs": float(cpu_logits.abs().max()),
            "gradient_max_abs_diff": float((cpu_grads - dev_grads).abs().max()),
            "gradient_max_abs": float(cpu_grads.abs().max()),
            "same_predictions": bool(torch.equal(cpu_logits.argmax(1), dev_logits.argmax(1)))}


def probe_throughput(device, sizes: Sizes) -> dict[str, Any]:
    """Images/s of licli's training loop (fp32, bf16) against bare forward+backward+step loops, and the ratios."""
    import torch

    from benchmarks.train_throughput import bare_loop, timed
    from licli.models import build_model
    from licli.runtime import autocast, precision_scope
    from licli.training.loop import model_spec_for, train

    data = _data(sizes, sizes.probe_images)
    rates: dict[str, float] = {}
    for precision in ("fp32", "bf16"):
        config = _config(sizes, epochs=1, augment=False, mechanisms={}, precision=precision)  # bare loops have none
        spec = model_spec_for(config, data)
        x, y = data.train.floats(device), data.train.labels.to(device)
        with precision_scope(precision, device), autocast(precision, device):
            torch.manual_seed(0)
            bare = bare_loop(build_model(spec).to(device), x, y, config)
            bare()  # warm-up (cuDNN autotuning, allocator)
            rates[f"bare_{precision}"] = len(x) / timed(bare, device)[0]
        torch.manual_seed(0)
        model = build_model(spec).to(device)
        train(model, data, config, device=device)  # warm-up
        rates[f"licli_{precision}"] = len(x) / timed(lambda: train(model, data, config, device=device), device)[0]
    return {"images_per_second": rates, "images": len(data.train),
            "ratio_licli_over_bare": {p: rates[f"licli_{p}"] / rates[f"bare_{p}"] for p in ("fp32", "bf16")},
            "note": "licli's time includes the end-of-epoch test evaluation (256 images)"}


PROBES = {"device": probe_device, "syncs": probe_syncs, "resume": probe_resume, "parity": probe_parity,
          "throughput": probe_throughput}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, default=Path("smoke"))
    parser.add_argument("--toy", action="store_true", help="Toy sizes (mlp and small-cnn on mnist-mini) for a CPU.")
    parser.add_argument("--only", nargs="*", default=None, help="Run only these steps.")
    parser.add_argument("--timeout-scale", type=float, default=None,
                        help="Multiply every step's time box (default 1 on a GPU, 4 with --toy).")
    parser.add_argument("--probe", choices=sorted(PROBES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out = args.out.resolve()
    if args.probe is None:
        return run_steps(args)
    sys.path.insert(0, str(ROOT))  # this checkout's licli, not an installed copy
    from licli.runtime import resolve_device, use_device

    device = resolve_device(args.device)
    use_device(device)
    result = PROBES[args.probe](device, TOY if args.toy else FULL)
    (args.out / f"{args.probe}.json").write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, default=str)[:2000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
