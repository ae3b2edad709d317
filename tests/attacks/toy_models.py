"""Small models with known behaviour under attack: a linear plain model and deliberately masked ones."""

from __future__ import annotations

import torch
from torch import nn

from licli.data import Split


class CentroidModel(nn.Module):
    """Nearest class centre on the mean brightness, written as a linear model: logit_k = s(2c_k·m − c_k²).

    ``tiny_dataset`` labels are recoverable from the mean brightness with centres c_k = (k + ½)/K.
    Linear, so FGSM's closed form is ε·sign(w_y' − w_y) and every attack behaves honestly.
    """

    def __init__(self, num_classes: int, scale: float = 20.0) -> None:
        super().__init__()
        centres = (torch.arange(num_classes, dtype=torch.float32) + 0.5) / num_classes
        self.weight = nn.Parameter(scale * 2 * centres)
        self.bias = nn.Parameter(-scale * centres**2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.flatten(1).mean(dim=1, keepdim=True)
        return mean * self.weight + self.bias


class QuantisedInput(nn.Module):
    """Masked: rounds its input to a few levels first, so every input gradient is zero (red flags 2, 3, 5–7)."""

    def __init__(self, model: nn.Module, levels: int = 4) -> None:
        super().__init__()
        self.model = model
        self.levels = levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(torch.round(x * self.levels) / self.levels)


class TrapModel(nn.Module):
    """Masked: a loss landscape shaped to trap small steps (red flags 1 and 4).

    The model memorises images; for input x it finds the nearest memorised x0 (label y0) and returns
    logit m(t) for y0 and 0 elsewhere, where t = mean((x − x0)·v)/E for a fixed ±1 pattern v, and m is
    piecewise linear through ``knots``. FGSM and PGD move t by ±step/E per step.
    """

    def __init__(self, split: Split, num_classes: int, knots: list[tuple[float, float]], scale: float,
                 seed: int = 0) -> None:
        super().__init__()
        self.register_buffer("memory", split.images.float() / 255)
        self.register_buffer("memory_labels", split.labels)
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("pattern", torch.randint(0, 2, split.images.shape[1:], generator=generator) * 2.0 - 1)
        self.register_buffer("knot_t", torch.tensor([k[0] for k in knots]))
        self.register_buffer("knot_m", torch.tensor([k[1] for k in knots]))
        self.num_classes = num_classes
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        distances = torch.cdist(x.flatten(1), self.memory.flatten(1), p=float("inf"))
        nearest = distances.argmin(dim=1)
        t = ((x - self.memory[nearest]) * self.pattern).flatten(1).mean(dim=1) / self.scale
        segment = (torch.searchsorted(self.knot_t, t.detach().contiguous()) - 1).clamp(0, len(self.knot_t) - 2)
        t0, t1 = self.knot_t[segment], self.knot_t[segment + 1]
        m0, m1 = self.knot_m[segment], self.knot_m[segment + 1]
        margin = m0 + (m1 - m0) / (t1 - t0) * (t - t0)
        onehot = nn.functional.one_hot(self.memory_labels[nearest], self.num_classes).to(x.dtype)
        return 4 * margin.unsqueeze(1) * onehot


FGSM_TRAP = [(-2.0, 3.0), (0.0, 1.0), (0.2, 0.8), (0.8, 1.4), (1.0, -0.6), (2.0, -0.6)]
"""m falls at t = 0, rises on (0.2, 0.8): PGD steps of 3/8 of ε oscillate 0 ↔ 0.375; FGSM jumps to t = 1."""
EPS_TRAP = [(-2.0, 7.0), (0.0, 1.0), (0.5, -0.5), (1.0, 1.0), (3.0, 7.0)]
"""m < 0 only around t = ½: PGD at ε/2 fools the model, PGD at ε and 2ε ends robust."""


def separated_split(n: int = 24, num_classes: int = 4, size: int = 8, seed: int = 0) -> Split:
    """Images far apart in L∞ (uniform in [0.3, 0.7]), so small perturbations keep their nearest neighbour."""
    generator = torch.Generator().manual_seed(seed)
    images = (torch.rand(n, 1, size, size, generator=generator) * 0.4 + 0.3) * 255
    return Split(images.round().to(torch.uint8), torch.arange(n) % num_classes)


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):  # noqa: D102
        return x.clone()

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        return -grad


class ReversedGradient(nn.Module):
    """Masked: the input gradient points the wrong way (forward identity, backward −identity), so
    white-box attacks walk away from the boundary while black-box and random search do not."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(_Reverse.apply(x))


class FirstPixel(nn.Module):
    """Reads only the top-left pixel (so random noise moves its decision as much as any attack)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x[:, :, :1, :1])
