"""Trace of the loss Hessian by Hutchinson's estimator, and its top eigenvalue by power iteration
(NormOut §4.3.1 names the trace as a further flatness measure; Yao et al. 2018, Avron & Toledo 2011).

tr(H) = E[vᵀHv] for Rademacher v (entries ±1). Each vᵀHv needs one Hessian-vector product, computed
forward-over-reverse with ``torch.func`` (jvp of grad), batch by batch over the ``n`` images: H is the
Hessian of the mean cross-entropy over those images, with the model in eval mode. The standard error
is the sample standard deviation of the vᵀHv over √samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad

from licli.data import Dataset, Split, batches
from licli.errors import LicliError
from licli.evaluations.functional import PARAMETER_SETS, jvp, select_parameters
from licli.registry import pick
from licli.contract import setting

Vector = dict[str, torch.Tensor]


@dataclass(frozen=True)
class HessianConfig:
    samples: int = 50
    n: int = 500
    params: str = "all"
    split: str = "test"
    batch_size: int = 250
    power_iterations: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        pick(PARAMETER_SETS, self.params, "parameter set")
        for name, value in (("samples", self.samples), ("n", self.n), ("batch_size", self.batch_size)):
            if value <= 0:
                raise LicliError(f"{name} must be > 0 (got {value})", f"pass e.g. {name}=100", field=name)
        if self.power_iterations < 0:
            raise LicliError(f"power_iterations must be ≥ 0 (got {self.power_iterations})",
                             "pass e.g. power_iterations=20 (0 skips the eigenvalue)", field="power_iterations")
        if self.split not in ("test", "train"):
            raise LicliError(f"unknown split {self.split!r}", "choose test or train")


def hessian_vector_product(model: nn.Module, params: Vector, split: Split, vector: Vector, *,
                           device: torch.device, batch_size: int) -> Vector:
    """H v for H the Hessian (in ``params``) of the mean cross-entropy over ``split`` (on ``device``)."""
    n = len(split)
    total = {name: torch.zeros_like(p) for name, p in params.items()}
    for x, y, _ in batches(split, batch_size, device=device):
        def loss(p: Vector) -> torch.Tensor:
            return F.cross_entropy(functional_call(model, p, (x,)), y, reduction="sum") / n

        _, product = jvp(grad(loss), (params,), (vector,))
        for name in total:
            total[name] += product[name]
    return total


def _dot(a: Vector, b: Vector) -> torch.Tensor:
    return sum((a[name] * b[name]).sum() for name in a)


def hutchinson(model: nn.Module, params: Vector, split: Split, *, samples: int, generator: torch.Generator,
               device: torch.device, batch_size: int) -> torch.Tensor:
    """The ``samples`` values vᵀHv for independent Rademacher vectors v (their mean estimates tr H)."""
    values = []
    for _ in range(samples):
        v = {name: torch.randint(0, 2, p.shape, generator=generator, device=device).to(p.dtype).mul_(2).sub_(1)
             for name, p in params.items()}
        values.append(_dot(v, hessian_vector_product(model, params, split, v, device=device, batch_size=batch_size)))
    return torch.stack(values)


def top_eigenvalue(model: nn.Module, params: Vector, split: Split, *, iterations: int, generator: torch.Generator,
                   device: torch.device, batch_size: int) -> float:
    """The eigenvalue of largest magnitude by power iteration (Rayleigh quotient of the last iterate)."""
    v = {name: torch.randn(p.shape, generator=generator, device=device) for name, p in params.items()}
    eigenvalue = torch.zeros((), device=device)
    for _ in range(iterations):
        norm = _dot(v, v).sqrt()
        v = {name: t / norm for name, t in v.items()}
        hv = hessian_vector_product(model, params, split, v, device=device, batch_size=batch_size)
        eigenvalue = _dot(v, hv)
        v = hv
    return eigenvalue.item()


def run(model: nn.Module, data: Dataset, *, device: torch.device, config: HessianConfig = HessianConfig()
        ) -> pd.DataFrame:
    """One row: trace estimate, its standard error, samples, n, parameters (and top eigenvalue)."""
    split = data.test if config.split == "test" else data.train
    n = min(config.n, len(split))
    split = split.subset(torch.arange(n)).to(device)
    params = select_parameters(model, config.params)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    was_training = model.training
    model.eval()
    values = hutchinson(model, params, split, samples=config.samples, generator=generator, device=device,
                        batch_size=config.batch_size).double()
    row = {"dataset": data.name, "split": config.split, "n": n, "params": config.params,
           "parameter_count": sum(p.numel() for p in params.values()), "samples": config.samples,
           "trace": values.mean().item(),
           "stderr": (values.std() / config.samples ** 0.5).item() if config.samples > 1 else float("nan")}
    if config.power_iterations:
        row["top_eigenvalue"] = top_eigenvalue(model, params, split, iterations=config.power_iterations,
                                               generator=generator, device=device, batch_size=config.batch_size)
    model.train(was_training)
    return pd.DataFrame([row])


def summary_rows(result: pd.DataFrame) -> pd.DataFrame:
    """The report contract's rows of ``run`` frames stacked over models (column ``model``): the
    ``hessian_trace`` and, when computed, the ``hessian_top_eigenvalue`` (lower = flatter minimum),
    in setting ``params=…;n=…``."""
    metrics = {"hessian_trace": "trace", "hessian_top_eigenvalue": "top_eigenvalue"}
    return pd.DataFrame([{"model": r["model"], "metric": metric, "value": r[column],
                          "setting": setting(params=r["params"], n=r["n"])}
                         for r in result.to_dict(orient="records")
                         for metric, column in metrics.items() if column in r and pd.notna(r[column])])
