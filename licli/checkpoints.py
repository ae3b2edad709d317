"""Checkpoints: safetensors weights + JSON metadata. Never unpickled, loaded strictly, hash-checked.

A checkpoint is a pair ``<stem>.safetensors`` + ``<stem>.json``. Users may name either file, the
stem, or a run folder holding ``model.safetensors``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch.nn.parameter import is_lazy

from licli import __version__
from licli.errors import LicliError
from licli.models import ModelSpec, build_model
from licli.reporting.files import atomic_write_bytes, atomic_write_json
from licli.runtime import sha256_file

FORMAT = "licli-checkpoint"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    weights: Path
    metadata: Path
    meta: dict[str, Any]

    @property
    def spec(self) -> ModelSpec:
        return ModelSpec.from_dict(self.meta["model"])


def checkpoint_paths(path: str | Path) -> tuple[Path, Path]:
    """Resolve what the user named into (weights, metadata) paths."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "model.safetensors"
    if path.suffix in (".safetensors", ".json"):
        stem = path.with_suffix("")
    else:
        stem = path
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def save_checkpoint(path: str | Path, model: torch.nn.Module, spec: ModelSpec,
                    extra: dict[str, Any] | None = None) -> Checkpoint:
    """Write weights atomically, then metadata holding their sha256 (so a torn pair is detected)."""
    weights, metadata = checkpoint_paths(path)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    blob = save(state, metadata={"format": FORMAT})
    atomic_write_bytes(weights, blob)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "licli_version": __version__,
            "weights_file": weights.name, "weights_sha256": sha256_file(weights),
            "model": spec.to_dict(), **(extra or {})}
    atomic_write_json(metadata, meta)
    return Checkpoint(weights, metadata, meta)


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate the metadata and weights hash, without building the model."""
    weights, metadata = checkpoint_paths(path)
    if not weights.exists():
        raise LicliError(f"checkpoint weights not found: {weights}",
                         "pass the .safetensors file (or run folder) written by `licli train`")
    if not metadata.exists():
        raise LicliError(f"checkpoint metadata not found: {metadata} (expected beside {weights.name})",
                         "keep the .json written by `licli train` next to the weights, or use `licli import`")
    try:
        meta = json.loads(metadata.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise LicliError(f"checkpoint metadata {metadata} is not valid JSON ({error})",
                         "restore the file from the run folder or retrain") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or "model" not in meta:
        raise LicliError(f"{metadata} is not a licli checkpoint metadata file",
                         "pass a checkpoint written by `licli train` or `licli import`")
    actual = sha256_file(weights)
    if actual != meta.get("weights_sha256"):
        raise LicliError(f"checkpoint weights {weights} do not match their metadata (sha256 {actual[:12]}… "
                         f"expected {str(meta.get('weights_sha256'))[:12]}…): the file is corrupt, truncated or replaced",
                         "restore the original file or retrain")
    return Checkpoint(weights, metadata, meta)


def load_state(weights: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(weights))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise LicliError(f"cannot read weights {weights} ({error})",
                         "the file is corrupt or not safetensors; restore it or retrain") from None


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
        problems.append(f"missing {', '.join(missing[:8])}{' …' if len(missing) > 8 else ''}")
    if unexpected:
        problems.append(f"unexpected {', '.join(unexpected[:8])}{' …' if len(unexpected) > 8 else ''}")
    if shapes:
        problems.append(f"mis-shaped {', '.join(shapes[:8])}{' …' if len(shapes) > 8 else ''}")
    if problems:
        raise LicliError(f"weights in {source} do not fit the model: {'; '.join(problems)}",
                         "use the checkpoint made for this architecture (check --model and its options)")
    model.load_state_dict(state, strict=True)


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, Checkpoint]:
    """Rebuild the model from metadata, load its weights strictly, return it in eval mode on ``device``."""
    checkpoint = read_checkpoint(path)
    try:
        spec = checkpoint.spec
    except (KeyError, TypeError, ValueError) as error:
        raise LicliError(f"checkpoint metadata {checkpoint.metadata} has a malformed model entry ({error})",
                         "restore the file from the run folder or retrain") from None
    model = build_model(spec)
    load_strict(model, load_state(checkpoint.weights), str(checkpoint.weights))
    return model.to(device).eval(), checkpoint
