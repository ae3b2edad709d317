"""Hutchinson's estimate converges to the exact Hessian trace (torch.autograd.functional.hessian)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from tests.conftest import tiny_dataset
from licli.errors import LicliError
from licli.evaluations import hessian
from licli.evaluations.functional import select_parameters

DATA = tiny_dataset(n_test=24, size=4)
CPU = torch.device("cpu")


def tiny_model() -> nn.Module:
    torch.manual_seed(2)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 4), nn.Tanh(), nn.Linear(4, 3)).eval()


def exact_hessian(model) -> torch.Tensor:
    params = select_parameters(model, "all")
    shapes = {k: p.shape for k, p in params.items()}
    flat = torch.cat([p.flatten() for p in params.values()])
    x, y = DATA.test.floats(), DATA.test.labels

    def loss(vector):
        pieces, start = {}, 0
        for name, shape in shapes.items():
            pieces[name] = vector[start:start + shape.numel()].view(shape)
            start += shape.numel()
        return F.cross_entropy(functional_call(model, pieces, (x,)), y)

    return torch.autograd.functional.hessian(loss, flat)


def test_quadratic_form_is_exact_for_one_vector():
    model = tiny_model()
    params = select_parameters(model, "all")
    H = exact_hessian(model)
    v = {k: torch.randn(p.shape) for k, p in params.items()}
    hv = hessian.hessian_vector_product(model, params, DATA.test, v, device=CPU, batch_size=10)
    torch.testing.assert_close(torch.cat([t.flatten() for t in hv.values()]),
                               H @ torch.cat([t.flatten() for t in v.values()]), rtol=1e-4, atol=1e-6)


def test_hutchinson_converges_to_exact_trace():
    model = tiny_model()
    H = exact_hessian(model).double()
    samples = 1000
    row = hessian.run(model, DATA, device=CPU, config=hessian.HessianConfig(samples=samples, n=24, batch_size=24,
                                                                           power_iterations=100)).iloc[0]
    assert abs(row["trace"] - torch.trace(H).item()) < 4 * row["stderr"]
    # Var(vᵀHv) = 2 Σ_{i≠j} H_ij² for Rademacher v: the reported standard error must match it.
    expected_stderr = (2 * (H.square().sum() - H.diagonal().square().sum()) / samples).sqrt().item()
    assert row["stderr"] == pytest.approx(expected_stderr, rel=0.15)
    eigenvalues = torch.linalg.eigvalsh(H)
    assert row["top_eigenvalue"] == pytest.approx(eigenvalues.abs().max().item(), rel=1e-3)


@pytest.mark.parametrize("bad", [{"samples": 0}, {"n": -1}, {"power_iterations": -1}, {"params": "x"}])
def test_bad_config(bad):
    with pytest.raises(LicliError):
        hessian.HessianConfig(**bad)


def test_inplace_activations_equal_double_backward():
    """Issue 14 (GSNR's bug class): Hv on a model with nn.ReLU(inplace=True) after Linear and Conv2d
    layers equals double backpropagation through the module itself (no torch.func)."""
    torch.manual_seed(6)
    model = nn.Sequential(nn.Conv2d(1, 2, 2), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(18, 5),
                          nn.ReLU(inplace=True), nn.Linear(5, 3)).eval()
    params = select_parameters(model, "all")
    v = {k: torch.randn(p.shape) for k, p in params.items()}
    hv = hessian.hessian_vector_product(model, params, DATA.test, v, device=CPU, batch_size=10)
    x, y = DATA.test.floats(), DATA.test.labels
    gradient = torch.autograd.grad(F.cross_entropy(model(x), y), list(model.parameters()), create_graph=True)
    expected = torch.autograd.grad(sum((g * t).sum() for g, t in zip(gradient, v.values())), list(model.parameters()))
    for (name, got), want in zip(hv.items(), expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6, msg=name)
