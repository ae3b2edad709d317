"""StaticAdaptiveAvgPool2d against torch's AdaptiveAvgPool2d: same values and gradients, deterministic."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from licli.models import ModelSpec, build_model
from licli.models.zoo import StaticAdaptiveAvgPool2d, pooling_matrix


@pytest.mark.parametrize("size, out", [((1, 1), (7, 7)), ((7, 7), (7, 7)), ((32, 32), (7, 7)), ((13, 9), (5, 4)),
                                       ((5, 5), (1, 1)), ((2, 3), (7, 7)), ((14, 14), (7, 7))])
def test_values_and_gradients_equal_adaptive_average_pooling(size, out):
    torch.manual_seed(0)
    x = torch.randn(3, 4, *size, dtype=torch.float64, requires_grad=True)
    upstream = torch.randn(3, 4, *out, dtype=torch.float64)
    ours, theirs = StaticAdaptiveAvgPool2d(out)(x), nn.AdaptiveAvgPool2d(out)(x)
    (ours_grad,) = torch.autograd.grad(ours, x, upstream)
    (theirs_grad,) = torch.autograd.grad(theirs, x, upstream)
    assert torch.allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    assert torch.allclose(ours_grad, theirs_grad, rtol=1e-12, atol=1e-14)


def test_float32_values_are_equal_to_rounding_and_the_cifar_vgg_case_is_exact():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 1, 1)
    assert torch.equal(StaticAdaptiveAvgPool2d((7, 7))(x), nn.AdaptiveAvgPool2d((7, 7))(x))  # 1×1 repeated
    y = torch.randn(2, 8, 32, 32)
    assert torch.allclose(StaticAdaptiveAvgPool2d((7, 7))(y), nn.AdaptiveAvgPool2d((7, 7))(y), rtol=1e-5, atol=1e-6)


def test_pooling_matrix_rows_are_pytorchs_bins():
    matrix = pooling_matrix(3, 7, device=torch.device("cpu"), dtype=torch.float64)
    # bins [floor(i*7/3), ceil((i+1)*7/3)): [0, 3), [2, 5), [4, 7)
    expected = torch.tensor([[1, 1, 1, 0, 0, 0, 0], [0, 0, 1, 1, 1, 0, 0], [0, 0, 0, 0, 1, 1, 1]]) / 3
    assert torch.allclose(matrix, expected.double())


@pytest.mark.parametrize("name, in_channels, size", [("gap-cnn", 1, (12, 12)), ("resnet18", 3, (8, 8))])
def test_models_train_under_deterministic_algorithms_with_no_adaptive_pool(name, in_channels, size):
    model = build_model(ModelSpec(name=name, num_classes=3, in_channels=in_channels, image_size=size))
    assert not any(isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)) for m in model.modules())
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        model(torch.rand(2, in_channels, *size)).sum().backward()
    finally:
        torch.use_deterministic_algorithms(before)


def test_vgg16_uses_the_deterministic_pool():
    model = build_model(ModelSpec(name="vgg16", num_classes=10, in_channels=3, image_size=(32, 32),
                                  options={"width": 8}))
    assert isinstance(model[1].avgpool, StaticAdaptiveAvgPool2d) and model[1].avgpool.output_size == (7, 7)
    assert not any(isinstance(m, nn.AdaptiveAvgPool2d) for m in model.modules())
