"""licli's native FGSM/PGD loops against cleverhans (the reference backend): bit-identical on one seed."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from licli.attacks import ATTACKS, BACKENDS, Threat
from licli.attacks.runner import run_attack
from licli.errors import LicliError
from licli.evaluations.robustness import AttackSettings
from licli.models import ModelSpec, build_model
from tests.conftest import tiny_dataset


@pytest.fixture(scope="module")
def batch():
    data = tiny_dataset(n_test=24, channels=3, size=8, num_classes=4)
    return data.test.images.float() / 255, data.test.labels


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(2)
    return build_model(ModelSpec(name="small-cnn", num_classes=4, in_channels=3, image_size=(8, 8),
                                 options={"filters": 4, "hidden": 16})).eval()


@pytest.mark.parametrize("name", ["fgsm", "pgd", "pgd-t"])
@pytest.mark.parametrize("norm, eps, step", [("linf", 8 / 255, 3 / 255), ("l2", 0.5, 0.2)])
@pytest.mark.parametrize("random_start", [True, False])
def test_native_equals_cleverhans_bit_for_bit_on_one_seed(cnn, batch, name, norm, eps, step, random_start):
    x, y = batch
    runs = {backend: run_attack(name, cnn, x, y, threat=Threat(norm, eps), seed=11, backend=backend, steps=6,
                                step_size=step, random_start=random_start) for backend in BACKENDS}
    assert torch.equal(runs["native"].x_adv, runs["cleverhans"].x_adv)
    if runs["native"].target is not None:
        assert torch.equal(runs["native"].target, runs["cleverhans"].target)
    assert not torch.equal(runs["native"].x_adv, x)


def test_only_fgsm_and_pgd_have_a_reference_backend():
    assert sorted(n for n, spec in ATTACKS.items() if spec.reference is not None) == ["fgsm", "pgd", "pgd-t"]
    assert ATTACKS["square"].implementation("cleverhans") is ATTACKS["square"].run


def test_unknown_backend_is_a_one_line_error(batch):
    with pytest.raises(LicliError, match="unknown attack backend 'foolbox'"):
        AttackSettings(backend="foolbox")
    with pytest.raises(LicliError, match="unknown attack backend"):
        run_attack("fgsm", nn.Sequential(nn.Flatten(), nn.Linear(192, 4)), *batch, threat=Threat("linf", 0.1), seed=0,
                   backend="foolbox")
