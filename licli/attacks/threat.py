"""The threat model of an attack: norm, budget ε, and whether the attack aims at a target class.

Budgets are in pixel units of images in [0, 1] (models normalise inside). NormOut §2.3.2 / Table 3.4
uses ε = 8/255 in L∞; budgets are written as fractions (``8/255``), decimals, or ``inf``. Norms are
``linf``/``l2``, also in RobustBench/AutoAttack's spelling (``Linf``, ``L2``). A finite budget that
reaches every image of the box (ε ≥ 1 in L∞, ε ≥ √d in L2: ``--eps 8`` meant as 8/255) is refused
(``check_budget``): an unbounded attack is asked for explicitly with ``inf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction

import torch

from licli.errors import LicliError
from licli.parsing import comma_list

NORMS = ("linf", "l2")


def canonical_norm(norm: str) -> str:
    """``linf``/``l2`` from any capitalisation (``Linf``, ``L2``: RobustBench and AutoAttack's spelling)."""
    canonical = norm.strip().lower() if isinstance(norm, str) else norm
    if canonical not in NORMS:
        raise LicliError(f"unknown norm {norm!r}", f"choose one of: {', '.join(NORMS)} (or Linf, L2)")
    return canonical


def box_diameter(norm: str, pixels: int) -> float:
    """The largest distance between two images in [0, 1]^d with d = ``pixels``: 1 in L∞, √d in L2."""
    return 1.0 if canonical_norm(norm) == "linf" else math.sqrt(pixels)


def check_budget(norm: str, eps: float, pixels: int | None = None, field: str = "eps") -> None:
    """Refuse a finite ε that reaches every image (ε ≥ the box diameter): it is almost always a budget
    written in 0–255 units (``8`` for ``8/255``). ``inf`` is the explicit way to ask for it. L2 needs
    ``pixels`` (values per image); without it only L∞ is checked."""
    if math.isinf(eps) or (pixels is None and canonical_norm(norm) != "linf"):
        return
    diameter = box_diameter(norm, pixels or 1)
    if eps >= diameter:
        raise LicliError(f"{field} {eps:g} in {canonical_norm(norm)} reaches every image in [0, 1] "
                         f"(the box's diameter is {diameter:.4g}); budgets are in [0, 1] pixel units",
                         f"write e.g. {field}={eps:g}/255, or {field}=inf for an unbounded attack", field=field)


def parse_budget(text: str | float, field: str = "eps") -> float:
    """``"8/255"`` → 0.0313…, ``"0.03"`` → 0.03, ``"inf"`` → inf; negative or malformed budgets are errors."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        cleaned = text.strip().lower()
        try:
            value = math.inf if cleaned in ("inf", "infinity") else float(Fraction(cleaned))
        except (ValueError, ZeroDivisionError):
            raise LicliError(f"{field} value {text!r} is not a number", "write e.g. 8/255, 0.03 or inf",
                             field=field) from None
    if math.isnan(value) or value < 0:
        raise LicliError(f"{field} must be ≥ 0 (got {text})", f"write e.g. {field}=8/255", field=field)
    return value


def parse_budgets(text: str, field: str = "eps_sweep") -> list[float]:
    """A comma-separated list of budgets, e.g. ``0,1/255,2/255,inf``."""
    budgets = comma_list(text, field, lambda part: parse_budget(part, field))
    if not budgets:
        raise LicliError(f"{field} is empty", f"write e.g. {field}=0,2/255,8/255,inf", field=field)
    return list(budgets)


def perturbation_norms(delta: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-sample L∞ or L2 norm of ``delta`` (N, …)."""
    flat = delta.reshape(delta.shape[0], -1)
    return flat.abs().amax(dim=1) if norm == "linf" else flat.norm(dim=1)


@dataclass(frozen=True)
class Threat:
    """The threat model, built once where a budget enters licli (the CLI's ``--eps``/``--eps-sweep``, the
    Python API's floats, ``AttackSettings``) and carried as this object to the attacks."""

    norm: str = "linf"
    eps: float = 8 / 255
    targeted: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "norm", canonical_norm(self.norm))
        if math.isnan(self.eps) or self.eps < 0:
            raise LicliError(f"eps must be ≥ 0 (got {self.eps})", "pass e.g. eps=8/255", field="eps")

    def at(self, eps: float) -> Threat:
        """This threat with budget ``eps`` (the masking checks' multiples of ε, an unbounded PGD)."""
        return replace(self, eps=eps)

    def aimed(self, targeted: bool) -> Threat:
        """This threat for a targeted (or untargeted) attack; itself when it already is one."""
        return self if self.targeted == targeted else replace(self, targeted=targeted)

    def budget_for(self, x: torch.Tensor) -> float:
        """ε capped at the diameter of the [0, 1] box, so ``inf`` means "any image is reachable".

        L∞ diameter is 1, L2 diameter is √d for d pixels per image; beyond it ε changes nothing.
        """
        return min(self.eps, box_diameter(self.norm, x[0].numel()))
