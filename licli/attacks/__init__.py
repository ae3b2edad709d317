"""Adversarial attacks: adapters around cleverhans and pyautoattack, one registry, one runner.

Every adapter follows ``attack(model, x, y, threat, *, seed, **params) -> x_adv`` where ``y`` is the
true label, or the target class when licli picks targets (``targets == "licli"``). FGSM and PGD run
as licli's sync-free loops (``native``) by default, bit-identical to cleverhans, which stays selectable
as the reference (``backend="cleverhans"``, ``licli attack --backend cleverhans``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from licli.attacks import autoattack, cleverhans, native
from licli.attacks.threat import Threat, parse_budget, parse_budgets, perturbation_norms
from licli.errors import LicliError


@dataclass(frozen=True)
class AttackSpec:
    run: Callable
    library: str
    targets: str | None = None
    """``"licli"``: the runner picks a target and passes it as ``y``; ``"library"``: the attack picks its own."""
    reference: Callable | None = None
    """The same attack through its reference library, run with ``backend="cleverhans"`` (same signature)."""

    def implementation(self, backend: str) -> Callable:
        """The adapter ``backend`` names: the reference library's where the attack has one, else ``run``."""
        if backend not in BACKENDS:
            raise LicliError(f"unknown attack backend {backend!r}", f"choose one of: {', '.join(BACKENDS)}")
        return self.reference if backend == "cleverhans" and self.reference is not None else self.run

    @property
    def params(self) -> tuple[str, ...]:
        """The keyword parameters the adapter accepts besides ``seed``."""
        return tuple(name for name, p in inspect.signature(self.run).parameters.items()
                     if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "seed")


BACKENDS = ("native", "cleverhans")
"""How FGSM/PGD run: licli's sync-free loops (default) or cleverhans (the reference, bit-identical)."""

ATTACKS: dict[str, AttackSpec] = {
    "fgsm": AttackSpec(native.fgsm, "licli (cleverhans reference)", reference=cleverhans.fgsm),
    "pgd": AttackSpec(native.pgd, "licli (cleverhans reference)", reference=cleverhans.pgd),
    "pgd-t": AttackSpec(native.pgd, "licli (cleverhans reference)", targets="licli", reference=cleverhans.pgd),
    "square": AttackSpec(autoattack.square, "pyautoattack"),
    "apgd-ce": AttackSpec(autoattack.apgd_ce, "pyautoattack"),
    "apgd-t": AttackSpec(autoattack.apgd_t, "pyautoattack", targets="library"),
    "fab-t": AttackSpec(autoattack.fab_t, "pyautoattack", targets="library"),
    "autoattack": AttackSpec(autoattack.autoattack, "pyautoattack", targets="library"),
}

__all__ = ["ATTACKS", "BACKENDS", "AttackSpec", "Threat", "parse_budget", "parse_budgets", "perturbation_norms"]
