"""FGSM and PGD as licli's own loops: cleverhans 4.0.0's arithmetic, operation for operation, without
its host syncs.

cleverhans builds scalar tensors on the device in every step (``torch.tensor(1e-12, device=…)`` in
``clip_eta``/``optimize_linear``, ``torch.tensor(clip_min, device=…)`` for checks it then skips) and
asserts on an L2 ``allclose``: each is a host-to-device copy or a read back, a stream sync on CUDA
(4 per PGD step). These loops keep every number on the device and use Python scalars where
cleverhans uses 0-d tensors; the results are bit-identical to cleverhans on the same seed
(``tests/attacks/test_native.py``), which stays the reference backend (``--backend cleverhans``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from licli.attacks.keyed import ImageKeys
from licli.attacks.threat import Threat

AVOID_ZERO_DIV = 1e-12
"""cleverhans's floor under squared norms (``avoid_zero_div``)."""


def _squared_norms(t: torch.Tensor) -> torch.Tensor:
    return torch.sum(t ** 2, list(range(1, t.dim())), keepdim=True)


def clip_to_ball(eta: torch.Tensor, norm: str, eps: float) -> torch.Tensor:
    """cleverhans ``clip_eta``: clamp (L∞) or rescale into the ε-ball (L2)."""
    if norm == "linf":
        return torch.clamp(eta, -eps, eps)
    length = torch.sqrt(torch.clamp(_squared_norms(eta), min=AVOID_ZERO_DIV))
    return eta * torch.clamp(eps / length, max=1.0)


def gradient_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, step: float, norm: str,
                  targeted: bool) -> torch.Tensor:
    """cleverhans ``fast_gradient_method`` with clipping to [0, 1]: ``x`` + ``step`` along the sign (L∞) or
    the normalised direction (L2) of the gradient of the cross-entropy (its negative when ``targeted``)."""
    x = x.detach().to(torch.float).requires_grad_(True)
    loss = F.cross_entropy(model(x), y)
    if targeted:
        loss = -loss
    (gradient,) = torch.autograd.grad(loss, x)
    if norm == "linf":
        direction = torch.sign(gradient)
    else:
        direction = gradient / torch.sqrt(torch.clamp(_squared_norms(gradient), min=AVOID_ZERO_DIV))
    return torch.clamp(x + step * direction, 0.0, 1.0).detach()


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: Threat, *, seed: int) -> torch.Tensor:
    """Fast gradient (sign) method: one step of size ε (L∞: ε·sign ∇; L2: ε·∇/‖∇‖)."""
    return gradient_step(model, x, y, threat.budget_for(x), threat.norm, threat.targeted)


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, threat: Threat, *, seed: int, steps: int = 10,
        step_size: float = 3 / 255, random_start: bool = True, image_keys: ImageKeys | None = None) -> torch.Tensor:
    """Projected gradient descent (Madry et al.): ``steps`` steps of ``min(step_size, ε)``, each followed by
    the projection into the ε-ball and [0, 1]; ``random_start`` draws the start uniformly in the ε-box:
    per image from its keyed generator when ``image_keys`` are given (``licli attack``: independent of the
    batch size and shard), else from torch's global RNG on ``x``'s device (as cleverhans does; the runner
    seeds it)."""
    eps = threat.budget_for(x)
    step = min(step_size, eps) if math.isfinite(step_size) else eps
    if not random_start:
        eta = torch.zeros_like(x)
    elif image_keys is not None:
        eta = image_keys.uniform(tuple(x.shape[1:]), -eps, eps, x.device)
    else:
        eta = torch.zeros_like(x).uniform_(-eps, eps)
    x_adv = torch.clamp(x + clip_to_ball(eta, threat.norm, eps), 0.0, 1.0)
    for _ in range(steps):
        x_adv = gradient_step(model, x_adv, y, step, threat.norm, threat.targeted)
        x_adv = torch.clamp(x + clip_to_ball(x_adv - x, threat.norm, eps), 0.0, 1.0)
    return x_adv
