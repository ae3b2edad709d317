"""Loading a state dict into a model strictly, with errors that name every tensor that does not fit."""

from __future__ import annotations

import torch
from torch.nn.parameter import is_lazy

from licli.errors import LicliError


def compact_keys(keys: list[str]) -> str:
    """Name every key, grouping siblings: ``bn1.weight, bn1.bias`` → ``bn1.{weight,bias}``."""
    groups: dict[str, list[str]] = {}
    for key in keys:
        parent, _, leaf = key.rpartition(".")
        groups.setdefault(parent, []).append(leaf)
    return ", ".join(f"{parent}.{{{','.join(leaves)}}}" if parent and len(leaves) > 1
                     else (f"{parent}.{leaves[0]}" if parent else leaves[0])
                     for parent, leaves in groups.items())


def load_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load ``state`` into ``model``, naming every missing, unexpected or mis-shaped tensor.

    Lazily sized tensors (torch's lazy modules, e.g. a Local Inhibition map) take the checkpoint's shape."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [f"{k} {tuple(state[k].shape)} vs model {tuple(v.shape)}" for k, v in expected.items()
              if k in state and not is_lazy(v) and state[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(f"missing ({len(missing)}): {compact_keys(missing)}")
    if unexpected:
        problems.append(f"unexpected ({len(unexpected)}): {compact_keys(unexpected)}")
    if shapes:
        problems.append(f"mis-shaped ({len(shapes)}): {', '.join(shapes)}")
    if problems:
        raise LicliError(f"weights in {source} do not fit the model ({len(expected)} tensors): {'; '.join(problems)}",
                         "use the weights made for this architecture (check the model and its options, "
                         "or map key prefixes with renames=OLD=NEW)", field="renames")
    model.load_state_dict(state, strict=True)
