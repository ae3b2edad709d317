"""Each masking check fires on a model built to trigger it and stays quiet on a plain model."""

from __future__ import annotations

import pytest
import torch

from licli.evaluations.masking_checks import MASKING_CHECKS, PASS, masking_report
from licli.evaluations.robustness import AttackSettings
from tests.attacks.toy_models import (EPS_TRAP, FGSM_TRAP, CentroidModel, FirstPixel, QuantisedInput,
                                      ReversedGradient, TrapModel, separated_split)
from tests.conftest import tiny_dataset

TRAP_EPS = 0.03
TRAP_SETTINGS = AttackSettings(eps=TRAP_EPS, step_size=0.375 * TRAP_EPS, n_queries=200, random_start=False)
PLAIN_SETTINGS = AttackSettings(eps=0.1, step_size=0.04, n_queries=200, random_start=False)


def _trap(knots):
    split = separated_split()
    return TrapModel(split, 4, knots, TRAP_EPS), split, TRAP_SETTINGS


def _tiny(model):
    return model, tiny_dataset(n_test=48, num_classes=4).test, PLAIN_SETTINGS


TRIGGERS = {
    "single-step-beats-iterative": lambda: _trap(FGSM_TRAP),
    "black-box-beats-white-box": lambda: _tiny(ReversedGradient(FirstPixel(CentroidModel(4)))),
    "unbounded-attack-incomplete": lambda: _tiny(QuantisedInput(CentroidModel(4))),
    "accuracy-not-monotone-in-eps": lambda: _trap(EPS_TRAP),
    "random-noise-beats-pgd": lambda: _tiny(ReversedGradient(FirstPixel(CentroidModel(4)))),
    "shattered-gradients": lambda: _tiny(ReversedGradient(FirstPixel(CentroidModel(4)))),
    "autoattack-flags": lambda: _tiny(QuantisedInput(CentroidModel(4))),
}
PLAIN = {"centroid": lambda: _tiny(CentroidModel(4)), "pixel": lambda: _tiny(FirstPixel(CentroidModel(4)))}


def _report(model, split, settings, check):
    return masking_report(model, split.images, split.labels, torch.arange(len(split)), settings, checks=(check,))


def test_every_check_has_a_trigger():
    assert set(TRIGGERS) == set(MASKING_CHECKS)


@pytest.mark.parametrize("check", sorted(MASKING_CHECKS))
def test_check_fires_on_its_masked_model(check):
    row = _report(*TRIGGERS[check](), check).iloc[0]
    assert row["verdict"] == "FAIL", row["evidence"]


@pytest.mark.parametrize("plain", sorted(PLAIN))
@pytest.mark.parametrize("check", sorted(MASKING_CHECKS))
def test_check_is_quiet_on_a_plain_model(check, plain):
    row = _report(*PLAIN[plain](), check).iloc[0]
    assert row["verdict"] == PASS, row["evidence"]


def test_report_uses_only_correctly_classified_images():
    model, split, settings = _tiny(FirstPixel(CentroidModel(4)))
    report = masking_report(model, split.images, split.labels, torch.arange(len(split)), settings)
    correct = int((model(split.images.float() / 255).argmax(1) == split.labels).sum())
    assert list(report["check"]) == list(MASKING_CHECKS) and (report["n"] == correct).all()
