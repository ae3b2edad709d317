"""Does the mechanism really make the network more robust? One verdict, with the evidence that decided it.

``verdict(mechanism, baseline, images, labels, config)`` takes one or more trained mechanism models and as
many baselines (seed pairs, paired by order), runs the battery on the same test images and returns a
``Verdict``: one of ``DECISIONS``, the evidence lines behind it, the per-seed table and the statistics.
The decision rules, in order (docs/verdict.md):

1. **degenerate model** — any model is collapsed or at chance (``licli.evaluations.degenerate``).
2. **apparent robustness from gradient masking** — any mechanism model FAILs a masking check
   (``licli.evaluations.masking_checks``); a masked baseline makes the comparison inconclusive.
3. **statistics**, per ε of the threat model. An image is robust when the model is right on it clean
   and after every attack of the battery (the worst case per image, AutoAttack's convention).
   Mechanism vs baseline is tested on the per-image robust outcomes of the same images: the exact
   sign test of the per-image net discordance over seed pairs (exact McNemar when there is one pair),
   Holm-corrected over ε. Significant at some ε (one direction only) and, with ≥ 2 seed pairs, a
   seed-level t interval that excludes 0 → *more/less robust*. Not significant and the effect's
   interval (Tango's score interval for paired proportions, and the seed interval) inside ±``margin``
   at every ε → *no measurable difference*. Anything else → *inconclusive*, with the number of images
   or seeds that would settle it.

Pure: models, uint8 tensors and a frozen config in; a frozen dataclass out. Nothing here prints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from statistics import NormalDist

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn

from licli.attacks import ATTACKS
from licli.attacks.threat import canonical_norm, check_budget
from licli.training.config import TrainConfig
from licli.data import Dataset
from licli.errors import LicliError
from licli.evaluations.degenerate import Degeneracy, degeneracy
from licli.evaluations.masking_checks import FAIL, MASKING_CHECKS, WARN, masking_report
from licli.evaluations.robustness import AttackSettings, attack_samples, check_images, class_count, predictions
from licli.registry import pick
from licli.statistics import McNemar, binomial_test, mcnemar_exact, wilson_interval
from licli.training.loop import fit

MORE, SAME, LESS = "more-robust", "no-measurable-difference", "less-robust"
MASKED, DEGENERATE, INCONCLUSIVE = "gradient-masking", "degenerate-model", "inconclusive"
DECISIONS: dict[str, str] = {
    MORE: "more robust",
    SAME: "no measurable difference",
    LESS: "less robust",
    MASKED: "apparent robustness from gradient masking",
    DEGENERATE: "degenerate model",
    INCONCLUSIVE: "inconclusive",
}
"""Every verdict the command can reach: slug (``--expect``) → the sentence it prints."""

DEFAULT_EPS: dict[tuple[str, str], tuple[float, ...]] = {
    ("mnist", "linf"): (0.1, 0.3),
    ("mnist-mini", "linf"): (0.1, 0.3),
    ("cifar10", "linf"): (8 / 255,),
}
"""The papers' budgets: MNIST ε = 0.1 and 0.3 in L∞ (Madry et al. 2018), CIFAR-10 8/255 (NormOut Table 3.4)."""
WHITE_BOX = ("pgd", "apgd-ce")
BLACK_BOX = ("square",)
STEP_FACTOR = 2.5
"""PGD/step size = ``STEP_FACTOR`` · ε / steps (Madry et al. 2018): the steps can cross the ball and back."""
MIN_IMAGES = 20
"""Below this many images no statistics are attempted (inconclusive)."""
SMOKE_IMAGES, SMOKE_SEEDS = 1000, 3
"""A run with fewer images or seed pairs than these is smoke scale (said in the verdict)."""
MAX_NEEDED = 10**7


def default_eps(dataset: str, norm: str) -> tuple[float, ...]:
    """The papers' ε list for ``dataset`` under ``norm``; LicliError when there is none."""
    key = (dataset, canonical_norm(norm))
    if key not in DEFAULT_EPS:
        raise LicliError(f"no default ε for {dataset} in {key[1]}", "pass e.g. eps=0.5,1.0", field="eps")
    return DEFAULT_EPS[key]


@dataclass(frozen=True)
class VerdictConfig:
    """The threat model, the battery and the statistics of one verdict."""

    eps: tuple[float, ...]
    norm: str = "linf"
    attacks: tuple[str, ...] = (*WHITE_BOX, *BLACK_BOX)
    autoattack: bool = False
    """Add the standard AutoAttack ensemble to the battery."""
    steps: int = 10
    n_queries: int = 5000
    n: int | None = None
    """Attack the first ``n`` images (default: all given)."""
    batch_size: int = 250
    seed: int = 0
    eot_samples: int = 0
    masking_checks: tuple[str, ...] = tuple(MASKING_CHECKS)
    alpha: float = 0.05
    """Family-wise error rate of the mechanism-vs-baseline tests (Holm over ε)."""
    margin: float = 0.03
    """Differences in robust accuracy smaller than this count as no difference (an equivalence margin)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "norm", canonical_norm(self.norm))
        object.__setattr__(self, "eps", tuple(float(e) for e in self.eps))
        if not self.eps:
            raise LicliError("eps is empty", "pass e.g. eps=0.1,0.3", field="eps")
        for eps in self.eps:
            if not eps > 0 or math.isnan(eps):
                raise LicliError(f"eps must be > 0 (got {eps})", "pass e.g. eps=0.1,0.3", field="eps")
            check_budget(self.norm, eps)
        if len(set(self.eps)) != len(self.eps):
            raise LicliError(f"ε values repeat ({', '.join(f'{e:g}' for e in self.eps)})", "pass each ε once")
        if not self.attacks:
            raise LicliError("attacks is empty: no attack in the battery",
                             f"pass e.g. attacks=pgd,square (some of: {', '.join(ATTACKS)})", field="attacks")
        for name in self.attacks:
            pick(ATTACKS, name, "attack")
        for name in self.masking_checks:
            pick(MASKING_CHECKS, name, "masking check")
        for name, value in (("steps", self.steps), ("n_queries", self.n_queries), ("batch_size", self.batch_size)):
            if value < 1:
                raise LicliError(f"{name} must be ≥ 1 (got {value})", f"pass e.g. {name}=100", field=name)
        if self.n is not None and self.n < 1:
            raise LicliError(f"n must be ≥ 1 (got {self.n})", "pass e.g. n=1000", field="n")
        if not 0 < self.alpha < 1:
            raise LicliError(f"alpha must be in (0, 1) (got {self.alpha})", "pass e.g. alpha=0.05", field="alpha")
        if not 0 < self.margin < 1:
            raise LicliError(f"margin must be in (0, 1) (got {self.margin})", "pass e.g. margin=0.03", field="margin")

    @property
    def battery(self) -> tuple[str, ...]:
        return (*self.attacks, "autoattack") if self.autoattack and "autoattack" not in self.attacks else self.attacks

    def settings(self, eps: float) -> AttackSettings:
        """Attack settings at ``eps``: the battery, PGD steps of ``STEP_FACTOR`` · ε / steps."""
        return AttackSettings(attacks=self.battery, norm=self.norm, eps=eps, steps=self.steps,
                              step_size=STEP_FACTOR * eps / self.steps, n_queries=self.n_queries,
                              batch_size=self.batch_size, seed=self.seed, eot_samples=self.eot_samples)


# ---------------------------------------------------------------------------------------------- statistics


def tango_interval(only_a: int, only_b: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Tango's (1998) score interval for the paired difference p_A − p_B = (only_a − only_b) / n.

    The set of Δ where |only_a − only_b − nΔ| ≤ z·√(n(2q̂ + Δ(1 − Δ))), q̂ the maximum-likelihood
    P(only B) under the constraint p_A − p_B = Δ (closed form, Tango eq. 3). Unlike the Wald or
    conditional intervals it stays wide when no image is discordant: with only_a = only_b = 0 it is
    ±z²/(n + z²), so two identical models on two images are not "equal within 1%".
    """
    if n < 1 or only_a < 0 or only_b < 0 or only_a + only_b > n:
        raise LicliError(f"discordant counts {only_a}, {only_b} do not fit {n} pairs", "pass counts of one table")
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    estimate = (only_a - only_b) / n

    def score(delta: float) -> float:
        a, b = 2 * n, -only_a - only_b + (2 * n - only_a + only_b) * delta
        c = -only_b * delta * (1 - delta)
        q = (-b + math.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
        variance = n * (2 * q + delta * (1 - delta))
        return (only_a - only_b - n * delta) / math.sqrt(variance) if variance > 0 else math.copysign(math.inf, estimate - delta)

    def bound(inside: float, outside: float) -> float:
        if abs(score(outside)) <= z:
            return outside
        for _ in range(200):  # bisection: |score| grows monotonically away from the estimate
            middle = (inside + outside) / 2
            inside, outside = (middle, outside) if abs(score(middle)) <= z else (inside, middle)
        return (inside + outside) / 2

    return bound(estimate, -1.0), bound(estimate, 1.0)


def sign_test(net: torch.Tensor) -> tuple[int, int, float]:
    """Exact two-sided sign test of per-image net discordance (images where A wins more seed pairs than
    B vs the reverse); with one seed pair it is the exact McNemar test."""
    positive, negative = int((net > 0).sum()), int((net < 0).sum())
    return positive, negative, binomial_test(positive, positive + negative, 0.5, "two-sided")


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error over the ε list)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [1.0] * len(p_values), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def t_interval(differences: Sequence[float], confidence: float) -> tuple[float, float]:
    """Student-t interval of the mean of paired per-seed differences (scipy); (mean, mean) when they agree."""
    values = np.asarray(differences, dtype=float)
    if len(values) < 2:
        return math.nan, math.nan
    if np.ptp(values) == 0:
        return float(values[0]), float(values[0])
    low, high = stats.ttest_1samp(values, 0.0).confidence_interval(confidence)
    return float(low), float(high)


def seeds_needed(differences: Sequence[float], confidence: float) -> int | None:
    """The fewest seed pairs whose t interval would exclude 0 if the observed mean and spread held."""
    values = np.asarray(differences, dtype=float)
    mean, spread = abs(float(values.mean())), float(values.std(ddof=1)) if len(values) > 1 else math.nan
    if not mean > 0 or not math.isfinite(spread):
        return None
    for count in range(2, 10_001):
        if stats.t.ppf((1 + confidence) / 2, count - 1) * spread / math.sqrt(count) < mean:
            return count
    return None


def images_needed(n: int, interval: tuple[float, float], effect: float, margin: float) -> int:
    """Images for the effect's interval to settle the question if the observed rates held: either exclude
    0 (half-width < |effect|) or fit inside ±margin (half-width < margin − |effect|). The half-width
    shrinks as 1/√n, so n·(half-width / target)²."""
    half = (interval[1] - interval[0]) / 2
    target = max(abs(effect), margin - abs(effect))
    return min(MAX_NEEDED, max(n + 1, math.ceil(n * (half / target) ** 2)))


# ------------------------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class Scale:
    """How big the run was: what the verdict may and may not be taken to say."""

    images: int
    seeds: int
    dataset: str
    device: str
    epochs: tuple[int | None, ...] = ()
    """Training epochs of each model (None: unknown, e.g. a foreign checkpoint)."""

    @property
    def smoke(self) -> bool:
        return self.images < SMOKE_IMAGES or self.seeds < SMOKE_SEEDS

    def describe(self) -> str:
        known = sorted({e for e in self.epochs if e is not None})
        epochs = "epochs unknown" if not known else f"{'/'.join(map(str, known))} epochs"
        text = (f"{self.images} test images of {self.dataset}, {self.seeds} seed pair(s), {epochs}, "
                f"on {self.device}")
        if self.smoke:
            text += (f" — SMOKE SCALE (< {SMOKE_IMAGES} images or < {SMOKE_SEEDS} seeds): a check that the "
                     "pipeline works, not a finding")
        return text


@dataclass(frozen=True)
class Verdict:
    decision: str
    """One of ``DECISIONS``."""
    evidence: tuple[str, ...]
    """The lines that decided it, in the order of the rules."""
    scale: Scale
    per_seed: pd.DataFrame
    """One row per (side, seed pair, ε): clean and robust accuracy (worst case and per attack), Wilson interval."""
    comparisons: pd.DataFrame
    """One row per ε: effect, intervals, the tests (raw and Holm-adjusted p)."""
    masking: pd.DataFrame
    """The masking checks of every model (side, seed, check, verdict, evidence)."""
    degeneracy: dict[str, Degeneracy]
    needed: dict[str, int] = field(default_factory=dict)
    """When inconclusive: ``images`` and/or ``seeds`` that would settle it (estimates)."""
    config: VerdictConfig | None = None

    @property
    def title(self) -> str:
        return DECISIONS[self.decision]

    def to_dict(self) -> dict[str, object]:
        return {"decision": self.decision, "verdict": self.title, "evidence": list(self.evidence),
                "scale": {**asdict(self.scale), "smoke": self.scale.smoke, "text": self.scale.describe()},
                "needed": dict(self.needed),
                "config": None if self.config is None else asdict(self.config),
                "per_seed": self.per_seed.to_dict(orient="records"),
                "comparisons": self.comparisons.to_dict(orient="records"),
                "masking": self.masking.to_dict(orient="records"),
                "degeneracy": {label: v.to_dict() for label, v in self.degeneracy.items()}}


# ------------------------------------------------------------------------------------------------ battery


def robust_outcomes(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, settings: AttackSettings
                    ) -> tuple[torch.Tensor, pd.DataFrame]:
    """Per image (CPU bool): right clean and after every attack of ``settings``; and the per-attack rows."""
    samples = attack_samples(model, images, labels, torch.arange(len(labels)), settings)
    robust = samples.groupby("index", sort=True)["robust"].all()
    return torch.tensor(robust.reindex(range(len(labels))).to_numpy(dtype=bool)), samples


def _seed_row(side: str, pair: int, label: str, eps: float, robust: torch.Tensor, samples: pd.DataFrame,
              confidence: float) -> dict[str, object]:
    k, n = int(robust.sum()), len(robust)
    low, high = wilson_interval(k, n, confidence)
    clean = samples.drop_duplicates("index")
    row: dict[str, object] = {"side": side, "pair": pair, "model": label, "eps": eps,
                              "clean_accuracy": float((clean["clean_pred"] == clean["label"]).mean()),
                              "robust_accuracy": k / n, "robust_low": low, "robust_high": high, "n": n}
    for attack, part in samples.groupby("attack", sort=False):
        row[f"robust_{attack}"] = float(part["robust"].mean())
    return row


def _compare(eps: float, mechanism: list[torch.Tensor], baseline: list[torch.Tensor], confidence: float
             ) -> dict[str, object]:
    n = len(mechanism[0])
    tests: list[McNemar] = [mcnemar_exact(m, b) for m, b in zip(mechanism, baseline)]
    net = sum(m.long() - b.long() for m, b in zip(mechanism, baseline))
    wins, losses, p_value = sign_test(net)
    differences = [float(m.double().mean() - b.double().mean()) for m, b in zip(mechanism, baseline)]
    only_m, only_b = sum(t.only_a for t in tests), sum(t.only_b for t in tests)
    low, high = tango_interval(only_m, only_b, n * len(tests), confidence)
    seed_low, seed_high = t_interval(differences, confidence)
    return {"eps": eps, "n": n, "pairs": len(tests), "effect": float(np.mean(differences)),
            "image_low": low, "image_high": high, "seed_low": seed_low, "seed_high": seed_high,
            "only_mechanism": only_m, "only_baseline": only_b,
            "images_mechanism_wins": wins, "images_baseline_wins": losses, "p_value": p_value,
            "pair_p_values": [t.p_value for t in tests], "differences": differences}


def _masking(models: dict[str, nn.Module], images: torch.Tensor, labels: torch.Tensor, config: VerdictConfig,
             verdicts: dict[str, Degeneracy]) -> pd.DataFrame:
    """Every masking check at the smallest ε (most images survive there, so the paired checks have the
    most evidence), on each model's correctly classified images among the attacked ones."""
    settings = config.settings(min(config.eps))
    frames = [masking_report(model, images, labels, torch.arange(len(labels)), settings,
                             checks=config.masking_checks, model_degeneracy=verdicts[label]).assign(model=label)
              for label, model in models.items()]
    frame = pd.concat(frames, ignore_index=True)
    return frame[["model", *[c for c in frame.columns if c != "model"]]]


# ------------------------------------------------------------------------------------------------ decision


def _fmt_interval(low: float, high: float) -> str:
    return f"[{low:+.1%}, {high:+.1%}]"


def _statistics_decision(comparisons: pd.DataFrame, config: VerdictConfig, confidence: float
                         ) -> tuple[str, list[str], dict[str, int]]:
    lines, needed = [], {}
    pairs, n = int(comparisons["pairs"].iloc[0]), int(comparisons["n"].iloc[0])
    for row in comparisons.itertuples():
        seeds = "" if row.pairs < 2 else f"; across seeds {_fmt_interval(row.seed_low, row.seed_high)}"
        lines.append(f"ε = {row.eps:g}: robust accuracy mechanism − baseline {row.effect:+.1%}, "
                     f"{confidence:.0%} interval {_fmt_interval(row.image_low, row.image_high)}{seeds}; "
                     f"images only the mechanism survives {row.only_mechanism}, only the baseline "
                     f"{row.only_baseline} (exact {'McNemar' if row.pairs == 1 else 'sign test over images'} "
                     f"p = {row.p_value:.3g}, Holm p = {row.p_holm:.3g})")
    if n < MIN_IMAGES:
        worst = comparisons.iloc[0]
        needed["images"] = images_needed(n, (worst.image_low, worst.image_high), worst.effect, config.margin)
        return INCONCLUSIVE, [*lines, f"only {n} images (< {MIN_IMAGES}): too few to compare; about "
                                      f"{needed['images']} images needed"], needed
    significant = comparisons[comparisons["p_holm"] < config.alpha]
    directions = set(np.sign(significant["effect"]).astype(int)) - {0}
    if len(directions) > 1:
        return INCONCLUSIVE, [*lines, "the mechanism is significantly better at some ε and worse at others"], needed
    if directions:
        direction = directions.pop()
        decision = MORE if direction > 0 else LESS
        if pairs >= 2:
            seeds_agree = [(r.seed_low > 0) if direction > 0 else (r.seed_high < 0) for r in significant.itertuples()]
            if not any(seeds_agree):
                counts = [seeds_needed(r.differences, confidence) for r in significant.itertuples()]
                counts = [c for c in counts if c is not None]
                if counts:
                    needed["seeds"] = min(counts)
                more = f"; about {needed['seeds']} seed pairs needed" if counts else ""
                return INCONCLUSIVE, [*lines, f"the images favour the {'mechanism' if direction > 0 else 'baseline'}"
                                              f" but the seeds disagree: no seed interval excludes 0{more}"], needed
        where = ", ".join(f"{e:g}" for e in significant["eps"])
        return decision, [*lines, f"significant at ε = {where} (Holm, α = {config.alpha:g})"], needed
    inside = all(-config.margin < r.image_low and r.image_high < config.margin
                 and (r.pairs < 2 or (-config.margin < r.seed_low and r.seed_high < config.margin))
                 for r in comparisons.itertuples())
    if inside:
        return SAME, [*lines, f"no ε shows a significant difference and every interval lies within "
                              f"±{config.margin:.0%} (the margin)"], needed
    widest = max(comparisons.itertuples(), key=lambda r: images_needed(r.n, (r.image_low, r.image_high),
                                                                      r.effect, config.margin))
    needed["images"] = images_needed(widest.n, (widest.image_low, widest.image_high), widest.effect, config.margin)
    seed_wide = [r for r in comparisons.itertuples() if r.pairs >= 2
                 and not (-config.margin < r.seed_low and r.seed_high < config.margin)]
    text = (f"no significant difference, but the interval at ε = {widest.eps:g} reaches beyond ±{config.margin:.0%}: "
            f"about {needed['images']} images needed to tell")
    if seed_wide:
        counts = [c for c in (seeds_needed(r.differences, confidence) for r in seed_wide) if c]
        text += "; the seed interval is wider than the margin too" + (f" (≈ {max(counts)} seed pairs)" if counts else "")
        if counts:
            needed["seeds"] = max(counts)
    return INCONCLUSIVE, [*lines, text], needed


def verdict(mechanism: Sequence[nn.Module], baseline: Sequence[nn.Module], images: torch.Tensor,
            labels: torch.Tensor, config: VerdictConfig, *, dataset: str = "?",
            epochs: Sequence[int | None] = ()) -> Verdict:
    """Judge ``mechanism`` models against ``baseline`` models (seed pairs, by order) on uint8 ``images``.

    Degeneracy is judged on every given image; the battery and the masking checks run on the first
    ``config.n``. ``dataset`` and ``epochs`` (per model, mechanism then baseline) only name the scale.
    """
    check_images(images, labels)
    if not mechanism or len(mechanism) != len(baseline):
        raise LicliError(f"{len(mechanism)} mechanism model(s) for {len(baseline)} baseline(s)",
                         "pass one baseline per mechanism model (seed pairs, paired by order)")
    confidence = 1 - config.alpha
    n = len(labels) if config.n is None else min(config.n, len(labels))
    attacked, attacked_labels = images[:n], labels[:n]
    for eps in config.eps:
        check_budget(config.norm, eps, images[0].numel())
    models = {f"{side}#{pair + 1}": model for side, group in (("mechanism", mechanism), ("baseline", baseline))
              for pair, model in enumerate(group)}
    verdicts = {label: degeneracy(predictions(model, images, batch_size=config.batch_size,
                                              eot_samples=config.eot_samples), labels, class_count(model, images))
                for label, model in models.items()}
    settings = {eps: config.settings(eps) for eps in config.eps}  # one AttackSettings (and Threat) per ε
    rows, outcomes = [], {}
    for label, model in models.items():
        side, pair = label.split("#")
        for eps in config.eps:
            robust, samples = robust_outcomes(model, attacked, attacked_labels, settings[eps])
            outcomes[label, eps] = robust
            rows.append(_seed_row(side, int(pair), label, eps, robust, samples, confidence))
    per_seed = pd.DataFrame(rows)
    comparisons = pd.DataFrame([_compare(eps, [outcomes[f"mechanism#{k + 1}", eps] for k in range(len(mechanism))],
                                         [outcomes[f"baseline#{k + 1}", eps] for k in range(len(baseline))],
                                         confidence) for eps in config.eps])
    comparisons.insert(comparisons.columns.get_loc("p_value") + 1, "p_holm", holm(list(comparisons["p_value"])))
    masking = _masking(models, attacked, attacked_labels, config, verdicts) if config.masking_checks \
        else pd.DataFrame(columns=["model", "check", "verdict", "evidence"])
    scale = Scale(images=n, seeds=len(mechanism), dataset=dataset, device=str(images.device),
                  epochs=tuple(epochs))
    decision, evidence, needed = _decide(verdicts, masking, comparisons, config, confidence)
    return Verdict(decision, (f"scale: {scale.describe()}", *evidence), scale, per_seed, comparisons, masking,
                   verdicts, needed, config)


def _decide(verdicts: dict[str, Degeneracy], masking: pd.DataFrame, comparisons: pd.DataFrame,
            config: VerdictConfig, confidence: float) -> tuple[str, list[str], dict[str, int]]:
    degenerate = [f"{label}: {v.describe()}" for label, v in verdicts.items() if v.degenerate]
    if degenerate:
        return DEGENERATE, [*degenerate, "a degenerate model's robust accuracy is no evidence of robustness"], {}
    passed = [f"no model is degenerate ({len(verdicts)} judged on {next(iter(verdicts.values())).n} images)"]
    failed = masking[(masking["verdict"] == FAIL) & (masking["check"] != "degenerate-model")]
    flagged = [f"{r.model}: masking check {r.check} FAILS — {r.evidence}" for r in failed.itertuples()]
    warned = [f"{r.model}: masking check {r.check} warns — {r.evidence}"
              for r in masking[masking["verdict"] == WARN].itertuples()]
    if any(line.startswith("mechanism") for line in flagged):
        return MASKED, [*flagged, *warned, "the mechanism's robust accuracy comes from hiding gradients from the "
                                           "attacks, not from robustness"], {}
    if flagged:
        return INCONCLUSIVE, [*flagged, *warned, "the baseline fails masking checks: its robust accuracy, and so "
                                                 "the comparison, cannot be trusted"], {}
    checks = sorted(set(masking["check"]) - {"degenerate-model"})
    passed.append(f"no masking check fails ({len(checks)} checks × {len(verdicts)} models)" if checks
                  else "masking checks not run")
    decision, lines, needed = _statistics_decision(comparisons, config, confidence)
    if int(comparisons["pairs"].iloc[0]) == 1:
        lines.append("one seed pair: this compares these two trained models, not the training recipes")
    return decision, [*passed, *warned, *lines], needed


# ------------------------------------------------------------------------------------------------ training


def train_seeds(config: TrainConfig, data: Dataset, seeds: int, *, device: torch.device
                ) -> list[tuple[nn.Module, object, pd.DataFrame]]:
    """Train ``config`` with seeds ``config.seed``, ``config.seed + 1``, … (``seeds`` runs) through
    ``licli.training.loop.fit``; return (model, spec, history) per seed."""
    if seeds < 1:
        raise LicliError(f"seeds must be ≥ 1 (got {seeds})", "pass e.g. seeds=3", field="seeds")
    return [fit(replace(config, seed=config.seed + k), data, device=device) for k in range(seeds)]


__all__ = ["DECISIONS", "Scale", "Verdict", "VerdictConfig", "default_eps", "holm", "images_needed", "robust_outcomes",
           "seeds_needed", "sign_test", "t_interval", "tango_interval", "train_seeds", "verdict"]
