"""Deliberately gradient-masked models, as ``--model-def`` imports them (tests only).

Each subclasses ``TinyNet``, so one state dict of a trained ``TinyNet`` loads into every one of them:
the decisions are the plain model's, only what the attacks see of the gradients differs.
"""

import torch

from tiny_net import TinyNet  # noqa: F401 - also importable from this file


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
