"""Checkpoints: safetensors weights + JSON metadata. Never unpickled, loaded strictly, hash-checked.

A checkpoint is a pair ``<stem>.safetensors`` + ``<stem>.json``. Users may name either file, the
stem, or a run folder holding ``model.safetensors``. A checkpoint of the user's own model class
(``licli import``) adds ``<stem>.def.py``, the definition file, pinned by its sha256 in the metadata.

Loading a checkpoint never runs code from it unless the caller says the user trusts it
(``trust_definition``, the ``--trust-definition`` flag): the definition is looked up only beside the
checkpoint (a bare file name, never a path), and its sha256 must be recorded and must match.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from licli.errors import LicliError
from licli.io import atomic_write_bytes, to_json
from licli.models import ModelSpec, build_model
from licli.models.foreign import ForeignSpec, build_foreign
from licli.models.weights import compact_keys, load_strict
from licli.registry import pick
from licli.runtime import sha256_file
from licli.version import __version__

FORMAT = "licli-checkpoint"
FORMAT_VERSION = 1
DEFINITION_SUFFIX = ".def.py"
SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Checkpoint:
    weights: Path
    metadata: Path
    meta: dict[str, Any]
    metadata_sha256: str
    """The sha256 of the metadata file as written or read (the weights' is ``meta["weights_sha256"]``, checked)."""

    @property
    def weights_sha256(self) -> str:
        return self.meta["weights_sha256"]

    @property
    def spec(self) -> ModelSpec:
        """The licli architecture of this checkpoint (a foreign model, from ``licli import``, has none)."""
        if self.meta["model"].get("kind", "licli") != "licli":
            raise LicliError(f"{self.weights} holds a foreign model ({self.meta['model'].get('name')}), "
                             "not a licli architecture", "use a checkpoint written by `licli train`")
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


def definition_path(weights: Path) -> Path:
    """Where ``licli import`` keeps the model definition file of the checkpoint ``weights``: ``<stem>.def.py``."""
    return weights.with_name(weights.name.removesuffix(".safetensors") + DEFINITION_SUFFIX)


def save_checkpoint(path: str | Path, model: torch.nn.Module, spec: ModelSpec | ForeignSpec,
                    extra: dict[str, Any] | None = None) -> Checkpoint:
    """Write weights atomically, then metadata holding their sha256 (so a torn pair is detected)."""
    weights, metadata = checkpoint_paths(path)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    blob = save(state, metadata={"format": FORMAT})
    atomic_write_bytes(weights, blob)
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "licli_version": __version__,
            "weights_file": weights.name, "weights_sha256": hashlib.sha256(blob).hexdigest(),
            "model": spec.to_dict(), **(extra or {})}
    text = to_json(meta).encode("utf-8")
    atomic_write_bytes(metadata, text)
    return Checkpoint(weights, metadata, meta, hashlib.sha256(text).hexdigest())


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate the metadata and weights hash, without building the model."""
    weights, metadata = checkpoint_paths(path)
    if not weights.exists():
        raise LicliError(f"checkpoint weights not found: {weights}",
                         "pass the .safetensors file (or run folder) written by `licli train`")
    if not metadata.exists():
        raise LicliError(f"checkpoint metadata not found: {metadata} (expected beside {weights.name})",
                         "keep the .json written by `licli train` next to the weights, or use `licli import`")
    text = metadata.read_bytes()
    try:
        meta = json.loads(text)
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
    return Checkpoint(weights, metadata, meta, hashlib.sha256(text).hexdigest())


def load_state(weights: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(weights))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise LicliError(f"cannot read weights {weights} ({error})",
                         "the file is corrupt or not safetensors; restore it or retrain") from None


def check_finite(state: dict[str, torch.Tensor], source: str) -> None:
    """Refuse weights holding NaN or ±inf (a diverged training run): every prediction would be meaningless."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise LicliError(f"weights in {source} hold NaN or infinite values in {len(bad)} of {len(state)} tensors "
                         f"({compact_keys(bad[:6])}{', …' if len(bad) > 6 else ''}): the model is broken "
                         "(its training diverged)", "retrain it (e.g. with a lower lr=…) or use another checkpoint",
                         field="lr")


def _rebuild_licli(entry: dict[str, Any], checkpoint: Checkpoint, trust_definition: bool) -> torch.nn.Module:
    spec = ModelSpec.from_dict(entry)
    sizes = {"num_classes": spec.num_classes, "in_channels": spec.in_channels,
             **{f"image_size[{i}]": size for i, size in enumerate(spec.image_size)}}
    wrong = {key: value for key, value in sizes.items() if not isinstance(value, int) or value < 1}
    if len(spec.image_size) != 2 or wrong:
        raise LicliError(f"checkpoint metadata {checkpoint.metadata} gives impossible sizes "
                         f"({', '.join(f'{k}={v}' for k, v in wrong.items()) or f'image_size={list(spec.image_size)}'})",
                         "restore the file from the run folder or retrain")
    return build_model(spec)


def trusted_definition(spec: ForeignSpec, checkpoint: Checkpoint, trust_definition: bool) -> ForeignSpec:
    """``spec`` with its definition resolved beside the checkpoint, once every safety rule holds."""
    file, _, name = spec.target.rpartition(":")
    where = checkpoint.metadata
    refit = ("re-run `licli import --model-def FILE.py:NAME --weights … --out …` to write a checkpoint that "
             "keeps its definition beside it")
    if not file or Path(file).name != file or file in (".", ".."):
        raise LicliError(f"checkpoint metadata {where} names its model definition by a path ({file!r}); licli "
                         "only runs a definition file kept beside the checkpoint", refit)
    if not isinstance(spec.definition_sha256, str) or not SHA256.fullmatch(spec.definition_sha256):
        raise LicliError(f"checkpoint metadata {where} does not pin its model definition {file} by sha256", refit)
    path = where.parent / file
    if not path.is_file():
        raise LicliError(f"the model definition {path} of checkpoint {checkpoint.weights} is missing",
                         f"keep {file} (written by `licli import`) beside the checkpoint")
    if not trust_definition:
        raise LicliError(f"checkpoint {checkpoint.weights} is a model of your own class: loading it runs the Python "
                         f"code in {path}", "if you trust that file, pass trust_definition=True",
                         field="trust_definition")
    return replace(spec, target=f"{path}:{name}")


def _rebuild_foreign(entry: dict[str, Any], checkpoint: Checkpoint, trust_definition: bool) -> torch.nn.Module:
    spec = ForeignSpec.from_dict(entry)
    if spec.kind == "definition":
        spec = trusted_definition(spec, checkpoint, trust_definition)
    return build_foreign(spec)


MODEL_KINDS = {"licli": _rebuild_licli, "foreign": _rebuild_foreign}
"""How a checkpoint's ``model`` entry is rebuilt, by its ``kind`` (absent means ``licli``)."""


def load_checkpoint(path: str | Path, device: torch.device | str = "cpu", *, trust_definition: bool = False
                    ) -> tuple[torch.nn.Module, Checkpoint]:
    """Rebuild the model from metadata, load its weights strictly, return it in eval mode on ``device``.

    A checkpoint of the user's own class (``licli import``) runs its definition file only with
    ``trust_definition`` (see ``trusted_definition``)."""
    checkpoint = read_checkpoint(path)
    entry = checkpoint.meta["model"]
    rebuild = pick(MODEL_KINDS, entry.get("kind", "licli") if isinstance(entry, dict) else "licli", "model kind")
    try:
        model = rebuild(entry, checkpoint, trust_definition)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise LicliError(f"checkpoint metadata {checkpoint.metadata} has a malformed model entry ({error})",
                         "restore the file from the run folder or retrain") from None
    state = load_state(checkpoint.weights)
    check_finite(state, str(checkpoint.weights))
    load_strict(model, state, str(checkpoint.weights))
    return model.to(device).eval(), checkpoint
