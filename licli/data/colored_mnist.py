"""Colored MNIST (Arjovsky et al. 2019, "Invariant Risk Minimization", §5.2): a dataset with real environments.

Each MNIST image becomes a two-class, two-colour problem:

1. the clean label is ``1`` for digits 0–4 and ``0`` for 5–9 (``digit < 5``, as the paper's code);
2. the label ``y`` is the clean label flipped with probability 0.25 (so shape predicts ``y`` at 75%);
3. the colour ``c`` is ``y`` flipped with probability ``p_e`` of the image's environment; the image is put
   in channel ``c`` of a 2-channel image (channel 0 red, 1 green) and the other channel is zero.

Training environments: the even-indexed MNIST training images with ``p_e = 0.1`` (environment 0), the odd
ones with ``p_e = 0.2`` (environment 1); the test split is the MNIST test set with ``p_e = 0.9``, where the
colour correlation reverses. Images stay 28×28 (as DomainBed's ``ColoredMNIST``; the paper's code halves them
to 14×14). The draws are seeded (``SEED``), so the dataset is the same on every machine.
``colored-mnist`` is built from the local MNIST files, ``colored-mnist-mini`` from the embedded ``mnist-mini``.
"""

from __future__ import annotations

from pathlib import Path

import torch

from licli.data.core import Dataset, Split
from licli.data.mnist import load_mnist, load_mnist_mini

LABEL_NOISE = 0.25
TRAIN_COLOUR_FLIPS = (0.1, 0.2)
TEST_COLOUR_FLIP = 0.9
SEED = 0
CLASSES = ("digit 5-9", "digit 0-4")


def colour(images: torch.Tensor, digits: torch.Tensor, colour_flip: float, generator: torch.Generator
           ) -> tuple[Split, torch.Tensor]:
    """One environment: the 2-channel images with their noisy binary labels, and the colour of each."""
    n = len(digits)
    clean = (digits < 5).long()
    labels = clean ^ (torch.rand(n, generator=generator) < LABEL_NOISE).long()
    colours = labels ^ (torch.rand(n, generator=generator) < colour_flip).long()
    coloured = torch.zeros((n, 2, *images.shape[2:]), dtype=images.dtype)
    coloured[torch.arange(n), colours] = images[:, 0]
    return Split(coloured, labels), colours


def colored_mnist(base: Dataset, name: str) -> Dataset:
    """Colored MNIST of ``base`` (an MNIST ``Dataset`` with 1-channel images); see the module docstring."""
    generator = torch.Generator().manual_seed(SEED)
    parts = [base.train.subset(torch.arange(start, len(base.train), 2)) for start in (0, 1)]
    environments = [colour(part.images, part.labels, flip, generator)[0]
                    for part, flip in zip(parts, TRAIN_COLOUR_FLIPS)]
    order = torch.cat([torch.arange(start, len(base.train), 2) for start in (0, 1)]).argsort()
    train = Split(torch.cat([e.images for e in environments])[order], torch.cat([e.labels for e in environments])[order])
    labels_of = torch.cat([torch.full((len(e),), k) for k, e in enumerate(environments)])[order]
    test, _ = colour(base.test.images, base.test.labels, TEST_COLOUR_FLIP, generator)
    return Dataset(name=name, train=train, test=test, num_classes=2, classes=CLASSES, files=dict(base.files),
                   environments=labels_of)


def load_colored_mnist(root: Path, download: bool = False) -> Dataset:
    return colored_mnist(load_mnist(root, download), "colored-mnist")


def load_colored_mnist_mini(root: Path | None = None, download: bool = False) -> Dataset:
    return colored_mnist(load_mnist_mini(root, download), "colored-mnist-mini")
