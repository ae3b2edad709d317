"""Robust accuracy under attack (NormOut §2.3.2, Tables 3.4–3.5) as tidy DataFrames.

``attack_samples`` gives one row per (attack, ε, image); ``summarise`` turns it into robust
accuracy, attack success rate and target hit rate per attack, plus the per-sample worst case across
attacks (a sample is robust only if it survives every attack, as AutoAttack reports it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from licli.attacks import ATTACKS
from licli.attacks.runner import kept_modes, run_attack
from licli.attacks.targets import TARGETS
from licli.attacks.threat import NORMS
from licli.data import Split
from licli.data.core import unit_float
from licli.errors import LicliError
from licli.models.slots import model_slots
from licli.progress import OnProgress, Parts
from licli.registry import pick
from licli.reporting.summary import setting

WORST_CASE = "worst-case"
SUBSETS = ("all", "correct")


@dataclass(frozen=True)
class AttackSettings:
    """What to attack with. Defaults are the paper's (Table 3.4): ε = 8/255, PGD 10 steps of 3/255."""

    attacks: tuple[str, ...] = ("fgsm", "pgd", "pgd-t", "square")
    norm: str = "linf"
    eps: float = 8 / 255
    steps: int = 10
    step_size: float = 3 / 255
    n_queries: int = 5000
    random_start: bool = True
    target_rule: str = "random"
    batch_size: int = 250
    seed: int = 0
    eot_samples: int = 0
    """0: stochastic mechanisms in eval mode (default). k > 0: mechanisms active, logits averaged over k
    draws (expectation over transformation, Athalye et al. 2018) for the attacks and the predictions."""

    def __post_init__(self) -> None:
        if not self.attacks:
            raise LicliError("no attack given", f"pass --attacks with some of: {', '.join(ATTACKS)}")
        for name in self.attacks:
            pick(ATTACKS, name, "attack")
        pick(TARGETS, self.target_rule, "target rule")
        if self.norm not in NORMS:
            raise LicliError(f"unknown norm {self.norm!r}", f"choose one of: {', '.join(NORMS)}")
        if math.isnan(self.eps) or self.eps < 0:
            raise LicliError(f"ε must be ≥ 0 (got {self.eps})", "pass e.g. --eps 8/255")
        for flag, value in (("--steps", self.steps), ("--n-queries", self.n_queries),
                            ("--batch-size", self.batch_size)):
            if value < 1:
                raise LicliError(f"{flag} must be ≥ 1 (got {value})", f"pass a positive {flag}")
        if not self.step_size > 0:
            raise LicliError(f"--step-size must be > 0 (got {self.step_size})", "pass e.g. --step-size 3/255")
        if self.eot_samples < 0:
            raise LicliError(f"--eot must be ≥ 0 (got {self.eot_samples})", "pass 0 (eval mode) or e.g. 10")

    def params(self) -> dict[str, object]:
        return {"steps": self.steps, "step_size": self.step_size, "n_queries": self.n_queries,
                "random_start": self.random_start}


class ExpectationOverTransformation(nn.Module):
    """Logits averaged over ``samples`` stochastic forward passes (gradients average with them)."""

    def __init__(self, model: nn.Module, samples: int) -> None:
        super().__init__()
        self.model = model
        self.samples = samples

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self.model(x) for _ in range(self.samples)]).mean(dim=0)


@contextmanager
def attacked_view(model: nn.Module, eot_samples: int) -> Iterator[nn.Module]:
    """The model as attacks see it: eval mode, or (``eot_samples`` > 0) mechanisms in slots active + EOT."""
    with kept_modes(model):
        model.eval()
        if eot_samples > 0:
            for slot in model_slots(model).values():
                slot.train()
            yield ExpectationOverTransformation(model, eot_samples)
        else:
            yield model


def predictions(model: nn.Module, images: torch.Tensor, *, batch_size: int, eot_samples: int = 0) -> torch.Tensor:
    """Predicted classes for uint8 images (N, C, H, W) already on the model's device."""
    with attacked_view(model, eot_samples) as view, torch.no_grad():
        return torch.cat([view(unit_float(images[i:i + batch_size])).argmax(1)
                          for i in range(0, len(images), batch_size)])


def select_indices(correct: Sequence[torch.Tensor], *, n: int | None, subset: str) -> torch.Tensor:
    """The first ``n`` image indices: all of them, or (``correct``) those every given model classifies right.

    ``correct`` holds one boolean mask per model; pass several for ``--common-correct``
    (Gradient Mask §3.3.2 attacks only images all compared models get right).
    """
    if subset not in SUBSETS:
        raise LicliError(f"unknown subset {subset!r}", f"choose one of: {', '.join(SUBSETS)}")
    mask = torch.ones_like(correct[0])
    if subset == "correct":
        for item in correct:
            mask &= item
    chosen = mask.nonzero().flatten()
    return chosen if n is None else chosen[:n]


def attack_samples(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor,
                   settings: AttackSettings, *, eps: float | None = None, parts: Parts | None = None,
                   label: str = "") -> pd.DataFrame:
    """One row per (attack, image): index, label, clean/adversarial prediction, target, norm, success.

    ``images`` are uint8 on the model's device; ``indices`` name the dataset rows they come from.
    ``success`` means the adversarial image is misclassified; ``target_hit`` that it is the target.
    Batch number b is attacked with seed ``settings.seed + b`` (same seed → same rows). ``parts`` counts
    each (batch, attack) as one finished part, named after ``label``.
    """
    eps = settings.eps if eps is None else eps
    batches = -(-len(images) // settings.batch_size)
    frames = []
    with attacked_view(model, settings.eot_samples) as view:
        for number, start in enumerate(range(0, len(images), settings.batch_size)):
            x = unit_float(images[start:start + settings.batch_size])
            y = labels[start:start + settings.batch_size]
            with torch.no_grad():
                clean = view(x).argmax(1)
            for name in settings.attacks:
                with parts.part(f"{label}{name} · ε={eps:.4g} · batch {number + 1}/{batches}") if parts else nullcontext():
                    outcome = run_attack(name, view, x, y, norm=settings.norm, eps=eps, seed=settings.seed + number,
                                         target_rule=settings.target_rule, **settings.params())
                    with torch.no_grad():
                        adv = view(outcome.x_adv).argmax(1)
                target = outcome.target if outcome.target is not None else torch.full_like(y, -1)
                columns = torch.stack([indices[start:start + len(y)].to(y.device), y, clean, adv, target]).cpu()
                frames.append(pd.DataFrame({
                    "attack": name, "norm": settings.norm, "eps": eps,
                    "index": columns[0].numpy(), "label": columns[1].numpy(), "clean_pred": columns[2].numpy(),
                    "adv_pred": columns[3].numpy(), "target": columns[4].numpy(),
                    "perturbation_norm": outcome.norms.cpu().numpy(),
                }))
    frame = pd.concat(frames, ignore_index=True)
    frame["target"] = frame["target"].astype("Int64").where(frame["target"] >= 0)
    frame["success"] = frame["adv_pred"] != frame["label"]
    frame["target_hit"] = (frame["adv_pred"] == frame["target"]).astype("boolean")
    return frame


def summarise(samples: pd.DataFrame) -> pd.DataFrame:
    """Per (model, norm, ε, attack): n, clean and robust accuracy, attack success rate, target hit rate.

    Attack success rate counts only images the model classified correctly before the attack.
    The ``worst-case`` row counts an image robust only if it survives every attack.
    """
    keys = [k for k in ("model", "norm", "eps") if k in samples.columns]
    samples = samples.assign(clean_correct=samples["clean_pred"] == samples["label"],
                             robust=samples["adv_pred"] == samples["label"])
    worst = (samples.groupby([*keys, "index"], sort=False)
             .agg(clean_correct=("clean_correct", "all"), robust=("robust", "all"),
                  perturbation_norm=("perturbation_norm", "max"))
             .reset_index().assign(attack=WORST_CASE, target_hit=pd.NA))
    rows = []
    for group, part in pd.concat([samples, worst], ignore_index=True).groupby([*keys, "attack"], sort=False):
        hits = part["target_hit"].dropna()
        correct = part["clean_correct"]
        rows.append({**dict(zip([*keys, "attack"], group)), "n": len(part),
                     "clean_accuracy": correct.mean(), "robust_accuracy": part["robust"].mean(),
                     "attack_success_rate": (~part["robust"][correct]).mean() if correct.any() else math.nan,
                     "target_hit_rate": hits.astype(bool).mean() if len(hits) else math.nan,
                     "max_perturbation_norm": part["perturbation_norm"].max()})
    return pd.DataFrame(rows)


def summary_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """The report contract's rows (docs/report-contract.md) of a ``summarise`` frame.

    Per model: ``clean_accuracy`` on the attacked images (setting ``attack=none;eps=0``), then per
    attack × norm × ε (the worst case included) ``robust_accuracy`` and ``attack_success_rate``.
    """
    rows = []
    for model, part in summary.groupby("model", sort=False):
        rows.append({"model": model, "metric": "clean_accuracy", "setting": setting(attack="none", eps=0.0),
                     "value": part["clean_accuracy"].iloc[0]})
        for record in part.itertuples():
            where = setting(attack=record.attack, norm=record.norm, eps=float(record.eps))
            rows.append({"model": model, "metric": "robust_accuracy", "setting": where,
                         "value": record.robust_accuracy})
            if not math.isnan(record.attack_success_rate):
                rows.append({"model": model, "metric": "attack_success_rate", "setting": where,
                             "value": record.attack_success_rate})
    return pd.DataFrame(rows)


def robustness_table(summary: pd.DataFrame, seconds: pd.DataFrame | None = None) -> pd.DataFrame:
    """Table 3.4's layout: rows = models (one per ε), columns = attacks then worst case, cells = robust accuracy
    (then, given ``RobustnessResult.seconds``, the seconds each row's attacks took)."""
    order = list(dict.fromkeys(summary["attack"]))
    table = summary.pivot_table(index=["model", "eps"], columns="attack", values="robust_accuracy", sort=False)
    clean = summary.groupby(["model", "eps"], sort=False)["clean_accuracy"].first()
    columns = [clean.rename("clean"), table[order]]
    if seconds is not None:
        columns.append(seconds.set_index(["model", "eps"])["seconds"])
    return pd.concat(columns, axis=1).reset_index()


@dataclass(frozen=True)
class RobustnessResult:
    samples: pd.DataFrame
    """One row per (model, ε, attack, image)."""
    summary: pd.DataFrame
    """One row per (model, ε, attack) plus the worst case; see ``summarise``."""
    selected: dict[str, torch.Tensor]
    """The dataset indices each model was attacked on."""
    common_correct: int
    """How many images of the split every model classifies correctly."""
    seconds: pd.DataFrame | None = None
    """Per (model, ε): the seconds its attacks took (wall clock)."""


def evaluate_robustness(models: dict[str, nn.Module], images: torch.Tensor, labels: torch.Tensor,
                        settings: AttackSettings, *, n: int | None = None, subset: str = "all",
                        common_correct: bool = False, eps_values: Sequence[float] | None = None,
                        on_progress: OnProgress | None = None) -> RobustnessResult:
    """Attack every model at every ε on its selected images (uint8 ``images``, or float in [0, 1], on the
    models' device).

    ``subset="correct"`` attacks the first ``n`` images each model gets right; ``common_correct``
    attacks the first ``n`` images every model gets right (the same images for all). ``on_progress``
    hears of every (model, ε, batch, attack) attacked (``licli.progress``).
    """
    correct = {label: predictions(model, images, batch_size=settings.batch_size,
                                  eot_samples=settings.eot_samples) == labels for label, model in models.items()}
    shared = select_indices(list(correct.values()), n=None, subset="correct")
    selected = {label: select_indices(list(correct.values()) if common_correct else [mask], n=n,
                                      subset="correct" if common_correct else subset)
                for label, mask in correct.items()}
    budgets = list(eps_values or [settings.eps])
    parts = Parts("attack", len(budgets) * len(settings.attacks) * sum(
        -(-len(chosen) // settings.batch_size) for chosen in selected.values()), on_progress)
    frames, seconds = [], []
    for label, model in models.items():
        chosen = selected[label]
        for eps in budgets:
            started = time.perf_counter()
            frames.append(attack_samples(model, images[chosen], labels[chosen], chosen, settings, eps=eps,
                                         parts=parts, label=f"{label} · ").assign(model=label))
            seconds.append({"model": label, "eps": eps, "seconds": time.perf_counter() - started})
    samples = pd.concat(frames, ignore_index=True)
    samples = samples[["model", *[c for c in samples.columns if c != "model"]]]
    return RobustnessResult(samples, summarise(samples), selected, len(shared), pd.DataFrame(seconds))


def worst_case_accuracy(settings: AttackSettings, n: int | None = None) -> Callable[[nn.Module, Split], float]:
    """A hook ``(model, split) -> robust accuracy``: the worst case over ``settings.attacks`` on the first
    ``n`` images of ``split`` (all images, not only the correctly classified ones), for
    ``licli.evaluations.pruning.run`` (accuracy under attack at each sparsity, Gradient Mask §3.3.1)."""
    def measure(model: nn.Module, split: Split) -> float:
        result = evaluate_robustness({"model": model}, split.images, split.labels, settings, n=n)
        return float(result.summary.loc[result.summary["attack"] == WORST_CASE, "robust_accuracy"].iloc[0])

    return measure
