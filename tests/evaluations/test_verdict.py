"""``licli.evaluations.verdict``: its statistics against scipy and brute force, and its verdict on models
whose answer is known (the same model twice, a gradient-masked one, a collapsed one, an adversarially
trained one, two images)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from scipy import optimize, stats

from licli.training.config import TrainConfig
from licli.data import load_dataset
from licli.errors import LicliError
from licli.evaluations import verdict as V
from licli.evaluations.verdict import (DEGENERATE, INCONCLUSIVE, LESS, MASKED, MORE, SAME, VerdictConfig,
                                       holm, images_needed, seeds_needed, sign_test, t_interval, tango_interval,
                                       verdict)
from licli.statistics import mcnemar_exact
from licli.training.loop import train
from tests.attacks.toy_models import QuantisedInput
from tests.cli.test_attack import _trained_mlp

# ------------------------------------------------------------------------------------------- statistics

TABLES = [(40, 20, 160), (5, 10, 100), (0, 0, 2), (0, 0, 100), (7, 0, 30), (0, 3, 3), (12, 1, 50), (3, 3, 10)]


def _constrained_mle(b: int, c: int, n: int, delta: float) -> float:
    """P(only B) maximising the multinomial likelihood of (b, c, n − b − c) under p_A − p_B = delta (scipy)."""
    def nll(q: float) -> float:
        p12, p21, rest = q + delta, q, 1 - 2 * q - delta
        return -sum(k * math.log(max(p, 1e-300)) for k, p in ((b, p12), (c, p21), (n - b - c, rest)) if k)
    low, high = max(0.0, -delta), (1 - delta) / 2
    if high - low < 1e-12:
        return low
    return optimize.minimize_scalar(nll, bounds=(low, high), method="bounded", options={"xatol": 1e-12}).x


def _score(b, c, n, delta):
    q = _constrained_mle(b, c, n, delta)
    variance = n * (2 * q + delta * (1 - delta))
    return (b - c - n * delta) / math.sqrt(variance) if variance > 1e-12 else math.inf


@pytest.mark.parametrize("b,c,n", TABLES)
def test_tango_interval_is_the_score_set_by_brute_force(b, c, n):
    """Every Δ on a fine grid is inside the interval exactly when its score statistic, with the restricted
    MLE found numerically by scipy, is within z (Tango 1998's definition)."""
    low, high = tango_interval(b, c, n, 0.95)
    z = stats.norm.ppf(0.975)
    assert low <= (b - c) / n <= high
    for delta in np.linspace(-0.995, 0.995, 81):
        if min(abs(delta - low), abs(delta - high)) < 5e-3:
            continue  # too close to a bound for the numeric optimiser's tolerance
        assert (low <= delta <= high) == (abs(_score(b, c, n, delta)) <= z), delta


@pytest.mark.parametrize("n", [2, 20, 100, 1000])
def test_tango_interval_without_discordance_is_z2_over_n_plus_z2(n):
    z2 = stats.norm.ppf(0.975) ** 2
    low, high = tango_interval(0, 0, n)
    assert low == pytest.approx(-z2 / (n + z2), abs=1e-9) and high == pytest.approx(z2 / (n + z2), abs=1e-9)


def test_sign_test_of_one_pair_is_exact_mcnemar_and_scipy():
    generator = torch.Generator().manual_seed(3)
    a, b = torch.rand(200, generator=generator) < 0.6, torch.rand(200, generator=generator) < 0.5
    wins, losses, p = sign_test(a.long() - b.long())
    test = mcnemar_exact(a, b)
    assert (wins, losses) == (test.only_a, test.only_b)
    assert p == pytest.approx(test.p_value, rel=1e-12)
    assert p == pytest.approx(stats.binomtest(wins, wins + losses, 0.5).pvalue, rel=1e-9)


def test_sign_test_counts_each_image_once_over_seed_pairs():
    net = torch.tensor([2, 1, 0, -1, 3, 0, 2])
    wins, losses, p = sign_test(net)
    assert (wins, losses) == (4, 1)
    assert p == pytest.approx(stats.binomtest(4, 5, 0.5).pvalue, rel=1e-9)


def test_holm_matches_the_step_down_definition():
    p = [0.01, 0.04, 0.03, 0.2]
    # sorted 0.01, 0.03, 0.04, 0.2 → ×4, ×3, ×2, ×1 with running maximum: 0.04, 0.09, 0.09, 0.2
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert holm([0.5]) == [0.5]


def test_t_interval_is_scipy_paired_t():
    mechanism, baseline = np.array([0.41, 0.38, 0.45]), np.array([0.30, 0.33, 0.31])
    expected = stats.ttest_rel(mechanism, baseline).confidence_interval(0.95)
    assert t_interval(mechanism - baseline, 0.95) == pytest.approx((expected.low, expected.high), rel=1e-9)
    assert t_interval([0.02, 0.02], 0.95) == (0.02, 0.02)
    assert all(math.isnan(v) for v in t_interval([0.1], 0.95))


def test_seeds_needed_is_the_first_count_whose_interval_excludes_zero():
    differences = [0.05, -0.01, 0.08]
    count = seeds_needed(differences, 0.95)
    mean, spread = np.mean(differences), np.std(differences, ddof=1)
    half = lambda k: stats.t.ppf(0.975, k - 1) * spread / math.sqrt(k)  # noqa: E731
    assert half(count) < mean <= half(count - 1)


def test_images_needed_scales_the_interval_as_one_over_root_n():
    # half-width 0.1 at n = 100, no effect, margin 0.05: the half-width must halve → 4× the images
    assert images_needed(100, (-0.1, 0.1), 0.0, 0.05) == 400
    # an effect of 0.1 with half-width 0.2: the interval must shrink to exclude 0 → 4×
    assert images_needed(100, (-0.1, 0.3), 0.1, 0.05) == 400


def _frame(rows):
    base = {"n": 500, "pairs": 3, "image_low": -0.01, "image_high": 0.01, "seed_low": -0.01, "seed_high": 0.01,
            "only_mechanism": 0, "only_baseline": 0, "p_value": 1.0, "p_holm": 1.0, "differences": [0.0] * 3}
    return pd.DataFrame([{**base, **row} for row in rows])


def test_significant_images_but_disagreeing_seeds_is_inconclusive_with_seeds_needed():
    config = VerdictConfig(eps=(0.1,))
    frame = _frame([{"eps": 0.1, "effect": 0.04, "p_value": 1e-4, "p_holm": 1e-4, "image_low": 0.02,
                     "image_high": 0.06, "seed_low": -0.05, "seed_high": 0.13, "differences": [0.01, 0.03, 0.08]}])
    decision, lines, needed = V._statistics_decision(frame, config, 0.95)
    assert decision == INCONCLUSIVE and needed["seeds"] == seeds_needed([0.01, 0.03, 0.08], 0.95) > 3
    assert "seeds disagree" in lines[-1]


def test_opposite_significant_directions_are_inconclusive_and_one_direction_decides():
    config = VerdictConfig(eps=(0.1, 0.3))
    better = {"eps": 0.1, "effect": 0.05, "p_holm": 1e-4, "seed_low": 0.01, "seed_high": 0.09}
    worse = {"eps": 0.3, "effect": -0.05, "p_holm": 1e-4, "seed_low": -0.09, "seed_high": -0.01}
    assert V._statistics_decision(_frame([better, worse]), config, 0.95)[0] == INCONCLUSIVE
    assert V._statistics_decision(_frame([worse, {**better, "eps": 0.1, "effect": 0.0, "p_holm": 1.0}]),
                                  config, 0.95)[0] == LESS


def test_bad_settings_are_refused():
    for bad in (dict(eps=()), dict(eps=(0.0,)), dict(eps=(8.0,)), dict(eps=(0.1, 0.1)), dict(eps=(0.1,), margin=0),
                dict(eps=(0.1,), attacks=("nope",)), dict(eps=(0.1,), n=0)):
        with pytest.raises(LicliError):
            VerdictConfig(**bad)


# --------------------------------------------------------------------------------- known-answer verdicts

FAST = VerdictConfig(eps=(0.1,), steps=5, n_queries=50, n=100, margin=0.05)


def _fgsm_rs(eps: float):
    """Fast adversarial training (FGSM from a random start, Wong et al. 2020) as a licli Objective."""
    def objective(model, x, y, indices):
        delta = ((torch.rand_like(x) * 2 - 1) * eps).requires_grad_(True)
        gradient, = torch.autograd.grad(F.cross_entropy(model((x + delta).clamp(0, 1)), y), delta)
        adversarial = (x + (delta + 1.25 * eps * gradient.sign()).clamp(-eps, eps)).clamp(0, 1).detach()
        logits = model(adversarial)
        return F.cross_entropy(logits, y), logits
    return objective


ROBUST_HIDDEN = 64
"""Width of the adversarially trained mlp. At the plain mlp's 16 units, FGSM training left 2.2 of 16
first-layer ReLUs active per test image on average (the plain mlp: 7.6), and 2 of 100 test images with
all 16 off: a constant output, an exactly zero input gradient (AutoAttack's flag, check 7) and 3 of 80
images that unbounded PGD could not move (check 3) — a real zero-gradient region, so the checks were right
to call it masking. At 64 units no test image has a zero gradient and every check passes."""


@pytest.fixture(scope="module")
def models():
    """The plain mlp of tests/cli/test_attack.py (16 hidden units, 1 epoch), and an mlp of ``ROBUST_HIDDEN``
    units adversarially trained (FGSM-RS, ε = 0.1, 3 epochs on 3,000 images)."""
    from licli.models import ModelSpec, build_model

    plain, spec = _trained_mlp()
    data = load_dataset("mnist-mini")
    data = replace(data, train=data.train.subset(torch.arange(3000)))
    torch.manual_seed(0)
    options = {"hidden": ROBUST_HIDDEN}
    robust = build_model(ModelSpec("mlp", spec.num_classes, spec.in_channels, spec.image_size, options))
    train(robust, data, TrainConfig(model="mlp", epochs=3, batch_size=32, model_options=options),
          device=torch.device("cpu"), objective=_fgsm_rs(0.1))
    return {"plain": plain, "robust": robust.eval(), "test": data.test.subset(torch.arange(300))}


class Constant(torch.nn.Module):
    """A collapsed model: class 0 whatever the image (a whisper of input dependence keeps gradients finite)."""

    def forward(self, x):
        return x.flatten(1)[:, :10] * 1e-3 + torch.tensor([5.0] + [0.0] * 9)


def _judge(models, mechanism, baseline, config=FAST, n_images=None):
    test = models["test"]
    images, labels = (test.images, test.labels) if n_images is None else (test.images[:n_images], test.labels[:n_images])
    return verdict(mechanism, baseline, images, labels, config, dataset="mnist-mini")


def test_a_baseline_against_itself_shows_no_measurable_difference(models):
    result = _judge(models, [models["plain"]], [models["plain"]])
    assert result.decision == SAME, result.evidence
    row = result.comparisons.iloc[0]
    assert row.effect == 0 and row.only_mechanism == row.only_baseline == 0 and row.p_value == 1
    assert (row.image_low, row.image_high) == pytest.approx(tango_interval(0, 0, 100))
    assert result.scale.smoke and "SMOKE SCALE" in result.evidence[0]


def test_robust_accuracy_is_the_worst_case_per_image(models):
    result = _judge(models, [models["plain"]], [models["plain"]])
    row = result.per_seed.iloc[0]
    assert row.robust_accuracy <= min(row["robust_pgd"], row["robust_apgd-ce"], row["robust_square"])
    assert (row.robust_low, row.robust_high) == pytest.approx(
        stats.binomtest(round(row.robust_accuracy * 100), 100).proportion_ci(0.95, method="wilson"))


def test_a_gradient_masking_wrapper_is_caught(models):
    result = _judge(models, [QuantisedInput(models["plain"])], [models["plain"]])
    assert result.decision == MASKED, result.evidence
    assert any("mechanism#1: masking check" in line and "FAILS" in line for line in result.evidence)


def test_a_collapsed_model_is_degenerate(models):
    result = _judge(models, [Constant()], [models["plain"]])
    assert result.decision == DEGENERATE, result.evidence
    assert result.degeneracy["mechanism#1"].degenerate and not result.degeneracy["baseline#1"].degenerate


def test_adversarial_training_is_more_robust_and_the_plain_model_less(models):
    more = _judge(models, [models["robust"]], [models["plain"]])
    assert more.decision == MORE, more.evidence
    assert not (more.masking["verdict"] == "FAIL").any(), more.masking[["model", "check", "evidence"]].to_string()
    row = more.comparisons.iloc[0]
    assert row.effect > 0 and row.image_low > 0 and row.p_value < 0.05
    table = more.per_seed.set_index("side")["robust_accuracy"]
    assert row.effect == pytest.approx(table["mechanism"] - table["baseline"])
    assert row.p_value == pytest.approx(stats.binomtest(int(row.only_mechanism),
                                                        int(row.only_mechanism + row.only_baseline)).pvalue)

    less = _judge(models, [models["plain"]], [models["robust"]])
    assert less.decision == LESS, less.evidence
    assert less.comparisons.iloc[0].effect == pytest.approx(-row.effect)


def test_two_images_are_inconclusive_and_say_how_many_are_needed(models):
    result = _judge(models, [models["robust"]], [models["plain"]], n_images=2)
    assert result.decision == INCONCLUSIVE, result.evidence
    assert result.needed["images"] > 100 and f"{result.needed['images']} images needed" in result.evidence[-2]


def test_seed_pairs_are_paired_by_order_and_tested_over_images(models):
    config = replace(FAST, masking_checks=())
    result = _judge(models, [models["plain"], models["robust"]], [models["plain"], models["plain"]], config)
    row = result.comparisons.iloc[0]
    assert row.pairs == 2 and row.differences[0] == 0 and row.differences[1] > 0
    assert (row.seed_low, row.seed_high) == pytest.approx(tuple(stats.ttest_1samp(row.differences, 0)
                                                                .confidence_interval(0.95)))


def test_mismatched_sides_are_refused(models):
    with pytest.raises(LicliError, match="one baseline per mechanism"):
        _judge(models, [models["plain"]], [models["plain"], models["plain"]])
