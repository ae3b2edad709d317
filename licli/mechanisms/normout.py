"""NormOut (NormOut thesis §2.2), plain Dropout, and an activation recorder, as model-slot modules.

NormOut keeps neuron i of input j with probability p_i^j computed from the activation magnitude
|O_i^j| relative to a maximum μ, then multiplies by a Bernoulli(p) mask:

- ``temporal-max``        p = |O_i^j| / max_j |O_i^j|      (max over the batch, per neuron, §2.2.1)
- ``spatial-max``         p = |O_i^j| / max_i |O_i^j|      (max over the layer, per input, §2.2.2)
- ``spatiotemporal-max``  p = |O_i^j| / max_ij |O_i^j|     (max over both, §2.2.3)
- ``temporal-exp``, ``spatial-exp``, ``spatiotemporal-exp``: the thesis's "Softmax" forms (§2.2.4)
  p = exp(|O|/T) / exp(max μ / T) = exp((|O| − max μ)/T), with the same three maxima and a float
  temperature T. This is a ratio to the maximum's exponential, not a softmax over neurons (it does
  not sum to 1), hence the name.

Axes, explicitly: a (N, F) tensor has N inputs and F neurons. A (N, C, H, W) tensor is read as N
inputs of C·H·W neurons (every channel at every position is a neuron): temporal = max over N for each
(c, h, w), spatial = max over (C, H, W) for each input, spatiotemporal = max over the whole tensor.
(The released code took different axes in different files: per pixel on 4-D conv tensors, global on
2-D classifier tensors, per channel in a later fork; licli's choice is listed in docs/decisions.md.)

A maximum of 0 (an all-zero slice) gives p = 0 (0/0 = 0: there is nothing to keep). Kept activations
are not rescaled (the thesis: the mask "only determines whether the neuron is zeroed ... or left
untouched"); ``rescale=True`` divides kept activations by p like inverted dropout. In eval mode the
layer is the identity. The mask uses torch's global generator (seeded by the training loop).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from licli.errors import LicliError
from licli.mechanisms.correlation import safe_divide
from licli.mechanisms.statistics import ActivationStatistics

MAX_DIMS: dict[str, Callable[[torch.Tensor], tuple[int, ...]]] = {
    "temporal": lambda x: (0,),
    "spatial": lambda x: tuple(range(1, x.dim())),
    "spatiotemporal": lambda x: tuple(range(x.dim())),
}
FORMS = ("max", "exp")
VARIANTS = tuple(f"{axes}-{form}" for axes in MAX_DIMS for form in FORMS)


def keep_probability(x: torch.Tensor, variant: str = "temporal-max", temperature: float = 1.0) -> torch.Tensor:
    """NormOut's keep probability p for every element of ``x`` (see the module docstring)."""
    axes, form = variant.rsplit("-", 1)
    magnitude = x.detach().abs()
    maximum = magnitude.amax(dim=MAX_DIMS[axes](x), keepdim=True)
    if form == "max":
        return safe_divide(magnitude, maximum)
    return torch.exp((magnitude - maximum) / temperature)


def normout(x: torch.Tensor, variant: str = "temporal-max", temperature: float = 1.0, rescale: bool = False,
            training: bool = True) -> torch.Tensor:
    """x ⊙ Bernoulli(p) (÷ p where kept, with ``rescale``); the identity when not ``training``."""
    if not training:
        return x
    p = keep_probability(x, variant, temperature)
    mask = torch.bernoulli(p)
    if rescale:
        mask = safe_divide(mask, p)
    return x * mask


class _Recorded(nn.Module):
    """A slot module that records statistics of its output in training mode (Tables 3.2–3.3)."""

    def __init__(self) -> None:
        super().__init__()
        self.slot_name = type(self).__name__.lower()
        self.statistics = ActivationStatistics()

    def record(self, out: torch.Tensor) -> torch.Tensor:
        if self.training:
            self.statistics.update(out)
        return out

    def epoch_statistics(self) -> dict[str, float]:
        return self.statistics.summary(self.slot_name)


class NormOut(_Recorded):
    def __init__(self, variant: str = "temporal-max", temperature: float = 1.0, rescale: bool = False) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise LicliError(f"unknown NormOut variant {variant!r}", f"choose one of: {', '.join(VARIANTS)}")
        if not float(temperature) > 0:
            raise LicliError(f"NormOut temperature must be > 0 (got {temperature})", "pass e.g. temperature=100.0")
        self.variant = variant
        self.temperature = float(temperature)
        self.rescale = bool(rescale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.record(normout(x, self.variant, self.temperature, self.rescale, self.training))

    def extra_repr(self) -> str:
        return f"variant={self.variant!r}, temperature={self.temperature}, rescale={self.rescale}"


class Dropout(_Recorded):
    """Standard (inverted) Dropout, the thesis's comparison model (§2.3.1, p = 0.5)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise LicliError(f"dropout p must be in [0, 1) (got {p})", "pass e.g. p=0.5")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.record(F.dropout(x, self.p, self.training))

    def extra_repr(self) -> str:
        return f"p={self.p}"


class ActivationRecorder(_Recorded):
    """The identity, recording the statistics of a slot without a mechanism (the tables' baseline rows)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.record(x)
