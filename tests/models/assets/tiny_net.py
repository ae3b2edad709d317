"""A user's model definition file, as ``--model-def`` imports it (tests only)."""

import torch
from torch import nn


class TinyNet(nn.Module):
    def __init__(self, hidden: int = 8, num_classes: int = 10, in_features: int = 28 * 28) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(in_features, hidden), nn.ReLU())
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.body(x))


class SoftmaxNet(TinyNet):
    """Returns probabilities: licli must refuse to evaluate it as if they were logits."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x).softmax(-1)


def tiny_net(hidden: int = 8) -> TinyNet:
    return TinyNet(hidden=hidden)
