"""Run one registered attack safely: frozen parameters, unchanged modes and RNG, checked budgets.

The runner owns what every adapter would otherwise repeat: parameters are frozen (no weight
gradients are computed: cleverhans calls ``loss.backward()`` on the whole graph), each module's
train/eval flag and the caller's global RNG state are restored (pyautoattack reseeds torch inside),
targets are chosen (never the true class), and every adversarial batch is verified to lie in the
ε-ball and in [0, 1] — a violation raises, it is not a warning.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from licli.attacks import ATTACKS
from licli.attacks.keyed import ImageKeys
from licli.attacks.targets import TARGETS
from licli.attacks.threat import Threat, perturbation_norms
from licli.errors import CheckFailed
from licli.registry import pick
from licli.runtime import autocast, check_precision

TOLERANCE = 1e-5
"""Slack for float rounding in the ε-ball check (relative to max(ε, 1))."""


class BudgetViolation(CheckFailed):
    """An attack returned an image outside the ε-ball or outside [0, 1] (a bug in an attack)."""


@dataclass(frozen=True)
class AttackOutcome:
    x_adv: torch.Tensor
    target: torch.Tensor | None
    """The target class per sample when licli chose it, else None."""
    norms: torch.Tensor
    """Per-sample perturbation norm in the threat's norm."""


class AtPrecision(nn.Module):
    """``model`` with its forward pass at ``precision`` (bf16: autocast) and float32 logits, so attacks,
    their losses and input gradients stay float32 (``licli attack --precision``)."""

    def __init__(self, model: nn.Module, precision: str) -> None:
        super().__init__()
        self.model = model
        self.precision = precision

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with autocast(self.precision, x.device):
            return self.model(x).float()


def at_precision(model: nn.Module, precision: str) -> nn.Module:
    """``model`` itself at fp32/tf32 (TF32 is a process flag, ``licli.runtime.precision_scope``), else wrapped."""
    return model if check_precision(precision) != "bf16" else AtPrecision(model, precision)


@contextmanager
def kept_modes(model: nn.Module) -> Iterator[nn.Module]:
    """Restore each module's train/eval flag when the block ends, whatever happened inside."""
    modes = [(m, m.training) for m in model.modules()]
    try:
        yield model
    finally:
        for module, flag in modes:
            module.training = flag


@contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Parameters with ``requires_grad=False`` and each module's train/eval flag kept, restored after."""
    grads = [(p, p.requires_grad) for p in model.parameters()]
    for parameter, _ in grads:
        parameter.requires_grad_(False)
    try:
        with kept_modes(model):
            yield model
    finally:
        for parameter, flag in grads:
            parameter.requires_grad_(flag)


def check_adversarial(x: torch.Tensor, x_adv: torch.Tensor, threat: Threat) -> torch.Tensor:
    """Per-sample norms of ``x_adv − x``; raise BudgetViolation outside the ε-ball or [0, 1] (one host sync)."""
    if x_adv.shape != x.shape:
        raise BudgetViolation(f"attack returned shape {tuple(x_adv.shape)} for inputs {tuple(x.shape)}",
                              "report this attack as broken")
    norms = perturbation_norms(x_adv - x, threat.norm)
    eps = threat.budget_for(x)
    low, high, largest = torch.stack([x_adv.min(), x_adv.max(), norms.max()]).tolist()
    if not (math.isfinite(low) and math.isfinite(high) and math.isfinite(largest)):
        raise BudgetViolation("attack returned non-finite pixels", "report this attack as broken")
    if low < 0 or high > 1:
        raise BudgetViolation(f"attack left [0, 1]: pixels in [{low:.6g}, {high:.6g}]", "report this attack as broken")
    if largest > eps + TOLERANCE * max(eps, 1.0):
        raise BudgetViolation(f"attack left the {threat.norm} ε-ball: largest norm {largest:.6g} > ε = {eps:.6g}",
                              "report this attack as broken")
    return norms


def run_attack(name: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, threat: Threat,
               seed: int, target_rule: str = "random", backend: str = "native", image_keys: ImageKeys | None = None,
               **params) -> AttackOutcome:
    """Attack ``(x, y)`` with the registered attack ``name``; ``params`` it does not take are ignored.

    ``backend`` picks FGSM/PGD's implementation (``licli.attacks.BACKENDS``); other attacks have one.
    ``seed`` seeds the attack's own randomness (torch's RNG, pyautoattack's ``seed``); with ``image_keys``,
    PGD's random start (native backend) and random targets are drawn per image instead
    (``licli.attacks.keyed``), so they do not depend on which images share the batch.
    ``x`` is not modified. ε = 0 returns ``x`` itself (no attack runs).
    """
    spec = pick(ATTACKS, name, "attack")
    attack = spec.implementation(backend)
    choose = pick(TARGETS, target_rule, "target rule")
    threat = threat.aimed(spec.targets == "licli")  # the same object when the caller aimed it already
    accepted = {key: value for key, value in {**params, "image_keys": image_keys}.items() if key in spec.params}
    devices = [x.device] if x.device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), frozen(model):
        torch.manual_seed(seed)
        target = None
        goal = y
        if spec.targets == "licli":
            with torch.no_grad():
                logits = model(x)
            generator = torch.Generator(device=x.device).manual_seed(seed)
            target = choose(logits, y, generator, image_keys)
            goal = target
        if threat.eps == 0:
            x_adv = x.clone()
        else:
            x_adv = attack(model, x.clone(), goal, threat, seed=seed, **accepted).detach()
    return AttackOutcome(x_adv=x_adv, target=target, norms=check_adversarial(x, x_adv, threat))
