"""The model registry. ``MODELS`` maps a name to a builder; ``build_model`` adds mechanisms to slots."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from licli.errors import LicliError
from licli.models import zoo
from licli.models.oracle_net import OracleNet
from licli.models.slots import MechanismSpec, Slot, insert_mechanisms, model_slots
from licli.registry import pick

MODELS = {
    "mlp": zoo.mlp,
    "small-cnn": zoo.small_cnn,
    "vgg16": zoo.vgg16,
    "resnet18": zoo.resnet18,
    "gap-cnn": zoo.gap_cnn,
    "oracle-net": OracleNet,
}


@dataclass(frozen=True)
class ModelSpec:
    """Everything needed to rebuild a model exactly; stored in checkpoint metadata."""

    name: str
    num_classes: int
    in_channels: int
    image_size: tuple[int, int]
    options: dict[str, Any] = field(default_factory=dict)
    mechanisms: dict[str, MechanismSpec] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "num_classes": self.num_classes, "in_channels": self.in_channels,
                "image_size": list(self.image_size), "options": dict(self.options),
                "mechanisms": {slot: spec.to_dict() for slot, spec in self.mechanisms.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelSpec":
        return cls(name=data["name"], num_classes=int(data["num_classes"]),
                   in_channels=int(data["in_channels"]), image_size=tuple(data["image_size"]),
                   options=dict(data.get("options", {})),
                   mechanisms={slot: MechanismSpec.from_dict(spec)
                               for slot, spec in data.get("mechanisms", {}).items()})


def build_model(spec: ModelSpec) -> nn.Module:
    builder = pick(MODELS, spec.name, "model")
    try:
        model = builder(spec.num_classes, spec.in_channels, tuple(spec.image_size), **spec.options)
    except (TypeError, ValueError, RuntimeError) as error:  # e.g. a negative width: torch refuses the tensor
        raise LicliError(f"bad options for model {spec.name!r} (num_classes={spec.num_classes}, options="
                         f"{dict(spec.options)}): {' '.join(str(error).split())}", "check model_options=…",
                         field="model_options") from None
    return insert_mechanisms(model, spec.mechanisms)


__all__ = ["MODELS", "MechanismSpec", "ModelSpec", "Slot", "build_model", "model_slots"]
