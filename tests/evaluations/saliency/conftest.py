"""Tiny models for the saliency tests."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from licli.models.slots import Slot


def tiny_conv_net(classes: int = 5) -> nn.Module:
    """Conv → ReLU → stride-2 conv → ReLU → stride-2 conv → ReLU → GAP → linear (slots a1, a2, a3)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), Slot("a1"),
                         nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(), Slot("a2"),
                         nn.Conv2d(16, 16, 3, stride=2, padding=1), nn.ReLU(), Slot("a3"),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, classes)).eval()


@pytest.fixture
def conv_net() -> nn.Module:
    return tiny_conv_net()


@pytest.fixture
def batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(6, 1, 30, 30, generator=g), torch.randint(5, (6,), generator=g)
