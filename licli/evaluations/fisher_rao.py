"""The Fisher-Rao norm ‖θ‖²_fr = θᵀ F θ = E[(θ · ∇θ ℓ(f_θ(x), y))²] (NormOut §1.4.1, Table 3.6; Liang et al. 2019).

The per-sample directional derivative θ · ∇θ ℓᵢ is the derivative of ℓᵢ along the tangent θ, so one
forward-mode ``torch.func.jvp`` per batch with tangent θ gives it for every sample at once: no
per-sample gradients are formed. The bias-free-ReLU shortcut (L+1)² E[⟨∂ℓ/∂f, f⟩²] is not used, since
licli's models have biases, normalisation and mechanisms that break its assumptions.

Choices where the thesis is silent (recorded in the output): the model is in eval mode; ``fisher``
selects the empirical Fisher (y = the label) or the model's Fisher (y drawn from softmax(f_θ(x)),
seeded); ``params`` selects all trainable parameters or only conv/linear weights; the reported
``value`` is θᵀFθ as the thesis writes it (``sqrt`` is the norm itself); ``n`` test images are used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from licli.data import Dataset, batches
from licli.errors import LicliError
from licli.evaluations.functional import PARAMETER_SETS, jvp, select_parameters
from licli.registry import pick
from licli.contract import setting


def _empirical_labels(logits: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return y


def _model_labels(logits: torch.Tensor, y: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    return torch.multinomial(logits.softmax(1), 1, generator=generator).squeeze(1)


FISHER_LABELS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]] = {
    "empirical": _empirical_labels,
    "model": _model_labels,
}


@dataclass(frozen=True)
class FisherRaoConfig:
    fisher: str = "empirical"
    params: str = "all"
    n: int = 1000
    split: str = "test"
    batch_size: int = 250
    seed: int = 0

    def __post_init__(self) -> None:
        pick(FISHER_LABELS, self.fisher, "Fisher kind")
        pick(PARAMETER_SETS, self.params, "parameter set")
        if self.n <= 0:
            raise LicliError(f"n must be > 0 (got {self.n})", "pass e.g. n=1000", field="n")
        if self.batch_size <= 0:
            raise LicliError(f"batch_size must be > 0 (got {self.batch_size})", "pass e.g. batch_size=250",
                             field="batch_size")
        if self.split not in ("test", "train"):
            raise LicliError(f"unknown split {self.split!r}", "choose test or train")


def directional_derivatives(model: nn.Module, params: dict[str, torch.Tensor], x: torch.Tensor,
                            y: torch.Tensor) -> torch.Tensor:
    """θ · ∇θ ℓ(f_θ(xᵢ), yᵢ) for each sample (shape ``(B,)``), by one jvp with tangent θ = ``params``."""

    def losses(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(functional_call(model, p, (x,)), y, reduction="none")

    _, derivative = jvp(losses, (params,), (params,))
    return derivative


def run(model: nn.Module, data: Dataset, *, device: torch.device,
        config: FisherRaoConfig = FisherRaoConfig()) -> pd.DataFrame:
    """One row: value (θᵀFθ), its standard error over samples, sqrt, n and the parameters included."""
    split = (data.test if config.split == "test" else data.train)
    n = min(config.n, len(split))
    split = split.subset(torch.arange(n)).to(device)
    labels_for = FISHER_LABELS[config.fisher]
    params = select_parameters(model, config.params)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    was_training = model.training
    model.eval()
    squares = []
    for x, y, _ in batches(split, config.batch_size, device=device):
        with torch.no_grad():
            target = labels_for(model(x), y, generator)
        squares.append(directional_derivatives(model, params, x, target).double().square())
    model.train(was_training)
    values = torch.cat(squares)
    mean = values.mean()
    stderr = values.std() / n ** 0.5 if n > 1 else torch.tensor(float("nan"))
    return pd.DataFrame([{
        "dataset": data.name, "split": config.split, "n": n, "fisher": config.fisher, "params": config.params,
        "value": mean.item(), "stderr": stderr.item(), "sqrt": mean.sqrt().item(),
        "parameter_count": sum(p.numel() for p in params.values()), "tensors": len(params),
        "included": " ".join(params)}])


def summary_rows(result: pd.DataFrame) -> pd.DataFrame:
    """The report contract's rows of ``run`` frames stacked over models (column ``model``): one
    ``fisher_rao_norm`` (θᵀFθ, the ``value`` column) per model in setting ``fisher=…;params=…``."""
    return pd.DataFrame([{"model": r["model"], "metric": "fisher_rao_norm", "value": r["value"],
                          "setting": setting(fisher=r["fisher"], params=r["params"])}
                         for r in result.to_dict(orient="records")])
