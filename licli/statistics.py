"""Small, exact statistics for counts of images: binomial tails, Wilson intervals, McNemar's test.

Pure functions of plain numbers or boolean tensors, returning numbers or frozen dataclasses; nothing
here prints, reads files or touches a model. Binomial tails are summed term by term over the n + 1
probabilities (log-gamma, no normal approximation), so the p-values equal ``scipy.stats.binomtest``
(tests/test_statistics.py checks it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import torch

from licli.errors import LicliError

ALTERNATIVES = ("two-sided", "greater", "less")


def _check_counts(k: int, n: int) -> None:
    if not (isinstance(k, int) and isinstance(n, int)) or n < 0 or not 0 <= k <= n:
        raise LicliError(f"counts must be integers with 0 ≤ k ≤ n (got k={k!r}, n={n!r})",
                         "pass the number of successes and of trials")


def binomial_pmf(k: int, n: int, p: float) -> float:
    """P(X = k) for X ~ Binomial(n, p)."""
    _check_counts(k, n)
    if p in (0.0, 1.0):
        return float(k == (n if p == 1.0 else 0))
    return math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                    + k * math.log(p) + (n - k) * math.log1p(-p))


def binomial_test(k: int, n: int, p: float = 0.5, alternative: str = "two-sided") -> float:
    """Exact p-value of observing ``k`` successes in ``n`` trials under success probability ``p``.

    ``greater``: P(X ≥ k); ``less``: P(X ≤ k); ``two-sided``: the sum of P(X = i) over every i with
    P(X = i) ≤ P(X = k) (the convention of ``scipy.stats.binomtest``). With n = 0 the p-value is 1.
    """
    _check_counts(k, n)
    if not 0 <= p <= 1:
        raise LicliError(f"probability must be in [0, 1] (got {p})", "pass e.g. p=0.5")
    if alternative not in ALTERNATIVES:
        raise LicliError(f"unknown alternative {alternative!r}", f"choose one of: {', '.join(ALTERNATIVES)}")
    if n == 0:
        return 1.0
    pmf = [binomial_pmf(i, n, p) for i in range(n + 1)]
    if alternative == "greater":
        value = sum(pmf[k:])
    elif alternative == "less":
        value = sum(pmf[:k + 1])
    else:
        relative = 1 + 1e-7  # scipy's tolerance for ties in the probabilities
        value = sum(q for q in pmf if q <= pmf[k] * relative)
    return min(1.0, value)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion k/n (two-sided, ``confidence`` in (0, 1)).

    Closed form: (k + z²/2 ± z√(k(n−k)/n + z²/4)) / (n + z²), z the normal quantile of (1 + confidence)/2
    (Wilson 1927). With n = 0 the interval is (0, 1).
    """
    _check_counts(k, n)
    if not 0 < confidence < 1:
        raise LicliError(f"confidence must be in (0, 1) (got {confidence})", "pass e.g. 0.95")
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    centre = k + z * z / 2
    half = z * math.sqrt(k * (n - k) / n + z * z / 4)
    return max(0.0, (centre - half) / (n + z * z)), min(1.0, (centre + half) / (n + z * z))


@dataclass(frozen=True)
class McNemar:
    """Exact McNemar test on paired per-image outcomes of two methods A and B.

    ``only_a``: images A gets right and B gets wrong; ``only_b``: the reverse; ``both``/``neither``
    the concordant pairs (they carry no evidence). Under H0 (A and B equally good) each discordant
    image is a fair coin, so ``p_value`` is the binomial test of ``only_a`` among ``only_a + only_b``
    discordant images with p = ½ in the direction ``alternative`` (``greater``: A is better than B).
    """

    only_a: int
    only_b: int
    both: int
    neither: int
    alternative: str
    p_value: float

    @property
    def discordant(self) -> int:
        return self.only_a + self.only_b

    def to_dict(self) -> dict[str, object]:
        return {"only_a": self.only_a, "only_b": self.only_b, "both": self.both, "neither": self.neither,
                "alternative": self.alternative, "p_value": self.p_value}

    def describe(self, a: str = "A", b: str = "B") -> str:
        """``3 only A, 0 only B (exact McNemar p = 0.125)``."""
        return f"{self.only_a} only {a}, {self.only_b} only {b} (exact McNemar p = {self.p_value:.3g})"


def mcnemar_exact(a_correct: torch.Tensor, b_correct: torch.Tensor, alternative: str = "two-sided") -> McNemar:
    """Exact McNemar test of two boolean vectors of per-image outcomes (True = right), same images in order."""
    a, b = torch.as_tensor(a_correct).bool().flatten(), torch.as_tensor(b_correct).bool().flatten()
    if a.shape != b.shape:
        raise LicliError(f"paired outcomes differ in length ({a.numel()} vs {b.numel()})",
                         "pass one outcome per image for both methods, same images in the same order")
    a, b = a.cpu(), b.cpu()
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    both, neither = int((a & b).sum()), int((~a & ~b).sum())
    p_value = binomial_test(only_a, only_a + only_b, 0.5, alternative)
    return McNemar(only_a, only_b, both, neither, alternative, p_value)
