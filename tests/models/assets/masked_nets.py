"""Deliberately gradient-masked models, as ``--model-def`` imports them (tests only).

Each subclasses ``TinyNet``, so one state dict of a trained ``TinyNet`` loads into every one of them:
the decisions are the plain model's, only what the attacks see of the gradients differs.
"""

import torch
from torch import nn


class TinyNet(nn.Module):
    """The plain model (tests/models/assets/tiny_net.py's, repeated: a definition file stands alone)."""

    def __init__(self, hidden: int = 16, num_classes: int = 10, in_features: int = 28 * 28) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU())
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))


class SoftmaxOutput(TinyNet):
    """Returns probabilities: cross-entropy on them has vanishing gradients."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).softmax(-1)


class ScaledSoftmax(TinyNet):
    """Probabilities × 10: escapes a sums-to-one test but saturates like a softmax output."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 10 * super().forward(x).softmax(-1)


class QuantisedInput(TinyNet):
    """A step function on the input (4 grey levels): every input gradient is exactly zero."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(torch.round(x * 4) / 4)


class NoisyForward(TinyNet):
    """Noise in the forward pass, in eval mode too (a randomised defence)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = super().forward(x)
        return logits + torch.randn_like(logits)


class _Reverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):  # noqa: D102
        return x.clone()

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        return -grad


class ShatteredGradient(TinyNet):
    """A custom backward that lies: forward identity, backward −identity (the gradient points away)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(_Reverse.apply(x))


class SaturatedSoftmax(TinyNet):
    """Probabilities of 20× sharpened logits, × 10: float32 rounds most of them to exactly 0 or 1, so the
    input gradient vanishes exactly (the masking a softmax output causes on a confident model)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 10 * (20 * super().forward(x)).softmax(-1)
