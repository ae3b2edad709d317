"""Parameter-free and black-box attacks through pyautoattack 0.2.0 (Croce & Hein's AutoAttack).

Every attack is built with an explicit ``seed`` and ``device`` (the package defaults to the wall clock
and to ``'cpu'``); the attacks reseed torch's global RNG inside, so the runner wraps them in
``torch.random.fork_rng``. APGD-T and FAB-T choose their own targets (the top-k other classes).
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from pyautoattack import AutoAttack, checks
from pyautoattack.autopgd_base import APGDAttack, APGDAttack_targeted
from pyautoattack.fab_pt import FABAttack_PT
from pyautoattack.square import SquareAttack
from torch import nn

from licli.attacks.threat import Threat
from licli.errors import LicliError

AUTOATTACK_NORMS = {"linf": "Linf", "l2": "L2"}

logging.getLogger("auto-attack").addHandler(logging.NullHandler())
logging.getLogger("auto-attack").propagate = False
"""The ensemble logs its checks' warnings to this logger; licli reports them through masking check 7
(``licli attack --masking-check``) instead of letting Python's last-resort handler print them."""


def _target_classes(model: nn.Module, x: torch.Tensor, minimum: int) -> int:
    """How many target classes the targeted attacks try: 9 (AutoAttack standard) or C − 1 if fewer."""
    with torch.no_grad():
        classes = model(x[:1]).shape[1]
    if classes < minimum:
        raise LicliError(f"this attack needs at least {minimum} classes (the model has {classes})",
                         "drop apgd-t/fab-t/autoattack for this model")
    return min(9, classes - 1)


def square(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: Threat, *, seed: int,
           n_queries: int = 5000, p_init: float = 0.8, n_restarts: int = 1) -> torch.Tensor:
    """Square Attack (black-box, margin loss); AutoAttack-standard settings except ``n_queries``."""
    attack = SquareAttack(model, norm=AUTOATTACK_NORMS[threat.norm], n_queries=n_queries, eps=threat.budget_for(x),
                          p_init=p_init, n_restarts=n_restarts, seed=seed, device=x.device, resc_schedule=True)
    return attack.perturb(x, y)


def apgd_ce(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: Threat, *, seed: int,
            steps: int = 100) -> torch.Tensor:
    """APGD on the cross-entropy loss (``steps`` iterations; AutoAttack standard uses 100)."""
    attack = APGDAttack(model, n_iter=steps, norm=AUTOATTACK_NORMS[threat.norm], n_restarts=1,
                        eps=threat.budget_for(x), seed=seed, loss="ce", device=x.device)
    return attack.perturb(x, y)


def apgd_t(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: Threat, *, seed: int,
           steps: int = 100) -> torch.Tensor:
    """APGD on the targeted DLR loss over the top-9 other classes (needs ≥ 4 classes)."""
    attack = APGDAttack_targeted(model, n_iter=steps, norm=AUTOATTACK_NORMS[threat.norm], n_restarts=1,
                                 eps=threat.budget_for(x), seed=seed, device=x.device,
                                 n_target_classes=_target_classes(model, x, 4))
    return attack.perturb(x, y)


def fab_t(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: Threat, *, seed: int,
          steps: int = 100) -> torch.Tensor:
    """Targeted FAB (minimum-norm attack, accepted only within ε) over the top-9 other classes."""
    attack = FABAttack_PT(model, norm=AUTOATTACK_NORMS[threat.norm], n_restarts=1, n_iter=steps,
                          eps=threat.budget_for(x), seed=seed, targeted=True, device=x.device,
                          n_target_classes=_target_classes(model, x, 3))
    return attack.perturb(x, y)


@contextmanager
def isolated_autoattack_checks() -> Iterator[list[warnings.WarningMessage]]:
    """Run AutoAttack's checks without leaking their global state; yield the warnings they raise.

    ``checks.check_dynamic`` counts calls in the module-level dict ``checks.funcs`` via
    ``sys.settrace`` and never resets it, so one dynamic model would flag every later one, and it
    clears any tracer already installed (debugger, coverage). Both are restored here.
    """
    saved_counts = dict(checks.funcs)
    saved_trace = sys.gettrace()
    for name in checks.funcs:
        checks.funcs[name] = 0
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield caught
    finally:
        checks.funcs.clear()
        checks.funcs.update(saved_counts)
        sys.settrace(saved_trace)


def autoattack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: Threat, *, seed: int) -> torch.Tensor:
    """The standard AutoAttack ensemble (APGD-CE, APGD-T, FAB-T, Square) with its own checks isolated."""
    targets = _target_classes(model, x, 4)
    ensemble = AutoAttack(model, norm=AUTOATTACK_NORMS[threat.norm], eps=threat.budget_for(x), seed=seed,
                          device=x.device, version="standard")
    ensemble.apgd_targeted.n_target_classes = targets
    ensemble.fab.n_target_classes = targets
    with isolated_autoattack_checks():
        x_adv, _ = ensemble.run_standard_evaluation(x, y, batch_size=len(x))
    return x_adv
