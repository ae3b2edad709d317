"""Adversarial attacks: adapters around cleverhans and pyautoattack, one registry, one runner.

Every adapter follows ``attack(model, x, y, threat, *, seed, **params) -> x_adv`` where ``y`` is the
true label, or the target class when licli picks targets (``targets == "licli"``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from licli.attacks import autoattack, cleverhans
from licli.attacks.threat import Threat, parse_budget, parse_budgets, perturbation_norms


@dataclass(frozen=True)
class AttackSpec:
    run: Callable
    library: str
    targets: str | None = None
    """``"licli"``: the runner picks a target and passes it as ``y``; ``"library"``: the attack picks its own."""

    @property
    def params(self) -> tuple[str, ...]:
        """The keyword parameters the adapter accepts besides ``seed``."""
        return tuple(name for name, p in inspect.signature(self.run).parameters.items()
                     if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "seed")


ATTACKS: dict[str, AttackSpec] = {
    "fgsm": AttackSpec(cleverhans.fgsm, "cleverhans"),
    "pgd": AttackSpec(cleverhans.pgd, "cleverhans"),
    "pgd-t": AttackSpec(cleverhans.pgd, "cleverhans", targets="licli"),
    "square": AttackSpec(autoattack.square, "pyautoattack"),
    "apgd-ce": AttackSpec(autoattack.apgd_ce, "pyautoattack"),
    "apgd-t": AttackSpec(autoattack.apgd_t, "pyautoattack", targets="library"),
    "fab-t": AttackSpec(autoattack.fab_t, "pyautoattack", targets="library"),
    "autoattack": AttackSpec(autoattack.autoattack, "pyautoattack", targets="library"),
}

__all__ = ["ATTACKS", "AttackSpec", "Threat", "parse_budget", "parse_budgets", "perturbation_norms"]
