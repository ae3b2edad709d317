"""Random draws keyed by (seed, image): the same numbers for an image whatever batch or shard it is in.

Each image's draws come from numpy's counter-based Philox generator keyed by the 128-bit word
``stream · 2⁹⁶ + seed · 2⁶⁴ + image index`` (``seed`` < 2³², ``licli.runtime.check_seed``), so PGD's random
start and PGD-T's random target of an image depend on ``--seed`` and on the image's index in the dataset,
not on ``--batch-size``, ``--shard`` or the device (the numbers are drawn on the CPU and copied, pinned and
non-blocking, to the device: no host sync, and the same on every GPU model).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from licli.runtime import to_device_async

START_STREAM = 0
"""PGD's random start."""
TARGET_STREAM = 1
"""PGD-T's random target class."""


@dataclass(frozen=True)
class ImageKeys:
    """The run's ``seed`` and the dataset index of each image of a batch (``keys[i]`` for ``x[i]``)."""

    seed: int
    indices: tuple[int, ...]

    def generator(self, index: int, stream: int) -> np.random.Generator:
        """Image ``index``'s generator for ``stream`` (independent streams for the start and the target)."""
        return np.random.Generator(np.random.Philox(key=(stream << 96) | (self.seed << 64) | index))

    def uniform(self, shape: tuple[int, ...], low: float, high: float, device: torch.device) -> torch.Tensor:
        """One float32 draw of ``shape`` per image, uniform in [low, high) (``len(indices)`` × shape)."""
        draws = np.stack([self.generator(i, START_STREAM).random(shape, dtype=np.float32) for i in self.indices])
        return to_device_async(torch.from_numpy(draws * np.float32(high - low) + np.float32(low)), device)

    def integers(self, low: int, high: int, device: torch.device) -> torch.Tensor:
        """One integer per image, uniform in [low, high)."""
        draws = [int(self.generator(i, TARGET_STREAM).integers(low, high)) for i in self.indices]
        return to_device_async(torch.tensor(draws, dtype=torch.long), device)
