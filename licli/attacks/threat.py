"""The threat model of an attack: norm, budget ε, and whether the attack aims at a target class.

Budgets are in pixel units of images in [0, 1] (models normalise inside). NormOut §2.3.2 / Table 3.4
uses ε = 8/255 in L∞; budgets are written as fractions (``8/255``), decimals, or ``inf``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import torch

from licli.errors import LicliError

NORMS = ("linf", "l2")


def parse_budget(text: str | float, flag: str = "--eps") -> float:
    """``"8/255"`` → 0.0313…, ``"0.03"`` → 0.03, ``"inf"`` → inf; negative or malformed budgets are errors."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        cleaned = text.strip().lower()
        try:
            value = math.inf if cleaned in ("inf", "infinity") else float(Fraction(cleaned))
        except (ValueError, ZeroDivisionError):
            raise LicliError(f"{flag} value {text!r} is not a number", "write e.g. 8/255, 0.03 or inf") from None
    if math.isnan(value) or value < 0:
        raise LicliError(f"{flag} must be ≥ 0 (got {text})", "write e.g. 8/255")
    return value


def parse_budgets(text: str, flag: str = "--eps-sweep") -> list[float]:
    """A comma-separated list of budgets, e.g. ``0,1/255,2/255,inf``."""
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise LicliError(f"{flag} is empty", "write e.g. 0,2/255,8/255,inf")
    return [parse_budget(part, flag) for part in parts]


def perturbation_norms(delta: torch.Tensor, norm: str) -> torch.Tensor:
    """Per-sample L∞ or L2 norm of ``delta`` (N, …)."""
    flat = delta.reshape(delta.shape[0], -1)
    return flat.abs().amax(dim=1) if norm == "linf" else flat.norm(dim=1)


@dataclass(frozen=True)
class Threat:
    norm: str = "linf"
    eps: float = 8 / 255
    targeted: bool = False

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise LicliError(f"unknown norm {self.norm!r}", f"choose one of: {', '.join(NORMS)}")
        if math.isnan(self.eps) or self.eps < 0:
            raise LicliError(f"ε must be ≥ 0 (got {self.eps})", "pass e.g. --eps 8/255")

    def budget_for(self, x: torch.Tensor) -> float:
        """ε capped at the diameter of the [0, 1] box, so ``inf`` means "any image is reachable".

        L∞ diameter is 1, L2 diameter is √d for d pixels per image; beyond it ε changes nothing.
        """
        diameter = 1.0 if self.norm == "linf" else math.sqrt(x[0].numel())
        return min(self.eps, diameter)
