"""Gradient-masking red flags (NormOut §1.3 after Athalye et al. 2018), one small named check each.

Each check takes the evidence gathered on one model and returns a verdict PASS / WARN / FAIL with the
numbers behind it. Checks are entries of ``MASKING_CHECKS`` (no dispatcher); a new check is one
function and one registry line. Accuracies are measured on the images the model classifies
correctly, so each accuracy is 1 − attack success rate.

Every comparison between two attacks (checks 1, 2, 4, 5) is a paired test on per-image outcomes: the
exact one-sided McNemar test (``licli.statistics.mcnemar_exact``) of "attack A leaves more images
correct than attack B" on the images exactly one of them fools. It FAILs when p < ``ALPHA`` = 0.01,
WARNs when A merely leaves more images than B (not significant), and PASSes otherwise; the evidence
shows both counts and p. A one-image difference (p = 0.5) can therefore never fail a check, and a
model must lose at least 7 images one way and none the other before a check can fail. Check 0 fails
degenerate models (``licli.evaluations.degenerate``), which otherwise pass every other check trivially.
docs/guards.md says what each check can and cannot catch.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pandas as pd
import torch
import torch.nn.functional as F
from pyautoattack import checks as autoattack_checks
from torch import nn

from licli.attacks.autoattack import isolated_autoattack_checks
from licli.attacks.runner import frozen
from licli.data.core import unit_float
from licli.evaluations.degenerate import Degeneracy, degeneracy
from licli.evaluations.robustness import (AttackSettings, attack_samples, attacked_view, check_images, class_count,
                                          predictions)
from licli.progress import OnProgress, reporting
from licli.statistics import McNemar, mcnemar_exact

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
ALPHA = 0.01
"""A comparison check fails when its one-sided exact McNemar p-value is below this. Seven checks at
0.01 keep the chance that a plain model fails any of them by luck under 7% (Bonferroni)."""
EPS_FACTORS = (0.0, 0.25, 0.5, 1.0, 2.0)
"""Check 4 sweeps ε over these multiples of the chosen ε, scaling the PGD step with it."""
RANDOM_DRAWS = 20
DIRECTIONS = 32
FD_STEP = 1e-4
SHATTERED_FAIL, SHATTERED_WARN = 0.5, 0.9
"""Median cosine(autograd, finite differences) below which check 6 fails / warns."""


@dataclass
class Evidence:
    """One model and the correctly classified images the checks attack; attack accuracies are memoised."""

    model: nn.Module
    images: torch.Tensor
    labels: torch.Tensor
    indices: torch.Tensor
    settings: AttackSettings
    degeneracy: Degeneracy | None = None
    """The model's degeneracy on every image given to ``masking_report`` (not only the correct ones)."""
    _survivors: dict[tuple, torch.Tensor] = field(default_factory=dict)

    def survived(self, attack: str, eps: float | None = None, **overrides: object) -> torch.Tensor:
        """Per image (CPU bool): still classified correctly after ``attack`` at ``eps`` (default: the
        settings' ε) with settings ``overrides``."""
        key = (attack, eps, tuple(sorted(overrides.items())))
        if key not in self._survivors:
            settings = replace(self.settings, attacks=(attack,), **overrides)
            threat = None if eps is None else settings.threat.at(eps)
            samples = attack_samples(self.model, self.images, self.labels, self.indices, settings, threat=threat)
            self._survivors[key] = torch.as_tensor(~samples["success"].to_numpy())
        return self._survivors[key]

    def accuracy(self, attack: str, eps: float | None = None, **overrides: object) -> float:
        """Robust accuracy of ``attack`` at ``eps`` (default: the settings' ε) with settings ``overrides``."""
        return float(self.survived(attack, eps, **overrides).double().mean())

    def floats(self) -> torch.Tensor:
        return unit_float(self.images)


@dataclass(frozen=True)
class Finding:
    verdict: str
    value: float
    evidence: str
    p_value: float = math.nan
    """The one-sided exact McNemar p-value of a comparison check (NaN for the others)."""


def paired_finding(stronger: torch.Tensor, weaker: torch.Tensor, names: tuple[str, str], summary: str) -> Finding:
    """The verdict of "``names[0]`` leaves more images correct than ``names[1]``" (a red flag) from the
    per-image survivors of each: FAIL if the one-sided exact McNemar p < ``ALPHA``, WARN if more images
    survive only ``names[0]`` than only ``names[1]``, else PASS. ``value`` is the accuracy gap."""
    test = mcnemar_exact(stronger, weaker, alternative="greater")
    return _paired_verdict(test, float(stronger.double().mean() - weaker.double().mean()),
                           f"{summary}; images surviving {test.describe(*names)}")


def _paired_verdict(test: McNemar, gap: float, text: str, p_value: float | None = None) -> Finding:
    p = test.p_value if p_value is None else p_value
    verdict = FAIL if p < ALPHA else WARN if test.only_a > test.only_b else PASS
    return Finding(verdict, gap, text, p)


def single_step_beats_iterative(evidence: Evidence) -> Finding:
    """Red flag 1: FGSM (one step) fools images PGD (many steps) does not, significantly more than the reverse."""
    fgsm, pgd = evidence.survived("fgsm"), evidence.survived("pgd")
    return paired_finding(pgd, fgsm, ("PGD", "FGSM"),
                          f"FGSM {fgsm.double().mean():.2%} vs PGD {pgd.double().mean():.2%}")


def black_box_beats_white_box(evidence: Evidence) -> Finding:
    """Red flag 2: Square (black-box) fools images that both white-box attacks (FGSM, PGD) leave
    correct, significantly more often than the reverse."""
    square = evidence.survived("square")
    white = evidence.survived("fgsm") & evidence.survived("pgd")
    return paired_finding(white, square, ("white-box", "Square"),
                          f"Square {square.double().mean():.2%} vs white-box {white.double().mean():.2%}")


def unbounded_attack_incomplete(evidence: Evidence) -> Finding:
    """Red flag 3: PGD with ε = ∞ (any image reachable), ≥ 20 steps of 1/10 of the box diameter, misses some."""
    diameter = evidence.settings.threat.at(math.inf).budget_for(evidence.images)
    accuracy = evidence.accuracy("pgd", math.inf, steps=max(evidence.settings.steps, 20), step_size=diameter / 10)
    return Finding(FAIL if accuracy > 0 else PASS, 1 - accuracy, f"unbounded PGD success {1 - accuracy:.2%}")


def accuracy_not_monotone_in_eps(evidence: Evidence) -> Finding:
    """Red flag 4: PGD accuracy rises as ε grows (ε × 0, ¼, ½, 1, 2; step scaled with ε): between two
    consecutive budgets, the larger one leaves images correct that the smaller one fooled, significantly
    more than the reverse. The smallest p over the 4 steps is multiplied by 4 (Bonferroni)."""
    eps, step = evidence.settings.eps, evidence.settings.step_size
    curve = [evidence.survived("pgd", f * eps, step_size=max(f, 1e-12) * step) for f in EPS_FACTORS]
    tests = [mcnemar_exact(later, earlier, alternative="greater") for earlier, later in zip(curve, curve[1:])]
    worst = min(range(len(tests)), key=lambda i: (tests[i].p_value, -tests[i].only_a))
    rise = max(float(later.double().mean() - earlier.double().mean()) for earlier, later in zip(curve, curve[1:]))
    points = ", ".join(f"{f:g}ε: {a.double().mean():.2%}" for f, a in zip(EPS_FACTORS, curve))
    text = (f"{points}; images surviving only {EPS_FACTORS[worst + 1]:g}ε {tests[worst].only_a}, only "
            f"{EPS_FACTORS[worst]:g}ε {tests[worst].only_b} (exact McNemar p = {tests[worst].p_value:.3g}, "
            f"×{len(tests)} Bonferroni)")
    return _paired_verdict(tests[worst], rise, text, min(1.0, tests[worst].p_value * len(tests)))


def random_noise_beats_pgd(evidence: Evidence) -> Finding:
    """Red flag 5: uniform random points in the ε-ball fool images that PGD did not, significantly more
    often than PGD fools images the random points did not."""
    settings = evidence.settings
    survived = evidence.survived("pgd").to(evidence.images.device)
    x, y = evidence.floats(), evidence.labels
    eps = settings.threat.budget_for(x)
    generator = torch.Generator(device=x.device).manual_seed(settings.seed)
    fooled = torch.zeros_like(survived)
    with attacked_view(evidence.model, settings.eot_samples) as view, torch.no_grad():
        for _ in range(RANDOM_DRAWS):
            noise = torch.rand(x.shape, generator=generator, device=x.device) * 2 - 1
            if settings.norm == "l2":
                noise = noise / noise.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (x.dim() - 1))
            fooled |= view((x + eps * noise).clamp(0, 1)).argmax(1) != y
    return paired_finding(survived, ~fooled, ("PGD", f"{RANDOM_DRAWS} random draws"),
                          f"{int((fooled & survived).sum())} of {int(survived.sum())} images PGD left robust "
                          f"fall to {RANDOM_DRAWS} random draws")


def shattered_gradients(evidence: Evidence) -> Finding:
    """Red flag 6: autograd input gradients disagree with central finite differences (float64).

    Compared along ``DIRECTIONS`` random unit directions v per image: ∇L·v vs (L(x+hv) − L(x−hv))/2h;
    the cosine between the two vectors of directional derivatives, median over images.
    """
    x = evidence.floats()[:16].double()
    y = evidence.labels[:16]
    generator = torch.Generator(device=x.device).manual_seed(evidence.settings.seed)
    directions = torch.randn((DIRECTIONS, *x.shape), generator=generator, device=x.device, dtype=x.dtype)
    directions /= directions.flatten(2).norm(dim=2).view(DIRECTIONS, -1, *[1] * (x.dim() - 1))
    with attacked_view(evidence.model, evidence.settings.eot_samples) as view:
        double = copy.deepcopy(view).double()
        with frozen(double):
            x.requires_grad_(True)
            gradient, = torch.autograd.grad(F.cross_entropy(double(x), y, reduction="sum"), x)
            x = x.detach()
            with torch.no_grad():
                def losses(points: torch.Tensor) -> torch.Tensor:
                    return F.cross_entropy(double(points), y, reduction="none")
                finite = torch.stack([(losses(x + FD_STEP * v) - losses(x - FD_STEP * v)) / (2 * FD_STEP)
                                      for v in directions], dim=1)
    analytic = (directions * gradient).flatten(2).sum(dim=2).T
    cosine = F.cosine_similarity(analytic, finite, dim=1, eps=1e-30)
    median = float(cosine.median())
    verdict = FAIL if median < SHATTERED_FAIL else WARN if median < SHATTERED_WARN else PASS
    return Finding(verdict, median, f"median cosine {median:.3f} over {len(y)} images, {DIRECTIONS} directions")


def autoattack_flags(evidence: Evidence) -> Finding:
    """Red flag 7: AutoAttack's own checks (randomness, probability outputs, dynamic defence, zero
    gradients), run with their global state isolated. Its Square-beats-the-others check
    (``check_square_sr``, a 0.2% threshold on accuracies, no test) is left to check 2's paired test."""
    x, y = evidence.floats()[:250], evidence.labels[:250]
    with attacked_view(evidence.model, evidence.settings.eot_samples) as view, frozen(view), \
            isolated_autoattack_checks() as caught:
        autoattack_checks.check_randomized(view, x, y, bs=len(x))
        autoattack_checks.check_range_output(view, x)
        autoattack_checks.check_dynamic(view, x, False)
        probe = x.clone().requires_grad_(True)
        gradient, = torch.autograd.grad(F.cross_entropy(view(probe), y), probe)
        autoattack_checks.check_zero_gradients(gradient)
    messages = [str(w.message).split(" See ")[0] for w in caught]
    return Finding(FAIL if messages else PASS, len(messages), "; ".join(messages) or "no flags")


def degenerate_model(evidence: Evidence) -> Finding:
    """Check 0: a collapsed or chance-level model (``licli.evaluations.degenerate``) fails: attacks find
    little to attack on it, so every other check would pass it trivially."""
    verdict = evidence.degeneracy
    if verdict is None:
        return Finding(WARN, math.nan, "not judged (no degeneracy given)")
    return Finding(FAIL if verdict.degenerate else PASS, verdict.top_class_share, verdict.describe())


@dataclass(frozen=True)
class MaskingCheck:
    question: str
    run: Callable[[Evidence], Finding]


MASKING_CHECKS: dict[str, MaskingCheck] = {
    "degenerate-model": MaskingCheck("one class or chance-level answers?", degenerate_model),
    "single-step-beats-iterative": MaskingCheck("FGSM accuracy < PGD accuracy?", single_step_beats_iterative),
    "black-box-beats-white-box": MaskingCheck("Square accuracy < white-box accuracy?", black_box_beats_white_box),
    "unbounded-attack-incomplete": MaskingCheck("unbounded PGD below 100% success?", unbounded_attack_incomplete),
    "accuracy-not-monotone-in-eps": MaskingCheck("accuracy rises with ε?", accuracy_not_monotone_in_eps),
    "random-noise-beats-pgd": MaskingCheck("random ε-ball points fool what PGD missed?", random_noise_beats_pgd),
    "shattered-gradients": MaskingCheck("autograd ≠ finite differences?", shattered_gradients),
    "autoattack-flags": MaskingCheck("AutoAttack's own checks flag the model?", autoattack_flags),
}


def masking_report(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, indices: torch.Tensor,
                   settings: AttackSettings, *, checks: tuple[str, ...] = tuple(MASKING_CHECKS),
                   model_degeneracy: Degeneracy | None = None, on_progress: OnProgress | None = None,
                   label: str = "") -> pd.DataFrame:
    """Run the named checks on the images of ``images`` (uint8, or float in [0, 1]) that ``model`` classifies
    correctly.

    ``model_degeneracy`` (e.g. judged on a whole split by ``evaluate_robustness``) is what check 0
    reports; by default it is judged on the clean predictions over ``images``. ``on_progress`` hears of each
    finished check (``licli.progress``; ``label`` names the model).
    One row per check: check, question, verdict, value, p_value, evidence, n (images used), seconds (its wall clock).
    """
    check_images(images, labels)
    predicted = predictions(model, images, batch_size=settings.batch_size, eot_samples=settings.eot_samples)
    if model_degeneracy is None:
        model_degeneracy = degeneracy(predicted, labels, class_count(model, images))
    correct = predicted == labels
    evidence = Evidence(model, images[correct], labels[correct], indices[correct.to(indices.device)], settings,
                        model_degeneracy)
    rows = []
    for name in reporting("masking checks", checks, on_progress, lambda check: f"{label}{check}"):
        started = time.perf_counter()
        check = MASKING_CHECKS[name]
        finding = check.run(evidence) if len(evidence.labels) or name == "degenerate-model" \
            else Finding(WARN, math.nan, "no correctly classified images")
        rows.append({"check": name, "question": check.question, "verdict": finding.verdict,
                     "value": finding.value, "p_value": finding.p_value, "evidence": finding.evidence,
                     "n": len(evidence.labels), "seconds": time.perf_counter() - started})
    return pd.DataFrame(rows)
