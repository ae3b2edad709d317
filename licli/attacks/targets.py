"""Target classes for targeted attacks (PGD-T): never the true class."""

from __future__ import annotations

import torch

from licli.attacks.keyed import ImageKeys


def random_targets(logits: torch.Tensor, labels: torch.Tensor, generator: torch.Generator,
                   image_keys: ImageKeys | None = None) -> torch.Tensor:
    """A uniformly random class other than the label: ``(label + U{1..C−1}) mod C``, the offset drawn per
    image from its keyed generator when ``image_keys`` are given, else from ``generator``."""
    classes = logits.shape[1]
    if image_keys is not None:
        offset = image_keys.integers(1, classes, labels.device)
    else:
        offset = torch.randint(1, classes, labels.shape, generator=generator, device=generator.device)
    return (labels + offset.to(labels.device)) % classes


def least_likely_targets(logits: torch.Tensor, labels: torch.Tensor, generator: torch.Generator,
                         image_keys: ImageKeys | None = None) -> torch.Tensor:
    """The class with the lowest logit on the clean image, the label excluded (Kurakin et al.)."""
    masked = logits.detach().clone()
    masked.scatter_(1, labels.view(-1, 1), float("inf"))
    return masked.argmin(dim=1)


TARGETS = {"random": random_targets, "least-likely": least_likely_targets}
