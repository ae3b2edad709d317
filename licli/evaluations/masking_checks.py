"""Gradient-masking red flags (NormOut §1.3 after Athalye et al. 2018), one small named check each.

Each check takes the evidence gathered on one model and returns a verdict PASS / WARN / FAIL with the
numbers behind it. Checks are entries of ``MASKING_CHECKS`` (no dispatcher); a new check is one
function and one registry line. Accuracies are measured on the images the model classifies
correctly, so each accuracy is 1 − attack success rate.
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
from licli.attacks.threat import Threat
from licli.data.core import unit_float
from licli.evaluations.robustness import AttackSettings, attack_samples, attacked_view, predictions
from licli.progress import OnProgress, reporting

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
TOLERANCE = 0.01
"""An accuracy gap larger than this fails a comparison check; a smaller positive gap warns."""
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
    _accuracies: dict[tuple, float] = field(default_factory=dict)

    def accuracy(self, attack: str, eps: float | None = None, **overrides: object) -> float:
        """Robust accuracy of ``attack`` at ``eps`` (default: the settings' ε) with settings ``overrides``."""
        key = (attack, eps, tuple(sorted(overrides.items())))
        if key not in self._accuracies:
            settings = replace(self.settings, attacks=(attack,), **overrides)
            samples = attack_samples(self.model, self.images, self.labels, self.indices, settings, eps=eps)
            self._accuracies[key] = float((~samples["success"]).mean())
        return self._accuracies[key]

    def floats(self) -> torch.Tensor:
        return unit_float(self.images)


@dataclass(frozen=True)
class Finding:
    verdict: str
    value: float
    evidence: str


def _gap_verdict(gap: float) -> str:
    return FAIL if gap > TOLERANCE else WARN if gap > 0 else PASS


def single_step_beats_iterative(evidence: Evidence) -> Finding:
    """Red flag 1: FGSM (one step) leaves lower accuracy than PGD (many steps)."""
    fgsm, pgd = evidence.accuracy("fgsm"), evidence.accuracy("pgd")
    return Finding(_gap_verdict(pgd - fgsm), pgd - fgsm, f"FGSM {fgsm:.2%} vs PGD {pgd:.2%}")


def black_box_beats_white_box(evidence: Evidence) -> Finding:
    """Red flag 2: Square (black-box) leaves lower accuracy than the best white-box attack."""
    square = evidence.accuracy("square")
    white = min(evidence.accuracy("fgsm"), evidence.accuracy("pgd"))
    return Finding(_gap_verdict(white - square), white - square, f"Square {square:.2%} vs white-box {white:.2%}")


def unbounded_attack_incomplete(evidence: Evidence) -> Finding:
    """Red flag 3: PGD with ε = ∞ (any image reachable), ≥ 20 steps of 1/10 of the box diameter, misses some."""
    diameter = Threat(evidence.settings.norm, math.inf).budget_for(evidence.images)
    accuracy = evidence.accuracy("pgd", math.inf, steps=max(evidence.settings.steps, 20), step_size=diameter / 10)
    return Finding(FAIL if accuracy > 0 else PASS, 1 - accuracy, f"unbounded PGD success {1 - accuracy:.2%}")


def accuracy_not_monotone_in_eps(evidence: Evidence) -> Finding:
    """Red flag 4: PGD accuracy rises somewhere as ε grows (ε × 0, ¼, ½, 1, 2; step scaled with ε)."""
    eps, step = evidence.settings.eps, evidence.settings.step_size
    curve = [evidence.accuracy("pgd", f * eps, step_size=max(f, 1e-12) * step) for f in EPS_FACTORS]
    rise = max(later - earlier for earlier, later in zip(curve, curve[1:]))
    points = ", ".join(f"{f:g}ε: {a:.2%}" for f, a in zip(EPS_FACTORS, curve))
    return Finding(_gap_verdict(rise), rise, points)


def random_noise_beats_pgd(evidence: Evidence) -> Finding:
    """Red flag 5: uniform random points in the ε-ball fool images that PGD did not."""
    settings = evidence.settings
    pgd = attack_samples(evidence.model, evidence.images, evidence.labels, evidence.indices,
                         replace(settings, attacks=("pgd",)))
    survived = torch.as_tensor(~pgd["success"].to_numpy(), device=evidence.images.device)
    x, y = evidence.floats(), evidence.labels
    eps = Threat(settings.norm, settings.eps).budget_for(x)
    generator = torch.Generator(device=x.device).manual_seed(settings.seed)
    fooled = torch.zeros_like(survived)
    with attacked_view(evidence.model, settings.eot_samples) as view, torch.no_grad():
        for _ in range(RANDOM_DRAWS):
            noise = torch.rand(x.shape, generator=generator, device=x.device) * 2 - 1
            if settings.norm == "l2":
                noise = noise / noise.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *[1] * (x.dim() - 1))
            fooled |= view((x + eps * noise).clamp(0, 1)).argmax(1) != y
    missed = int((fooled & survived).sum())
    return Finding(FAIL if missed else PASS, missed / len(y),
                   f"{missed} of {int(survived.sum())} images PGD left robust fall to {RANDOM_DRAWS} random draws")


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
    """Red flag 7: AutoAttack's own checks (randomness, probability outputs, dynamic defence, zero gradients,
    Square beating the others), run with their global state isolated."""
    x, y = evidence.floats()[:250], evidence.labels[:250]
    accuracies = {"clean": 1.0, **{name: evidence.accuracy(name) for name in ("fgsm", "pgd", "square")}}
    with attacked_view(evidence.model, evidence.settings.eot_samples) as view, frozen(view), \
            isolated_autoattack_checks() as caught:
        autoattack_checks.check_randomized(view, x, y, bs=len(x))
        autoattack_checks.check_range_output(view, x)
        autoattack_checks.check_dynamic(view, x, False)
        probe = x.clone().requires_grad_(True)
        gradient, = torch.autograd.grad(F.cross_entropy(view(probe), y), probe)
        autoattack_checks.check_zero_gradients(gradient)
        autoattack_checks.check_square_sr(accuracies)
    messages = [str(w.message).split(" See ")[0] for w in caught]
    return Finding(FAIL if messages else PASS, len(messages), "; ".join(messages) or "no flags")


@dataclass(frozen=True)
class MaskingCheck:
    question: str
    run: Callable[[Evidence], Finding]


MASKING_CHECKS: dict[str, MaskingCheck] = {
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
                   on_progress: OnProgress | None = None, label: str = "") -> pd.DataFrame:
    """Run the named checks on the images of ``images`` that ``model`` classifies correctly.

    One row per check: check, question, verdict, value, evidence, n (images used), seconds (its wall
    clock). ``on_progress`` hears of each finished check (``licli.progress``; ``label`` names the model).
    """
    correct = predictions(model, images, batch_size=settings.batch_size,
                          eot_samples=settings.eot_samples) == labels
    evidence = Evidence(model, images[correct], labels[correct], indices[correct.to(indices.device)], settings)
    rows = []
    for name in reporting("masking checks", checks, on_progress, lambda check: f"{label}{check}"):
        started = time.perf_counter()
        check = MASKING_CHECKS[name]
        finding = check.run(evidence) if len(evidence.labels) else Finding(WARN, math.nan, "no correctly classified images")
        rows.append({"check": name, "question": check.question, "verdict": finding.verdict,
                     "value": finding.value, "evidence": finding.evidence, "n": len(evidence.labels),
                     "seconds": time.perf_counter() - started})
    return pd.DataFrame(rows)
