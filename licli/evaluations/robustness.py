"""Robust accuracy under attack (NormOut §2.3.2, Tables 3.4–3.5) as tidy DataFrames.

``attack_samples`` gives one row per (attack, ε, image); ``summarise`` turns it into robust
accuracy, attack success rate and target hit rate per attack, plus the per-sample worst case across
attacks. An image is robust only if the model classifies it correctly clean *and* after every attack
(the convention of AutoAttack and RobustBench): an attack that "fixes" a misclassified image does not
make it robust. Every entry point takes images as uint8 0–255 tensors (N, C, H, W) and refuses others
(``check_images``); attacks see them as floats in [0, 1].
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

from licli.attacks import ATTACKS, BACKENDS
from licli.attacks.keyed import ImageKeys
from licli.attacks.runner import kept_modes, run_attack
from licli.attacks.targets import TARGETS
from licli.attacks.threat import Threat, check_budget
from licli.data import Split
from licli.data.core import unit_float
from licli.errors import LicliError
from licli.evaluations.degenerate import Degeneracy, degeneracy
from licli.models.slots import model_slots
from licli.progress import OnProgress, Parts
from licli.registry import pick
from licli.contract import setting

WORST_CASE = "worst-case"
SUBSETS = ("all", "correct")


SAMPLE_COLUMNS = ("attack", "norm", "eps", "index", "label", "clean_pred", "adv_pred", "target",
                  "perturbation_norm", "success", "target_hit")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (``--shard i/k``): the attack batches whose global number is ``i`` mod ``k``."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not (isinstance(self.count, int) and isinstance(self.index, int) and 0 <= self.index < self.count):
            raise LicliError(f"shard {self.index}/{self.count} is not i/k with 0 ≤ i < k",
                             "pass e.g. shard=0/4 … shard=3/4", field="shard")

    def holds(self, batch: int) -> bool:
        return batch % self.count == self.index

    @classmethod
    def parse(cls, text: str | None) -> "Shard":
        """``"i/k"`` (None: the whole run)."""
        if text is None:
            return cls()
        index, _, count = text.partition("/")
        try:
            return cls(int(index), int(count))
        except ValueError:
            raise LicliError(f"shard {text!r} is not i/k", "pass e.g. shard=0/4 … shard=3/4", field="shard") from None


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
    backend: str = "native"
    """FGSM/PGD implementation (``licli.attacks.BACKENDS``): native (sync-free) or cleverhans (reference)."""

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise LicliError(f"unknown attack backend {self.backend!r}", f"choose one of: {', '.join(BACKENDS)}")
        if not self.attacks:
            raise LicliError("attacks is empty", f"pass attacks=NAMES with some of: {', '.join(ATTACKS)}",
                             field="attacks")
        for name in self.attacks:
            pick(ATTACKS, name, "attack")
        pick(TARGETS, self.target_rule, "target rule")
        threat = Threat(self.norm, self.eps)  # validates norm and ε ≥ 0; built once per settings
        object.__setattr__(self, "norm", threat.norm)
        object.__setattr__(self, "_threat", threat)  # not a field: the manifest records norm and eps
        check_budget(self.norm, self.eps)
        for name, value in (("steps", self.steps), ("n_queries", self.n_queries), ("batch_size", self.batch_size)):
            if value < 1:
                raise LicliError(f"{name} must be ≥ 1 (got {value})", f"pass e.g. {name}=10", field=name)
        if not self.step_size > 0:
            raise LicliError(f"step_size must be > 0 (got {self.step_size})", "pass e.g. step_size=3/255",
                             field="step_size")
        if self.eot_samples < 0:
            raise LicliError(f"eot_samples must be ≥ 0 (got {self.eot_samples})",
                             "pass eot_samples=0 (eval mode) or e.g. eot_samples=10", field="eot_samples")

    @property
    def threat(self) -> Threat:
        """The settings' threat (``norm``, ``eps``), built once in ``__post_init__``."""
        return self._threat

    def params(self) -> dict[str, object]:
        return {"steps": self.steps, "step_size": self.step_size, "n_queries": self.n_queries,
                "random_start": self.random_start, "backend": self.backend}


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


def check_images(images: torch.Tensor, labels: torch.Tensor | None = None) -> None:
    """Refuse anything but images (N, C, H, W) that are uint8 in [0, 255] or float in [0, 1] (what
    torchattacks/AutoAttack users pass), with one integer label each (LicliError).

    A float batch outside [0, 1] (e.g. 0–255 floats) is refused rather than guessed at: read the wrong way it
    would be saturated or near-black, and would give numbers silently.
    """
    if not isinstance(images, torch.Tensor) or not (images.dtype == torch.uint8 or images.is_floating_point()):
        dtype = images.dtype if isinstance(images, torch.Tensor) else type(images).__name__
        raise LicliError(f"images must be uint8 0–255 or float 0–1 tensors (got {dtype})",
                         "convert them, e.g. images.float() / 255")
    if images.is_floating_point() and images.numel():
        low, high = images.min().item(), images.max().item()
        if low < 0 or high > 1:
            raise LicliError(f"float images must lie in [0, 1] (got values in [{low:.3g}, {high:.3g}])",
                             "divide 0–255 images by 255 (models normalise inside; budgets are in [0, 1] pixel units)")
    if images.dim() != 4:
        raise LicliError(f"images must be shaped (N, C, H, W) (got {tuple(images.shape)})",
                         "add the channel dimension, e.g. images.unsqueeze(1)")
    if labels is not None and (labels.dtype.is_floating_point or labels.dtype == torch.bool
                               or labels.shape != images.shape[:1]):
        raise LicliError(f"labels must be one integer class per image (got {labels.dtype}, "
                         f"shape {tuple(labels.shape)} for {len(images)} images)", "pass labels as a long tensor (N,)")


def predictions(model: nn.Module, images: torch.Tensor, *, batch_size: int, eot_samples: int = 0) -> torch.Tensor:
    """Predicted classes of images (N, C, H, W; uint8, or float in [0, 1]) on the model's device or streamed there
    batch by batch, as the attacks see the model (``attacked_view``): the one batched prediction every evaluation uses."""
    check_images(images)
    device = model_device(model)
    with attacked_view(model, eot_samples) as view, torch.no_grad():
        return torch.cat([view(unit_float(images[i:i + batch_size].to(device))).argmax(1)
                          for i in range(0, len(images), batch_size)])


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


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
                   settings: AttackSettings, *, threat: Threat | None = None, shard: Shard = Shard(),
                   parts: Parts | None = None, label: str = "") -> pd.DataFrame:
    """One row per (attack, image): index, label, clean/adversarial prediction, target, norm, success.

    ``images`` are uint8 on the model's device; ``indices`` name the dataset rows they come from.
    ``success`` means the adversarial image is misclassified; ``robust`` that the model is right on
    both the clean and the adversarial image; ``target_hit`` that the adversarial image is the target.
    The batch starting at position p of ``images`` is attacked with seed ``settings.seed + p`` (same seed →
    same rows); PGD's random start (native backend) and random targets are drawn per image, keyed by
    (``settings.seed``, the image's index), so they do not depend on ``settings.batch_size`` or ``shard``
    (``licli.attacks.keyed``). ``shard`` attacks only its share of the batches, so the shards' rows
    together are the rows of the unsharded run. ``parts`` counts each (batch, attack) as one finished part, named after ``label``.
    """
    check_images(images, labels)
    threat = settings.threat if threat is None else threat
    aimed = {name: threat.aimed(ATTACKS[name].targets == "licli") for name in settings.attacks}
    batches = -(-len(images) // settings.batch_size)
    positions = indices.tolist()  # one read, not one per batch
    frames = []
    with attacked_view(model, settings.eot_samples) as view:
        for number, start in enumerate(range(0, len(images), settings.batch_size)):
            if not shard.holds(number):
                continue
            y = labels[start:start + settings.batch_size]
            x = unit_float(images[start:start + settings.batch_size].to(y.device))
            keys = ImageKeys(settings.seed, tuple(positions[start:start + len(y)]))
            with torch.no_grad():
                clean = view(x).argmax(1)
            for name in settings.attacks:
                with parts.part(f"{label}{name} · ε={threat.eps:.4g} · batch {number + 1}/{batches}") if parts else nullcontext():
                    outcome = run_attack(name, view, x, y, threat=aimed[name], seed=settings.seed + start,
                                         target_rule=settings.target_rule, image_keys=keys, **settings.params())
                    with torch.no_grad():
                        adv = view(outcome.x_adv).argmax(1)
                target = outcome.target if outcome.target is not None else torch.full_like(y, -1)
                columns = torch.stack([indices[start:start + len(y)].to(y.device), y, clean, adv, target]).cpu()
                frames.append(pd.DataFrame({
                    "attack": name, "norm": threat.norm, "eps": threat.eps,
                    "index": columns[0].numpy(), "label": columns[1].numpy(), "clean_pred": columns[2].numpy(),
                    "adv_pred": columns[3].numpy(), "target": columns[4].numpy(),
                    "perturbation_norm": outcome.norms.cpu().numpy(),
                }))
    if not frames:
        return pd.DataFrame(columns=SAMPLE_COLUMNS)
    frame = pd.concat(frames, ignore_index=True)
    frame["target"] = frame["target"].astype("Int64").where(frame["target"] >= 0)
    frame["success"] = frame["adv_pred"] != frame["label"]
    frame["robust"] = (frame["clean_pred"] == frame["label"]) & ~frame["success"]
    frame["target_hit"] = (frame["adv_pred"] == frame["target"]).astype("boolean")
    return frame


def summarise(samples: pd.DataFrame) -> pd.DataFrame:
    """Per (model, norm, ε, attack): n, clean and robust accuracy, attack success rate, target hit rate.

    Robust accuracy counts an image robust only if it is classified correctly clean and adversarially
    (AutoAttack / RobustBench); attack success rate counts only images classified correctly clean.
    The ``worst-case`` row counts an image robust only if it survives every attack.
    """
    keys = [k for k in ("model", "norm", "eps") if k in samples.columns]
    clean_correct = samples["clean_pred"] == samples["label"]
    samples = samples.assign(clean_correct=clean_correct,
                             robust=clean_correct & (samples["adv_pred"] == samples["label"]))
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


DEGENERACY_SETTING = setting(images="split")
"""The setting of the degeneracy rows: judged on every image of the split, not only the attacked ones."""


def degeneracy_rows(model: str, verdict: Degeneracy) -> list[dict[str, object]]:
    """The report contract's rows of one model's degeneracy: ``degenerate`` (1 or 0, lower is better),
    ``top_class_share`` (lower) and ``prediction_entropy`` (higher), setting ``images=split``."""
    return [{"model": model, "metric": metric, "setting": DEGENERACY_SETTING, "value": value, "direction": direction}
            for metric, value, direction in (("degenerate", float(verdict.degenerate), "lower"),
                                             ("top_class_share", verdict.top_class_share, "lower"),
                                             ("prediction_entropy", verdict.prediction_entropy, "higher"))]


def summary_rows(summary: pd.DataFrame, degeneracies: dict[str, Degeneracy] | None = None) -> pd.DataFrame:
    """The report contract's rows (docs/report-contract.md) of a ``summarise`` frame.

    Per model: its ``degeneracy_rows`` (when ``degeneracies`` has the model), ``clean_accuracy`` on the
    attacked images (setting ``attack=none;eps=0``), then per attack × norm × ε (the worst case
    included) ``robust_accuracy`` and ``attack_success_rate``.
    """
    rows = []
    for model, part in summary.groupby("model", sort=False):
        if degeneracies and model in degeneracies:
            rows += degeneracy_rows(model, degeneracies[model])
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


DEGENERATE_MARK = "DEGENERATE"


def robustness_table(summary: pd.DataFrame, degeneracies: dict[str, Degeneracy] | None = None,
                     seconds: pd.DataFrame | None = None) -> pd.DataFrame:
    """Table 3.4's layout: rows = models (one per ε), columns = attacks then worst case, cells = robust accuracy
    (then, given ``RobustnessResult.seconds``, the seconds each row's attacks took).

    With ``degeneracies``, a ``model check`` column says ``DEGENERATE`` for degenerate models (their
    robust accuracy is no evidence of robustness) and ``ok`` for the others.
    """
    order = list(dict.fromkeys(summary["attack"]))
    table = summary.pivot_table(index=["model", "eps"], columns="attack", values="robust_accuracy", sort=False)
    clean = summary.groupby(["model", "eps"], sort=False)["clean_accuracy"].first()
    columns = [clean.rename("clean"), table[order]]
    if seconds is not None:
        columns.append(seconds.set_index(["model", "eps"])["seconds"])
    table = pd.concat(columns, axis=1).reset_index()
    if degeneracies:
        table.insert(1, "model check", [DEGENERATE_MARK if degeneracies.get(m) and degeneracies[m].degenerate
                                        else "ok" for m in table["model"]])
    return table


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
    degeneracy: dict[str, Degeneracy]
    """Each model's degeneracy verdict on the clean predictions over every image given."""
    seconds: pd.DataFrame | None = None
    """Per (model, ε): the seconds its attacks took (wall clock)."""


def class_count(model: nn.Module, images: torch.Tensor) -> int:
    """The number of classes ``model`` scores (the width of its logits on one image)."""
    check_images(images)
    with kept_modes(model), torch.no_grad():
        model.eval()
        return int(model(unit_float(images[:1].to(model_device(model)))).shape[1])


def evaluate_robustness(models: dict[str, nn.Module], images: torch.Tensor, labels: torch.Tensor,
                        settings: AttackSettings, *, n: int | None = None, subset: str = "all",
                        common_correct: bool = False, threats: Sequence[Threat] | None = None,
                        shard: Shard = Shard(), on_progress: OnProgress | None = None) -> RobustnessResult:
    """Attack every model at every budget of ``threats`` (default: ``settings.threat``) on its selected images (uint8 ``images``, or float in [0, 1], on the
    models' device; ``check_images``).

    ``subset="correct"`` attacks the first ``n`` images each model gets right; ``common_correct``
    attacks the first ``n`` images every model gets right (the same images for all). Each model's
    ``degeneracy`` is judged on its clean predictions over all ``images``. ``shard`` attacks only its share of
    the batches (``licli attack --shard``). ``on_progress`` hears of every (model, ε, batch, attack) attacked
    (``licli.progress``).
    """
    check_images(images, labels)
    budgets = list(threats or [settings.threat])
    for threat in budgets:
        check_budget(threat.norm, threat.eps, images[0].numel(), "eps_sweep" if threats else "eps")
    predicted = {label: predictions(model, images, batch_size=settings.batch_size, eot_samples=settings.eot_samples)
                 for label, model in models.items()}
    verdicts = {label: degeneracy(predicted[label], labels, class_count(model, images))
                for label, model in models.items()}
    correct = {label: predicted[label] == labels for label in models}
    shared = select_indices(list(correct.values()), n=None, subset="correct")
    selected = {label: select_indices(list(correct.values()) if common_correct else [mask], n=n,
                                      subset="correct" if common_correct else subset)
                for label, mask in correct.items()}
    parts = Parts("attack", len(budgets) * len(settings.attacks) * sum(
        -(-len(chosen) // settings.batch_size) for chosen in selected.values()), on_progress)
    frames, seconds = [], []
    for label, model in models.items():
        chosen = selected[label]
        for threat in budgets:
            started = time.perf_counter()
            frames.append(attack_samples(model, images[chosen.to(images.device)], labels[chosen], chosen, settings,
                                         threat=threat, shard=shard, parts=parts, label=f"{label} · ").assign(model=label))
            seconds.append({"model": label, "eps": threat.eps, "seconds": time.perf_counter() - started})
    samples = pd.concat(frames, ignore_index=True)
    samples = samples[["model", *[c for c in samples.columns if c != "model"]]]
    return RobustnessResult(samples, summarise(samples), selected, len(shared), verdicts, pd.DataFrame(seconds))


def worst_case_accuracy(settings: AttackSettings, n: int | None = None) -> Callable[[nn.Module, Split], float]:
    """A hook ``(model, split) -> robust accuracy``: the worst case over ``settings.attacks`` on the first
    ``n`` images of ``split`` (all images, not only the correctly classified ones), for
    ``licli.evaluations.pruning.run`` (accuracy under attack at each sparsity, Gradient Mask §3.3.1)."""
    def measure(model: nn.Module, split: Split) -> float:
        result = evaluate_robustness({"model": model}, split.images, split.labels, settings, n=n)
        return float(result.summary.loc[result.summary["attack"] == WORST_CASE, "robust_accuracy"].iloc[0])

    return measure
