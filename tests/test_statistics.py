"""licli.statistics equals scipy.stats (binomtest, its Wilson interval) and McNemar's closed form."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from licli.errors import LicliError
from licli.statistics import binomial_test, mcnemar_exact, wilson_interval


@pytest.mark.parametrize("k,n,p", [(0, 0, 0.5), (0, 5, 0.5), (3, 10, 0.5), (10, 10, 0.5), (7, 40, 0.1),
                                   (62, 200, 0.3), (1, 1000, 0.001), (500, 1000, 0.5)])
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_binomial_test_equals_scipy(k, n, p, alternative):
    expected = 1.0 if n == 0 else stats.binomtest(k, n, p, alternative=alternative).pvalue
    assert binomial_test(k, n, p, alternative) == pytest.approx(expected, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("k,n", [(0, 10), (3, 10), (10, 10), (32, 200), (180, 200), (5000, 10000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_wilson_interval_equals_scipy(k, n, confidence):
    expected = stats.binomtest(k, n).proportion_ci(confidence, method="wilson")
    low, high = wilson_interval(k, n, confidence)
    assert (low, high) == pytest.approx((expected.low, expected.high), rel=1e-9, abs=1e-12)


def test_mcnemar_counts_and_exact_p_value():
    # 6 images only A gets right, 1 only B, 3 both, 2 neither.
    a = torch.tensor([1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0, 0], dtype=torch.bool)
    b = torch.tensor([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0], dtype=torch.bool)
    result = mcnemar_exact(a, b, alternative="greater")
    assert (result.only_a, result.only_b, result.both, result.neither) == (6, 1, 3, 2)
    assert result.p_value == pytest.approx((math.comb(7, 6) + math.comb(7, 7)) / 2 ** 7)  # P(X ≥ 6), X ~ B(7, ½)
    two_sided = mcnemar_exact(a, b)
    assert two_sided.p_value == pytest.approx(stats.binomtest(6, 7, 0.5).pvalue)
    assert mcnemar_exact(a, a).p_value == 1.0  # no discordant image: no evidence


def test_bad_input_is_a_licli_error():
    with pytest.raises(LicliError, match="0 ≤ k ≤ n"):
        binomial_test(5, 3)
    with pytest.raises(LicliError, match="confidence"):
        wilson_interval(1, 3, 1.5)
    with pytest.raises(LicliError, match="differ in length"):
        mcnemar_exact(torch.ones(3, dtype=torch.bool), torch.ones(4, dtype=torch.bool))
