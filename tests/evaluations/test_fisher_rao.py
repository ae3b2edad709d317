"""Fisher-Rao norm by jvp equals brute force (per-sample gradients) and a linear-softmax closed form."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from tests.conftest import tiny_dataset
from licli.errors import LicliError
from licli.evaluations import fisher_rao
from licli.evaluations.functional import PARAMETER_SETS, select_parameters
from licli.models import ModelSpec, build_model

DATA = tiny_dataset(n_test=40)


def small_cnn() -> nn.Module:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(108, 3))
    return model.eval()


def brute_force(model, params, x, y):
    def loss(p, xi, yi):
        return F.cross_entropy(functional_call(model, p, (xi[None],)), yi[None])

    grads = vmap(grad(loss), in_dims=(None, 0, 0))(params, x, y)
    return sum((g * params[k]).flatten(1).sum(1) for k, g in grads.items()).double().square()


@pytest.mark.parametrize("which", sorted(PARAMETER_SETS))
def test_jvp_equals_per_sample_gradients(which):
    model = small_cnn()
    x, y = DATA.test.floats(), DATA.test.labels
    params = select_parameters(model, which)
    jvp_values = fisher_rao.directional_derivatives(model, params, x, y).double().square()
    torch.testing.assert_close(jvp_values, brute_force(model, params, x, y), rtol=1e-5, atol=1e-9)
    result = fisher_rao.run(model, DATA, device=torch.device("cpu"),
                            config=fisher_rao.FisherRaoConfig(params=which, batch_size=16))
    row = result.iloc[0]
    assert row["value"] == pytest.approx(jvp_values.mean().item(), rel=1e-5)
    assert row["stderr"] == pytest.approx((jvp_values.std() / 40 ** 0.5).item(), rel=1e-5)
    assert row["included"].split() == list(params)


def test_linear_softmax_closed_form():
    """For f(x) = Wx + b with θ = (W, b): θ·∇θℓ = (softmax(z) − e_y)·z."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    x, y = DATA.test.floats(), DATA.test.labels
    z = model(x).detach()
    expected = ((z.softmax(1) - F.one_hot(y, 3)) * z).sum(1).double().square().mean()
    value = fisher_rao.run(model, DATA, device=torch.device("cpu")).iloc[0]["value"]
    assert value == pytest.approx(expected.item(), rel=1e-5)


def test_model_fisher_is_seeded_and_differs_from_empirical():
    model = build_model(ModelSpec("mlp", 3, 1, (8, 8), {"hidden": 8}))
    runs = [fisher_rao.run(model, DATA, device=torch.device("cpu"), config=fisher_rao.FisherRaoConfig(
        fisher=kind, seed=seed)).iloc[0]["value"] for kind, seed in (("model", 1), ("model", 1), ("empirical", 1))]
    assert runs[0] == runs[1] != runs[2]


@pytest.mark.parametrize("bad", [{"n": 0}, {"fisher": "nope"}, {"params": "nope"}, {"batch_size": -1}])
def test_bad_config(bad):
    with pytest.raises(LicliError):
        fisher_rao.FisherRaoConfig(**bad)


@pytest.mark.parametrize("inplace_model", ["linear", "conv"])
def test_inplace_activations_equal_a_per_sample_autograd_loop(inplace_model):
    """Issue 14 (GSNR's bug class): in-place ReLUs after Linear/Conv2d; the reference is one
    ``torch.autograd.grad`` per sample on the module itself (no torch.func)."""
    torch.manual_seed(4)
    model = (nn.Sequential(nn.Flatten(), nn.Linear(64, 10), nn.ReLU(inplace=True), nn.Linear(10, 3))
             if inplace_model == "linear" else
             nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(108, 3))).eval()
    params = select_parameters(model, "all")
    x, y = DATA.test.floats(), DATA.test.labels
    derivatives = fisher_rao.directional_derivatives(model, params, x, y)
    expected = []
    for xi, yi in zip(x, y):
        grads = torch.autograd.grad(F.cross_entropy(model(xi[None]), yi[None]), list(model.parameters()))
        expected.append(sum((g * p).sum() for g, p in zip(grads, model.parameters())))
    torch.testing.assert_close(derivatives, torch.stack(expected), rtol=1e-4, atol=1e-6)
