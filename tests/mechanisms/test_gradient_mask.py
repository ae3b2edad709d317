import warnings

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_laplace
from torch import nn

from licli.errors import LicliError
from licli.mechanisms.gradient_mask import (GradientMask, gradient_mask, gradient_masks, mask_gradient, paper_slots,
                                            separable_log_filter)
from licli.mechanisms.log_kernel import log_filter
from licli.models import build_model, model_slots
from licli.models import ModelSpec


def reference_mask(g: np.ndarray, sigma: float, size: int, sets: int, q: float, variant: str) -> np.ndarray:
    """Algorithm 1 with loops, scipy's LoG and numpy's quantile (the independent reference)."""
    n, c, h, w = g.shape
    radius = (size - 1) // 2
    groups = c if variant == "no-minicolumn" else sets
    keep = np.zeros((n, groups, h, w), dtype=bool)
    for i in range(n):
        for k in range(groups):
            block = g[i, k * (c // groups):(k + 1) * (c // groups)]
            norms = np.sqrt((block ** 2).sum(0))
            if variant == "no-li":
                score = norms
            else:
                score = np.abs(gaussian_laplace(norms, sigma, mode="constant", cval=0.0,
                                                truncate=(radius + 0.25) / sigma))
            keep[i, k] = score > np.quantile(score, q)
    return keep


@pytest.mark.parametrize("variant", ["li", "no-li", "no-minicolumn"])
@pytest.mark.parametrize("sigma,size,q", [(1.0, 5, 0.5), (2.0, 21, 0.3), (11.0, 89, 0.5)])
def test_mask_equals_the_algorithm_with_scipy(variant, sigma, size, q):
    g = torch.randn(2, 8, 9, 7, dtype=torch.float64)
    got = gradient_mask(g, sigma, size, sets=4, quantile=q, variant=variant).numpy()
    np.testing.assert_array_equal(got, reference_mask(g.numpy(), sigma, size, 4, q, variant))


def test_separable_filter_equals_log_filter():
    maps = torch.rand(2, 3, 10, 6, dtype=torch.float64)
    for size in (1, 5, 9, 31):
        assert torch.allclose(separable_log_filter(maps, 1.5, size), log_filter(maps, 1.5, size), atol=1e-14)


@pytest.mark.parametrize("q", [0.25, 0.5, 0.75])
def test_zeroes_the_expected_fraction_and_shares_masks_within_a_set(q):
    g = torch.randn(4, 16, 12, 12)
    masked = mask_gradient(g, sigma=2.0, size=13, sets=4, quantile=q)
    zero = (masked == 0).view(4, 4, 4, 12, 12)
    assert (zero == zero[:, :, :1]).all()  # every channel of a set shares its set's mask
    assert zero.float().mean().item() == pytest.approx(q, abs=1 / 144)
    kept = ~zero.view(4, 16, 12, 12)
    assert torch.equal(masked[kept], g[kept])  # unmasked gradients are untouched, bit for bit


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(8 * 10 * 10, 3))


def test_forward_is_bit_identical_and_gradients_are_masked_as_computed():
    x = torch.rand(3, 1, 10, 10)
    plain, captured = _net(), []

    def capture(module, inputs, output):
        output.register_hook(captured.append)

    plain[1].register_forward_hook(capture)
    plain_out = plain(x)
    plain_out.sum().backward()
    masked = _net()
    with gradient_masks(masked, ["1"], sigma=1.0, sets=4, quantile=0.5, kernel_size=5):
        out = masked(x)
        out.sum().backward()
    assert torch.equal(out, plain_out)
    for after in (2, 5):  # layers after the mask see the plain gradient, bit for bit
        assert torch.equal(masked[after].weight.grad, plain[after].weight.grad)
    expected = mask_gradient(captured[0], 1.0, 5, 4, 0.5)  # before it: the masked gradient
    reference = torch.autograd.grad(plain[1](plain[0](x)), plain[0].weight, grad_outputs=expected)[0]
    assert torch.equal(masked[0].weight.grad, reference)


def test_context_manager_leaves_no_hooks_behind_even_on_error():
    net = _net()
    with pytest.raises(RuntimeError):
        with gradient_masks(net, ["1", "3"], sigma=1.0, sets=4, kernel_size=5):
            assert len(net[1]._forward_hooks) == 1
            raise RuntimeError("boom")
    assert all(not m._forward_hooks and not m._backward_hooks for m in net.modules())
    with pytest.raises(LicliError, match="no layer"):
        with gradient_masks(net, ["nope"]):
            pass


def test_slot_module_is_identity_in_eval_and_masks_in_training():
    layer = GradientMask(sigma=1.0, sets=2, kernel_size=5)
    x = torch.rand(2, 4, 6, 6, requires_grad=True)
    layer.eval()
    assert layer(x) is x
    layer.train()
    out = layer(x)
    assert torch.equal(out, x)
    out.backward(torch.ones_like(x))
    assert torch.equal(x.grad, mask_gradient(torch.ones_like(x), 1.0, 5, 2, 0.5))


def test_warns_when_the_kernel_has_no_centre_surround():
    with pytest.warns(UserWarning, match="no centre-surround"):
        GradientMask(sigma=11.0, kernel_size=5)
    layer = GradientMask(sigma=11.0, sets=2)  # scipy's 89x89: fine, until the map is 8x8
    with pytest.warns(UserWarning, match="on 8x8 maps .* blurs instead of inhibiting"):
        layer(torch.rand(1, 4, 8, 8, requires_grad=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(torch.rand(1, 4, 8, 8, requires_grad=True))  # once per map size


def test_bad_shapes_and_parameters():
    with pytest.raises(LicliError, match="equal sets"):
        GradientMask(sets=3)(torch.rand(1, 4, 5, 5, requires_grad=True))
    with pytest.raises(LicliError):
        GradientMask(kernel_size=4)
    with pytest.raises(LicliError):
        GradientMask(variant="no-mask")


def test_resnet18_paper_placement():
    model = build_model(ModelSpec("resnet18", 10, 3, (32, 32)))
    assert paper_slots(model_slots(model)) == ["layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1"]


def test_log_filter_matrices_are_built_once_per_size_device_and_dtype():
    from licli.mechanisms.gradient_mask import separable_log_filter, separable_log_matrices

    separable_log_matrices.cache_clear()
    maps = torch.rand(2, 3, 9, 7)
    first = separable_log_filter(maps, 2.0, 9)
    assert torch.equal(separable_log_filter(maps, 2.0, 9), first)
    assert separable_log_matrices.cache_info().hits == 1 and separable_log_matrices.cache_info().misses == 1
    separable_log_filter(maps.double(), 2.0, 9)
    assert separable_log_matrices.cache_info().misses == 2


def test_bf16_gradients_are_masked_at_float32_and_returned_in_bf16():
    from licli.mechanisms.gradient_mask import GradientMask, mask_gradient

    torch.manual_seed(0)
    gradient = torch.randn(2, 16, 8, 8).to(torch.bfloat16)
    masked = GradientMask(sigma=1.0, sets=4)._mask(gradient)
    assert masked.dtype == torch.bfloat16
    assert torch.equal(masked, mask_gradient(gradient.float(), 1.0, 9, 4).to(torch.bfloat16))
