"""Oracle-MNIST: the label-oracle benchmark of the Local Inhibition thesis (§1.3, §4.1.1, Fig. 1.1).

Not the oracle-bone-character dataset that shares the name: here the *oracle* is the label itself,
given to the network as an extra input — the one-hot label repeated ``copies`` times (10 × 10 = 100
inputs in the paper). During training it is the true label (100% predictive); at test time it is a
wrong class for every sample, drawn uniformly from the other ``K − 1`` classes (the paper: "permuted
randomly between all classes except the correct one", so following it scores 0%).

The oracle travels *inside* the input tensor so that batching, the training loop, mechanism
calibration (which samples whole inputs) and attacks work unchanged: a packed input is
``(N, C + 1, H, W)`` uint8 — the image's ``C`` channels, then one *oracle plane* whose first
``copies · K`` pixels (row-major) hold the repeated one-hot code as 0/255 (1.0 after scaling).
``oracle-net`` unpacks it again (:func:`unpack`).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from licli.data.core import Dataset, Split
from licli.errors import LicliError

ORACLE_BASES = {"oracle-mnist": "mnist", "oracle-mnist-mini": "mnist-mini"}
"""Each Oracle dataset name and the dataset it wraps."""
DEFAULT_COPIES = 10
DEFAULT_TEST_SEED = 0
ON = 255


def wrong_labels(labels: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """A wrong class for every label, uniform over the other ``num_classes − 1`` classes.

    ``(y + s) mod K`` with ``s`` uniform in ``1 … K−1`` is a bijection from shifts to wrong classes,
    so each wrong class has probability ``1 / (K − 1)`` and the true class has probability 0.
    """
    if num_classes < 2:
        raise LicliError(f"an oracle that is always wrong needs ≥ 2 classes (got {num_classes})",
                         "use a dataset with at least two classes")
    shift = torch.randint(1, num_classes, labels.shape, generator=generator)
    return (labels + shift.to(labels.device)) % num_classes


def oracle_code(labels: torch.Tensor, num_classes: int, copies: int) -> torch.Tensor:
    """The oracle as float: the one-hot label repeated ``copies`` times → ``(N, copies · K)``."""
    one_hot = torch.nn.functional.one_hot(labels, num_classes).float()
    return one_hot.repeat(1, copies)


def check_capacity(image_size: tuple[int, int], num_classes: int, copies: int) -> None:
    if copies < 1:
        raise LicliError(f"oracle_copies must be ≥ 1 (got {copies})", "pass e.g. oracle_copies=10", field="oracle_copies")
    if copies * num_classes > image_size[0] * image_size[1]:
        raise LicliError(f"{copies} oracle copies × {num_classes} classes do not fit in one "
                         f"{image_size[0]}×{image_size[1]} oracle plane",
                         f"use at most {image_size[0] * image_size[1] // num_classes} copies")


def pack(split: Split, oracle: torch.Tensor | None, num_classes: int, copies: int) -> Split:
    """``split`` with an oracle plane appended: ``oracle`` are the labels it shows, ``None`` = all zero."""
    n, _, height, width = split.images.shape
    check_capacity((height, width), num_classes, copies)
    plane = torch.zeros(n, height * width, dtype=torch.uint8, device=split.images.device)
    if oracle is not None:
        plane[:, :copies * num_classes] = oracle_code(oracle, num_classes, copies).to(torch.uint8) * ON
    images = torch.cat([split.images, plane.view(n, 1, height, width)], dim=1)
    return Split(images, split.labels)


def unpack(x: torch.Tensor, num_classes: int, copies: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A packed batch (float) → ``(image (N, C, H, W), oracle (N, copies · K))``."""
    return x[:, :-1], x[:, -1].flatten(1)[:, :copies * num_classes]


def oracle_test_splits(test: Split, num_classes: int, copies: int, seed: int = DEFAULT_TEST_SEED) -> dict[str, Split]:
    """The three test conditions: ``permuted`` (always-wrong oracle), ``true`` (oracle = label), ``zeroed``."""
    generator = torch.Generator().manual_seed(seed)
    return {
        "permuted": pack(test, wrong_labels(test.labels, num_classes, generator), num_classes, copies),
        "true": pack(test, test.labels, num_classes, copies),
        "zeroed": pack(test, None, num_classes, copies),
    }


def with_oracle(data: Dataset, copies: int = DEFAULT_COPIES, seed: int = DEFAULT_TEST_SEED) -> Dataset:
    """``data`` as Oracle-<name>: train with the true oracle, test with the permuted (always wrong) one."""
    return replace(data, name=f"oracle-{data.name}",
                   train=pack(data.train, data.train.labels, data.num_classes, copies),
                   test=oracle_test_splits(data.test, data.num_classes, copies, seed)["permuted"])


def majority_baseline(labels: torch.Tensor, num_classes: int) -> tuple[int, float]:
    """The paper's "1*" row: the most frequent test class and the accuracy of always answering it."""
    counts = torch.bincount(labels, minlength=num_classes)
    return int(counts.argmax()), float(counts.max()) / max(int(labels.numel()), 1)
