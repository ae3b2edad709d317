"""White-box attacks through cleverhans 4.0.0 (NormOut §2.3.2: FGSM, PGD-CE, PGD-T).

licli clips to [0, 1] and passes ``sanity_checks=False``: cleverhans's own checks raise a TypeError
on CUDA inputs (its issue #1248); licli's runner checks every batch's bounds itself. cleverhans PGD
asserts ``eps_iter <= eps`` unconditionally, so the step is clamped to ε (small ε in sweeps).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from licli.attacks.keyed import ImageKeys
from licli.attacks.threat import Threat
from licli.errors import LicliError

CLEVERHANS_NORMS = {"linf": np.inf, "l2": 2}


def _attack(name: str) -> Callable:
    """``cleverhans.torch.attacks.<name>.<name>``, imported on first use: cleverhans is installed apart
    (README), so a missing copy must not break the other commands, only say how to install it."""
    try:
        return getattr(importlib.import_module(f"cleverhans.torch.attacks.{name}"), name)
    except ImportError:
        raise LicliError("cleverhans is not installed",
                         "pip install --no-deps cleverhans==4.0.0 (see README: why it is installed apart)") from None


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: Threat, *, seed: int) -> torch.Tensor:
    """Fast gradient (sign) method: one step of size ε (L∞: ε·sign ∇; L2: ε·∇/‖∇‖)."""
    return _attack("fast_gradient_method")(
        model, x, threat.budget_for(x), CLEVERHANS_NORMS[threat.norm], clip_min=0.0, clip_max=1.0, y=y,
        targeted=threat.targeted, sanity_checks=False)


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: Threat, *, seed: int, steps: int = 10,
        step_size: float = 3 / 255, random_start: bool = True, image_keys: ImageKeys | None = None) -> torch.Tensor:
    """Projected gradient descent (Madry et al.): ``steps`` steps of ``min(step_size, ε)``.

    Paper defaults (Table 3.4): 10 steps of 3/255 at ε = 8/255. ``random_start`` is cleverhans's
    default (uniform start in the ε-box); the paper does not say, so it is a flag. The random start
    draws from torch's global RNG, which the runner seeds with ``seed`` inside ``fork_rng``: one draw per
    batch, so unlike the native loop the start of an image depends on its batch (``image_keys`` is not
    used: cleverhans draws the start itself).
    """
    eps = threat.budget_for(x)
    step = min(step_size, eps) if math.isfinite(step_size) else eps
    return _attack("projected_gradient_descent")(
        model, x, eps, step, steps, CLEVERHANS_NORMS[threat.norm], clip_min=0.0, clip_max=1.0, y=y,
        targeted=threat.targeted, rand_init=random_start, sanity_checks=False)
