"""How code takes part in training without importing the loop (``licli.training``).

- A mechanism module (or an observer passed to ``train``) may define ``after_optimizer_step(context:
  StepContext)`` (e.g. recalibrating a correlation map, LI Algorithm 1) and ``epoch_statistics() -> dict``
  (values added to the epoch's history row); the loop calls them.
- An ``Objective`` is the loss to minimise (regularizers, the LI data enhancement: ``licli.objectives``).
- A ``Progress`` is told about epochs and steps (the CLI's progress bar, the demo's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from licli.data import Split
from licli.data.core import unit_float


class Objective(Protocol):
    """The loss to minimise: ``(model, x, y, indices) -> (loss, logits)``."""

    def __call__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                 indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


@dataclass
class StepContext:
    """What ``after_optimizer_step`` hooks may use: the step counter and a way to draw training images."""

    model: nn.Module
    epoch: int
    step: int
    train: Split
    generator: torch.Generator

    def sample_images(self, n: int) -> torch.Tensor:
        """``n`` training images (float, [0, 1]) drawn with the training generator, on the data's device."""
        index = torch.randint(len(self.train), (min(n, len(self.train)),), generator=self.generator)
        return unit_float(self.train.images[index.to(self.train.images.device)])


class Progress(Protocol):
    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None: ...
    def advance(self) -> None: ...
    def end_epoch(self, row: dict[str, Any]) -> None: ...
