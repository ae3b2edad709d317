"""``mnist-loc``: a localisation set of real MNIST digits on a cluttered 64×64 canvas, with exact boxes.

Each digit of the embedded ``mnist-mini`` sample (training digits for the training split, test digits
for the test split, so no digit appears in both) is resized to a seeded random size in [20, 40] pixels
(bilinear, antialiased) and pasted at a seeded random position. Clutter: ``fragments`` crops (10–14 px)
of other digits of the same split, placed where they do not touch the target's box (up to 20 tries
each, else left out), then uniform noise in [0, noise·255] on every pixel. The box is the tight
inclusive box of the pasted digit's non-zero pixels, so it contains all of them.

Built from the embedded sample (no data root, no download) and fully determined by the seed; the
full MNIST is not used because 12,000 canvases are enough for CPU-sized localisation studies and the
set is then identical on every machine. Generation takes about a second and is cached per process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from licli.data.boxes import BoxedDataset
from licli.data.core import Split
from licli.data.mnist import MNIST_CLASSES, load_mnist_mini

CANVAS = 64
SCALE_RANGE = (20, 40)
FRAGMENT_RANGE = (10, 14)
FRAGMENTS = 3
NOISE = 0.15
SEED = 0


@dataclass(frozen=True)
class Rendered:
    images: torch.Tensor
    """uint8 (N, 1, canvas, canvas)"""
    labels: torch.Tensor
    boxes: torch.Tensor
    """int64 (N, 4) inclusive (x0, y0, x1, y1)"""
    digits: torch.Tensor
    """uint8 (N, canvas, canvas): the pasted digit alone, without clutter or noise"""


def _resized(digits: torch.Tensor, sizes: np.ndarray) -> list[torch.Tensor]:
    """Each digit (28×28 uint8) resized to its size, grouped by size so each group is one batched call."""
    out: list[torch.Tensor | None] = [None] * len(sizes)
    for size in np.unique(sizes):
        index = np.flatnonzero(sizes == size)
        batch = digits[torch.from_numpy(index)].float().unsqueeze(1)
        scaled = F.interpolate(batch, size=(int(size), int(size)), mode="bilinear", align_corners=False,
                               antialias=True).round().clamp(0, 255).to(torch.uint8).squeeze(1)
        for i, image in zip(index, scaled):
            out[i] = image
    return out  # type: ignore[return-value]


def _overlaps(y: int, x: int, size: int, box: tuple[int, int, int, int]) -> bool:
    x0, y0, x1, y1 = box
    return not (x + size - 1 < x0 or x > x1 or y + size - 1 < y0 or y > y1)


def render_mnist_loc(digits: torch.Tensor, labels: torch.Tensor, seed: int, *, canvas: int = CANVAS,
                     scale_range: tuple[int, int] = SCALE_RANGE, fragments: int = FRAGMENTS,
                     fragment_range: tuple[int, int] = FRAGMENT_RANGE, noise: float = NOISE) -> Rendered:
    """One canvas per digit of ``digits`` (uint8 (N, 28, 28)); deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    sizes = rng.integers(scale_range[0], scale_range[1] + 1, n)
    scaled = _resized(digits, sizes)
    source = digits.numpy()
    layers = np.zeros((n, canvas, canvas), dtype=np.uint8)
    images = np.zeros((n, canvas, canvas), dtype=np.uint8)
    boxes = np.zeros((n, 4), dtype=np.int64)
    for i in range(n):
        size = int(sizes[i])
        y, x = (int(v) for v in rng.integers(0, canvas - size + 1, 2))
        layers[i, y:y + size, x:x + size] = scaled[i].numpy()
        rows, cols = np.flatnonzero(layers[i].any(1)), np.flatnonzero(layers[i].any(0))
        box = (int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1]))
        boxes[i] = box
        clutter = np.zeros((canvas, canvas), dtype=np.uint8)
        for _ in range(fragments):
            other = source[int(rng.integers(n))]
            part = int(rng.integers(fragment_range[0], fragment_range[1] + 1))
            cy, cx = (int(v) for v in rng.integers(4, 24 - part + 1, 2)) if part <= 20 else (0, 0)
            for _try in range(20):
                fy, fx = (int(v) for v in rng.integers(0, canvas - part + 1, 2))
                if not _overlaps(fy, fx, part, box):
                    region = clutter[fy:fy + part, fx:fx + part]
                    np.maximum(region, other[cy:cy + part, cx:cx + part], out=region)
                    break
        speckle = rng.uniform(0, noise * 255, (canvas, canvas))
        images[i] = np.clip(np.maximum(layers[i], clutter) + speckle, 0, 255).astype(np.uint8)
    return Rendered(torch.from_numpy(images).unsqueeze(1), labels.clone(), torch.from_numpy(boxes),
                    torch.from_numpy(layers))


@functools.lru_cache(maxsize=2)
def _build(seed: int) -> BoxedDataset:
    mini = load_mnist_mini()
    train = render_mnist_loc(mini.train.images.squeeze(1), mini.train.labels, seed)
    test = render_mnist_loc(mini.test.images.squeeze(1), mini.test.labels, seed + 1)
    return BoxedDataset(name="mnist-loc", train=Split(train.images, train.labels),
                        test=Split(test.images, test.labels), num_classes=10, classes=MNIST_CLASSES,
                        files=dict(mini.files), train_boxes=train.boxes, test_boxes=test.boxes)


def load_mnist_loc(root: Path | None = None, download: bool = False) -> BoxedDataset:
    """The ``mnist-loc`` set (10,000 train / 2,000 test canvases with boxes), seed 0."""
    return _build(SEED)
