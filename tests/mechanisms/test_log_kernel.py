import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_laplace

from licli.mechanisms.log_kernel import has_centre_surround, log_filter, log_kernel, warn_if_no_centre_surround


@pytest.mark.parametrize("sigma,size", [(1.0, 9), (2.0, 7), (3.0, 5), (1.5, 11)])
def test_log_filter_equals_scipy(sigma, size):
    rng = np.random.default_rng(0)
    image = rng.random((17, 13))
    radius = (size - 1) // 2
    expected = gaussian_laplace(image, sigma, mode="constant", cval=0.0, truncate=(radius + 0.25) / sigma)
    got = log_filter(torch.from_numpy(image), sigma, size).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_sign_structure_of_released_code_kernel():
    # The released LI-Map code used sigma=11 on 5x5: all entries <= 0, no centre-surround.
    assert (log_kernel(11, 5) <= 0).all() and not has_centre_surround(log_kernel(11, 5))
    # scipy's separable construction on 5x5: the second derivative (x^2 - sigma^2) stays negative for
    # |x| <= 2 once sigma >= 2, so only sigma < 2 keeps a surround there.
    assert not has_centre_surround(log_kernel(2, 5))
    assert has_centre_surround(log_kernel(1, 5)) and log_kernel(1, 5)[2, 2] < 0
    assert has_centre_surround(log_kernel(11, 89))
    with pytest.warns(UserWarning, match="no centre-surround"):
        assert warn_if_no_centre_surround(11, 5)
