"""Attacks through licli equal the libraries called directly, and the runner's guarantees hold."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch
from cleverhans.torch.attacks.fast_gradient_method import fast_gradient_method
from cleverhans.torch.attacks.projected_gradient_descent import projected_gradient_descent
from pyautoattack import checks
from pyautoattack.square import SquareAttack
from torch import nn

from licli.attacks import ATTACKS, parse_budget, parse_budgets, perturbation_norms
from licli.attacks.autoattack import isolated_autoattack_checks
from licli.attacks.runner import BudgetViolation, check_adversarial, run_attack
from licli.attacks.targets import TARGETS
from licli.attacks.threat import Threat
from licli.errors import LicliError
from tests.attacks.toy_models import CentroidModel
from tests.conftest import tiny_dataset

CLASSES = 4
FAST = {"steps": 5, "step_size": 0.04, "n_queries": 100}


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    data = tiny_dataset(n_test=32, num_classes=CLASSES)
    return data.test.images.float() / 255, data.test.labels


@pytest.fixture
def mlp() -> nn.Module:
    torch.manual_seed(1)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, CLASSES)).eval()


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_fgsm_equals_cleverhans(mlp, batch, norm):
    x, y = batch
    eps = 0.1 if norm == "linf" else 0.8
    ours = run_attack("fgsm", mlp, x, y, threat=Threat(norm, eps), seed=0).x_adv
    theirs = fast_gradient_method(mlp, x, eps, {"linf": np.inf, "l2": 2}[norm], clip_min=0.0, clip_max=1.0, y=y)
    assert torch.equal(ours, theirs)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_without_random_start_equals_cleverhans(mlp, batch, norm):
    x, y = batch
    eps, step = (0.1, 0.03) if norm == "linf" else (0.8, 0.3)
    ours = run_attack("pgd", mlp, x, y, threat=Threat(norm, eps), seed=0, steps=7, step_size=step,
                      random_start=False).x_adv
    theirs = projected_gradient_descent(mlp, x, eps, step, 7, {"linf": np.inf, "l2": 2}[norm], clip_min=0.0,
                                        clip_max=1.0, y=y, rand_init=False)
    assert torch.equal(ours, theirs)


def test_pgd_step_is_clamped_to_small_eps(mlp, batch):
    x, y = batch
    outcome = run_attack("pgd", mlp, x, y, threat=Threat("linf", 1 / 255), seed=0, steps=3, step_size=3 / 255)
    assert float(outcome.norms.max()) <= 1 / 255 + 1e-6


def test_square_equals_pyautoattack_with_same_seed(mlp, batch):
    x, y = batch
    ours = run_attack("square", mlp, x, y, threat=Threat("linf", 0.1), seed=7, n_queries=60).x_adv
    with torch.random.fork_rng():
        attack = SquareAttack(mlp, norm="Linf", n_queries=60, eps=0.1, p_init=0.8, n_restarts=1, seed=7,
                              device=x.device, resc_schedule=True)
        theirs = attack.perturb(x, y)
    assert torch.equal(ours, theirs)


def test_fgsm_on_a_linear_model_is_the_closed_form(batch):
    """CE gradient of logit_k = w_k·mean(x) + b_k w.r.t. every pixel is (Σ_k p_k w_k − w_y)/D."""
    x, y = batch
    model = CentroidModel(CLASSES)
    eps = 0.05
    probabilities = model(x).softmax(1).detach()
    direction = torch.sign(probabilities @ model.weight.detach() - model.weight.detach()[y])
    expected = (x + eps * direction.view(-1, 1, 1, 1)).clamp(0, 1)
    assert torch.allclose(run_attack("fgsm", model, x, y, threat=Threat("linf", eps), seed=0).x_adv, expected, atol=1e-7)


@pytest.mark.parametrize("name", sorted(ATTACKS))
@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_every_attack_stays_in_the_ball_and_the_box(name, norm, batch):
    x, y = batch
    eps = 0.1 if norm == "linf" else 0.5
    outcome = run_attack(name, CentroidModel(CLASSES), x, y, threat=Threat(norm, eps), seed=0, **FAST)
    assert float(perturbation_norms(outcome.x_adv - x, norm).max()) <= eps * (1 + 1e-5)
    assert 0 <= float(outcome.x_adv.min()) and float(outcome.x_adv.max()) <= 1


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_robust_accuracy_never_exceeds_clean_and_eps_zero_is_identity(name, batch):
    x, y = batch
    model = CentroidModel(CLASSES)
    clean = (model(x).argmax(1) == y).float().mean()
    same = run_attack(name, model, x, y, threat=Threat("linf", 0.0), seed=0, **FAST).x_adv
    assert torch.equal(same, x)
    attacked = run_attack(name, model, x, y, threat=Threat("linf", 0.15), seed=0, **FAST).x_adv
    # AutoAttack-style attacks leave already-misclassified images alone; none turns a wrong one right here.
    assert (model(attacked).argmax(1) == y).float().mean() <= clean
    assert (model(attacked).argmax(1) == y).float().mean() < 1


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_model_mode_input_parameters_and_rng_are_unchanged(name, batch):
    x, y = batch
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, CLASSES), nn.Dropout(0.0))
    model.train()
    model[2].eval()
    frozen_before = [p.requires_grad for p in model.parameters()]
    x_before = x.clone()
    state = torch.random.get_rng_state()
    run_attack(name, model, x, y, threat=Threat("linf", 0.1), seed=3, **FAST)
    assert model.training and model[1].training and not model[2].training
    assert [p.requires_grad for p in model.parameters()] == frozen_before
    assert all(p.grad is None for p in model.parameters())
    assert torch.equal(x, x_before)
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.parametrize("rule", sorted(TARGETS))
def test_targets_are_never_the_label(rule, batch):
    x, y = batch
    for seed in range(5):
        outcome = run_attack("pgd-t", CentroidModel(CLASSES), x, y, threat=Threat("linf", 0.1), seed=seed,
                             target_rule=rule, **FAST)
        assert outcome.target is not None and not (outcome.target == y).any()


def test_least_likely_target_is_the_lowest_logit_other_than_the_label():
    logits = torch.tensor([[0.0, 1.0, 2.0], [5.0, 1.0, 2.0]])
    labels = torch.tensor([0, 1])
    assert TARGETS["least-likely"](logits, labels, torch.Generator()).tolist() == [1, 2]


def test_random_targets_are_seeded():
    logits, labels = torch.zeros(50, 10), torch.randint(10, (50,))
    first = TARGETS["random"](logits, labels, torch.Generator().manual_seed(1))
    assert torch.equal(first, TARGETS["random"](logits, labels, torch.Generator().manual_seed(1)))


def test_violations_raise_not_warn():
    x = torch.full((2, 1, 4, 4), 0.5)
    threat = Threat("linf", 0.1)
    with pytest.raises(BudgetViolation, match="ε-ball"):
        check_adversarial(x, x + 0.2, threat)
    with pytest.raises(BudgetViolation, match=r"\[0, 1\]"):
        check_adversarial(torch.ones_like(x), torch.ones_like(x) + 0.05, threat)
    assert float(check_adversarial(x, x + 0.1, threat).max()) == pytest.approx(0.1)


def test_budgets_parse_fractions_and_inf():
    assert parse_budget("8/255") == pytest.approx(8 / 255)
    assert parse_budget("inf") == math.inf
    assert parse_budgets("0, 1/255,inf") == [0.0, pytest.approx(1 / 255), math.inf]
    for bad in ("-1", "x", "1/0"):
        with pytest.raises(LicliError):
            parse_budget(bad)


def test_infinite_budget_reaches_the_whole_box():
    x = torch.rand(3, 1, 4, 4)
    assert Threat("linf", math.inf).budget_for(x) == 1.0
    assert Threat("l2", math.inf).budget_for(x) == pytest.approx(4.0)


class _Dynamic(nn.Module):
    """Calls torch.autograd.grad in its forward: AutoAttack's dynamic-defence check fires."""

    def forward(self, x):
        with torch.enable_grad():
            probe = x.detach().requires_grad_(True)
            torch.autograd.grad((probe**2).sum(), probe)
        return x.flatten(1)[:, :CLASSES]


def test_autoattack_dynamic_check_is_isolated(batch):
    x, _ = batch
    before, tracer = dict(checks.funcs), sys.gettrace()
    with isolated_autoattack_checks() as caught:
        checks.check_dynamic(_Dynamic(), x)
    assert any("dynamic" in str(w.message) for w in caught)
    assert checks.funcs == before and sys.gettrace() is tracer
    with isolated_autoattack_checks() as caught:
        checks.check_dynamic(CentroidModel(CLASSES), x)
    assert not caught
