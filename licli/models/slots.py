"""Named places in a model where a mechanism can be inserted (identity until filled)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from licli.errors import LicliError
from licli.mechanisms import MECHANISMS
from licli.registry import pick


@dataclass(frozen=True)
class MechanismSpec:
    """A mechanism by registry name with its keyword arguments, as stored in checkpoints."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MechanismSpec":
        return cls(name=data["name"], params=dict(data.get("params", {})))


class Slot(nn.Module):
    """Identity, or the mechanism module inserted into it. ``slot_name`` is the name users pass."""

    def __init__(self, slot_name: str) -> None:
        super().__init__()
        self.slot_name = slot_name
        self.mechanism: nn.Module = nn.Identity()

    def forward(self, x):
        return self.mechanism(x)

    def extra_repr(self) -> str:
        return f"slot={self.slot_name!r}"


def model_slots(model: nn.Module) -> dict[str, Slot]:
    """The model's slots by name, in forward order of definition."""
    return {module.slot_name: module for module in model.modules() if isinstance(module, Slot)}


def insert_mechanisms(model: nn.Module, mechanisms: Mapping[str, MechanismSpec]) -> nn.Module:
    """Fill slots with modules built from ``MECHANISMS``; a key is a slot name or a glob pattern
    (``layer[123].*`` fills every matching slot, each with its own module). Unmatched keys are an error.
    A mechanism with a ``slot_name`` attribute is told its slot (it prefixes its statistics with it)."""
    from fnmatch import fnmatchcase

    slots = model_slots(model)
    for pattern, spec in mechanisms.items():
        names = [name for name in slots if fnmatchcase(name, pattern)]
        if not names:
            raise LicliError(f"model has no slot {pattern!r}",
                             f"choose from: {', '.join(slots) or '(this model has no slots)'}")
        factory = pick(MECHANISMS, spec.name, "mechanism")
        for slot_name in names:
            try:
                module = factory(**spec.params)
            except TypeError as error:
                raise LicliError(f"bad parameters for mechanism {spec.name!r}: {error}",
                                 "see docs/mechanisms.md for its parameters") from None
            if hasattr(module, "slot_name"):
                module.slot_name = slot_name
            slots[slot_name].mechanism = module
    return model
