"""Where an evaluated model comes from. Every evaluation command loads models through ``load_model``.

Today a source is a licli checkpoint; foreign architectures and weights (issue 9) extend
``ModelSource`` and ``load_model`` here, so every command gains them at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class ModelSource:
    checkpoint: str | None = None

    def describe(self) -> str:
        return str(self.checkpoint)


@dataclass
class LoadedModel:
    """A model ready to evaluate (eval mode, on the device) and what the manifest should say of it."""

    model: nn.Module
    label: str
    """Short name for tables and plots (unique among the models of one run)."""
    meta: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)
    """Role → path of every file the model was built from (hashed into the manifest)."""
    dataset: str | None = None
    """The dataset the model was trained on, the default for evaluations."""


def load_model(source: ModelSource, device: torch.device) -> LoadedModel:
    from licli.checkpoints import load_checkpoint

    model, checkpoint = load_checkpoint(source.checkpoint, device)
    label = Path(checkpoint.weights).parent.name if checkpoint.weights.name == "model.safetensors" \
        else checkpoint.weights.stem
    return LoadedModel(model=model, label=label, meta=checkpoint.meta,
                       files={"weights": str(checkpoint.weights), "metadata": str(checkpoint.metadata)},
                       dataset=checkpoint.meta.get("dataset"))


def load_models(sources: list[ModelSource], device: torch.device) -> list[LoadedModel]:
    """Load several models; labels are made unique by suffixing ``#2``, ``#3`` …"""
    loaded = [load_model(source, device) for source in sources]
    seen: dict[str, int] = {}
    for item in loaded:
        seen[item.label] = seen.get(item.label, 0) + 1
        if seen[item.label] > 1:
            item.label = f"{item.label}#{seen[item.label]}"
    return loaded
