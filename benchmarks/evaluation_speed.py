"""Speed of the pruning, Fisher-Rao and GSNR evaluations, as ratios measured in one process.

    OMP_NUM_THREADS=1 python -m benchmarks.evaluation_speed [--model small-cnn] [--n 256]

1. Fisher-Rao: one ``torch.func.jvp`` per batch (tangent θ) vs per-sample gradients by
   ``vmap(grad)`` dotted with θ (target: ≥ 10× faster, values equal to 1e-5 relative).
2. GSNR moments (Σg, Σg² from hooks) vs a plain forward + backward pass on the same batches
   (target: ≥ 0.7 of its throughput).
3. A 20-level pruning curve vs 20 clean evaluations of the test split (target: ≤ 1.15× the time).
A model trained for one epoch on mnist-mini is used (weights matter for pruning, not for speed).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call, grad, vmap

from licli.training.config import TrainConfig
from licli.data import load_dataset
from licli.evaluations import fisher_rao, gsnr, pruning
from licli.evaluations.functional import select_parameters
from licli.runtime import tune_cpu_allocator
from licli.training.loop import evaluate, fit


def timed(function, repeats: int = 1):
    function()  # warm-up
    began = time.perf_counter()
    for _ in range(repeats):
        result = function()
    return result, (time.perf_counter() - began) / repeats


def seconds(function) -> float:
    began = time.perf_counter()
    function()
    return time.perf_counter() - began


def per_sample_gradient_squares(model, params, x, y, chunk: int) -> torch.Tensor:
    def loss(p, xi, yi):
        return F.cross_entropy(functional_call(model, p, (xi[None],)), yi[None])

    per_sample = vmap(grad(loss), in_dims=(None, 0, 0))
    derivatives = []
    for i in range(0, x.shape[0], chunk):  # chunks keep chunk × P gradients in memory, not n × P
        grads = per_sample(params, x[i:i + chunk], y[i:i + chunk])
        derivatives.append(sum((g * params[k]).flatten(1).sum(1) for k, g in grads.items()))
    return torch.cat(derivatives).double().square()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="small-cnn")
    parser.add_argument("--n", type=int, default=256, help="images for Fisher-Rao and GSNR")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--vmap-chunk", type=int, default=16)
    args = parser.parse_args()
    device = torch.device("cpu")
    data = load_dataset("mnist-mini")
    model, _, _ = fit(TrainConfig(model=args.model, epochs=1), data, device=device)
    model.eval()
    x, y = data.test.floats()[:args.n], data.test.labels[:args.n]
    params = select_parameters(model, "all")
    print(f"model {args.model} ({sum(p.numel() for p in params.values()):,} parameters), n = {args.n}, "
          f"torch threads {torch.get_num_threads()}")

    def by_jvp():
        return torch.cat([fisher_rao.directional_derivatives(model, params, x[i:i + args.batch_size],
                                                             y[i:i + args.batch_size]).double().square()
                          for i in range(0, args.n, args.batch_size)])

    fast, t_jvp = timed(by_jvp)
    slow, t_vmap = timed(lambda: per_sample_gradient_squares(model, params, x, y, args.vmap_chunk))
    relative = ((fast - slow).abs().max() / slow.abs().max()).item()
    print(f"Fisher-Rao  jvp {args.n / t_jvp:8.0f} img/s · per-sample gradients {args.n / t_vmap:6.0f} img/s · "
          f"speed-up {t_vmap / t_jvp:5.1f}× (target ≥ 10) · max relative difference {relative:.1e} (target ≤ 1e-5) · "
          f"value {fast.mean().item():.4g}")

    def forward_backward():
        for i in range(0, args.n, args.batch_size):
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x[i:i + args.batch_size]), y[i:i + args.batch_size]).backward()
        model.zero_grad(set_to_none=True)

    def moments():
        accumulator = gsnr.Moments()
        for i in range(0, args.n, args.batch_size):
            gsnr.accumulate_moments(model, x[i:i + args.batch_size], y[i:i + args.batch_size], accumulator, 64)
        return accumulator

    _, t_plain = timed(forward_backward, 3)
    _, t_moments = timed(moments, 3)
    print(f"GSNR        moments {args.n / t_moments:8.0f} img/s · forward+backward {args.n / t_plain:6.0f} img/s · "
          f"ratio {t_plain / t_moments:.2f} (target ≥ 0.7)")

    levels = tuple(i / 20 for i in range(20))
    test = data.test.to(device)
    for scope in pruning.SCOPES:
        config = pruning.PruneConfig(scope=scope, levels=levels)
        times = [(seconds(lambda: pruning.run(model, data, device=device, config=config)),
                  seconds(lambda: [evaluate(model, test, device=device) for _ in levels])) for _ in range(2)]
        t_curve, t_evals = min(t for t, _ in times), min(t for _, t in times)  # interleaved, best of 2
        print(f"Pruning     {scope:9s} 20 levels {t_curve:6.2f} s · 20 clean evaluations {t_evals:6.2f} s · "
              f"ratio {t_curve / t_evals:.3f} (target ≤ 1.15)")


if __name__ == "__main__":
    tune_cpu_allocator()  # what the licli command does
    main()
