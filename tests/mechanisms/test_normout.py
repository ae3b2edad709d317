import math

import numpy as np
import pytest
import torch

from licli.errors import LicliError
from licli.mechanisms.normout import VARIANTS, ActivationRecorder, Dropout, NormOut, keep_probability, normout


def test_keep_probabilities_equal_the_formulas_on_2d():
    o = torch.tensor([[1.0, -2.0, 0.5], [3.0, 1.0, 0.0]])
    a = o.abs().numpy()
    expected = {
        "temporal-max": a / a.max(0, keepdims=True),
        "spatial-max": a / a.max(1, keepdims=True),
        "spatiotemporal-max": a / a.max(),
        "temporal-exp": np.exp((a - a.max(0, keepdims=True)) / 2.5),
        "spatial-exp": np.exp((a - a.max(1, keepdims=True)) / 2.5),
        "spatiotemporal-exp": np.exp((a - a.max()) / 2.5),
    }
    for variant, p in expected.items():
        np.testing.assert_allclose(keep_probability(o, variant, 2.5).numpy(), p, rtol=1e-6)


def test_thesis_temporal_softmax_example():
    # §2.2.4: neuron activations {2,3,4,5} and {4,6,8,10} plus the current input (1, 2) in a batch of 5
    batch = torch.tensor([[2.0, 4.0], [3.0, 6.0], [4.0, 8.0], [5.0, 10.0], [1.0, 2.0]])
    assert torch.allclose(keep_probability(batch, "temporal-max")[-1], torch.tensor([0.2, 0.2]))
    p = keep_probability(batch, "temporal-exp", 1.0)[-1]
    assert torch.allclose(p, torch.tensor([math.exp(-4), math.exp(-8)]))  # the thesis's [0.02, 0.0003]
    assert round(float(p[0]), 2) == 0.02 and round(float(p[1]), 4) == 0.0003


def test_max_axes_on_4d_tensors_treat_every_channel_position_as_a_neuron():
    x = torch.rand(3, 2, 4, 5)
    flat = x.reshape(3, -1)
    for variant in VARIANTS:
        expected = keep_probability(flat, variant, 3.0).reshape(x.shape)
        assert torch.allclose(keep_probability(x, variant, 3.0), expected)
    assert torch.allclose(keep_probability(x, "temporal-max"), x / x.amax(0, keepdim=True))
    assert torch.allclose(keep_probability(x, "spatial-max"), x / x.amax((1, 2, 3), keepdim=True))


def test_all_zero_slice_keeps_nothing_without_nan():
    assert torch.equal(keep_probability(torch.zeros(4, 3), "temporal-max"), torch.zeros(4, 3))


@pytest.mark.parametrize("variant", VARIANTS)
def test_empirical_keep_rate_matches_p(variant):
    torch.manual_seed(0)
    x = torch.rand(1, 200).repeat(2000, 1) + 0.05
    x[0] = x[0] * 2 if variant.startswith("temporal") else x[0]
    p = keep_probability(x, variant, 0.5)
    kept = (normout(x, variant, 0.5) != 0).double().mean(0)
    # 2000 Bernoulli draws per neuron: 5 standard errors
    assert ((kept - p.double().mean(0)).abs() <= 5 * (0.25 / 2000) ** 0.5).all()


def test_no_rescaling_by_default_and_rescale_option():
    torch.manual_seed(0)
    x = torch.rand(64, 32) + 0.1
    out = normout(x, "spatial-max")
    assert ((out == 0) | (out == x)).all()
    torch.manual_seed(0)
    scaled = normout(x, "spatial-max", rescale=True)
    p = keep_probability(x, "spatial-max")
    assert torch.allclose(scaled[out != 0], (x / p)[out != 0])


@pytest.mark.parametrize("module", [NormOut("temporal-exp", 10.0), Dropout(0.5), ActivationRecorder()])
def test_eval_mode_is_the_identity(module):
    x = torch.rand(8, 16)
    assert module.eval()(x) is x


def test_activation_statistics_equal_numpy():
    layer = Dropout(0.5)
    layer.slot_name = "fc1"
    outputs = [layer(torch.rand(16, 10) - 0.2).detach() for _ in range(3)]
    stats = layer.epoch_statistics()
    a = torch.cat(outputs).double().numpy()
    assert stats["fc1.activation_mean"] == pytest.approx(a.mean())
    assert stats["fc1.activation_max"] == pytest.approx(a.max())
    assert stats["fc1.activation_std"] == pytest.approx(a.std())
    assert stats["fc1.activation_variance"] == pytest.approx(a.var())
    assert stats["fc1.activation_sparsity"] == pytest.approx((a == 0).mean())
    assert layer.epoch_statistics() == {}  # reset after reading


@pytest.mark.parametrize("params", [{"variant": "temporal-softmax"}, {"temperature": 0.0}])
def test_bad_parameters(params):
    with pytest.raises(LicliError):
        NormOut(**params)
    with pytest.raises(LicliError):
        Dropout(1.0)
