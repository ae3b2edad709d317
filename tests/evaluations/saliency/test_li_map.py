"""LI-Map against a model whose gradient is known in closed form, and the LoG's sign structure."""

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_laplace
from torch import nn

from licli.saliency.li_map import LI_MAP_RESPONSES, LIMap, kernel_size_for
from licli.mechanisms.log_kernel import log_kernel
from licli.models.slots import Slot


def linear_conv_model(channels=3, size=12, classes=4):
    """logits = W · vec(conv(x)) + b, so ∂P_c/∂A = W_c viewed as (C, H, W), whatever the input."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), Slot("act"), nn.Flatten(),
                         nn.Linear(channels * size * size, classes)).double().eval()


@pytest.mark.parametrize("padding,scipy_mode", [("zeros", "constant"), ("replicate", "nearest")])
@pytest.mark.parametrize("response", sorted(LI_MAP_RESPONSES))
def test_li_map_equals_closed_form(response, padding, scipy_mode):
    model, sigma, size = linear_conv_model(), 1.5, 7
    x = torch.rand(3, 1, 12, 12, dtype=torch.float64)
    classes = torch.tensor([0, 2, 3])
    maps = LIMap(model, [model[1]], sigma=sigma, size=size, response=response, padding=padding)(x, classes)
    weights = model[3].weight.detach().view(4, 3, 12, 12)
    for i, c in enumerate(classes.tolist()):
        norms = weights[c].norm(dim=0).numpy()
        expected = gaussian_laplace(norms, sigma, mode=scipy_mode, truncate=((size - 1) // 2) / sigma)
        expected = {"signed": expected, "abs": np.abs(expected), "centre": np.maximum(-expected, 0)}[response]
        np.testing.assert_allclose(maps[i].numpy(), expected, atol=1e-12)


def test_li_map_sums_layers_resized_to_the_input():
    """Two copies of one layer give twice the map of that layer alone (eq. 20)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(), Slot("a"), Slot("b"),
                          nn.Flatten(), nn.Linear(4 * 8 * 8, 3)).eval()
    x, classes = torch.rand(2, 1, 16, 16), torch.tensor([0, 1])
    single = LIMap(model, [model[2]], sigma=1.0, response="signed")(x, classes)
    both = LIMap(model, [model[2], model[3]], sigma=1.0, response="signed")(x, classes)
    assert single.shape == (2, 16, 16)
    assert torch.allclose(both, 2 * single, atol=1e-6)


def test_log_kernel_sign_structure():
    kernel = log_kernel(2.0, kernel_size_for(2.0, None))
    centre = kernel.shape[0] // 2
    assert kernel[centre, centre] < 0 and kernel.max() > 0
    assert kernel[centre, centre] == kernel.min()
    assert kernel.sum().abs() < 1e-3


def test_kernel_without_centre_surround_warns():
    with pytest.warns(UserWarning, match="no centre-surround"):
        kernel_size_for(11.0, 5)


def test_centre_response_peaks_on_a_gradient_blob():
    """A blob of large gradient norm: 'centre' peaks on the blob, 'signed' on its surround."""
    norms = torch.zeros(1, 21, 21)
    norms[0, 8:13, 8:13] = 1.0
    from licli.mechanisms.log_kernel import log_filter

    f = log_filter(norms, 2.0, 17)
    centre = LI_MAP_RESPONSES["centre"](f)[0]
    signed = LI_MAP_RESPONSES["signed"](f)[0]
    assert divmod(int(centre.argmax()), 21) == (10, 10)
    row, col = divmod(int(signed.argmax()), 21)
    assert not (8 <= row <= 12 and 8 <= col <= 12)
