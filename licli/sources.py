"""Where an evaluated model comes from. Every evaluation command loads models through ``load_models``.

A ``ModelSource`` is either a licli checkpoint (written by ``licli train`` or ``licli import``) or a
foreign model: a torchvision architecture or the user's own class (``licli.models.foreign``) with
optional weights from a safetensors file or a plain PyTorch state dict. Whatever the source, the
loaded model takes images in [0, 1], is in eval mode on the device, ``LoadedModel.files`` names every
file it was built from and ``LoadedModel.hashes`` their sha256, computed once while loading (checking) them;
``licli.runs.Run.record_model`` records both without reading the files again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from licli.checkpoints import (Checkpoint, check_finite, checkpoint_paths, definition_path, load_checkpoint,
                               save_checkpoint)
from licli.errors import CheckFailed, LicliError
from licli.io import atomic_write_bytes, missing_folders, remove_empty_folders
from licli.models.foreign import ForeignModel, ForeignSpec, build_foreign, check_logits, read_state_dict, source_files
from licli.models.weights import load_strict
from licli.registry import pick
from licli.runtime import in_memory_format, sha256_file

if TYPE_CHECKING:
    from licli.data import Dataset


@dataclass(frozen=True)
class ModelSource:
    """A licli ``checkpoint`` path, or a ``foreign`` spec with optional ``weights`` and key ``renames``.

    ``trust_definition`` lets a checkpoint of the user's own class run its definition file
    (``licli.checkpoints.trusted_definition``); a ``foreign`` definition is trusted by being named."""

    checkpoint: str | None = None
    foreign: ForeignSpec | None = None
    weights: str | None = None
    renames: tuple[tuple[str, str], ...] = ()
    trust_definition: bool = False
    infer_input_shape: bool = False
    """A foreign model given no ``--input-size`` takes the evaluated dataset's image shape (``fitted_to``)."""

    def __post_init__(self) -> None:
        if (self.checkpoint is None) == (self.foreign is None):
            raise LicliError("a model source is either a licli checkpoint or a foreign model",
                             "pass --checkpoint PATH, or --model torchvision:NAME / --model-def FILE.py:NAME")
        if self.checkpoint is not None and (self.weights or self.renames):
            raise LicliError("weights=… and renames=… apply to a foreign model, not to checkpoint=…",
                             "a licli checkpoint carries its own weights", field="weights",
                             also=("renames", "checkpoint"))

    @property
    def kind(self) -> str:
        return "checkpoint" if self.checkpoint is not None else "foreign"

    def describe(self) -> str:
        if self.foreign is None:
            return str(self.checkpoint)
        spec = self.foreign
        parts = [spec.describe()]
        parts += [f"args={json.dumps(spec.args, sort_keys=True)}"] if spec.args else []
        parts += [f"num_classes={spec.num_classes}"] if spec.num_classes is not None else []
        parts += [f"input_size={'x'.join(map(str, spec.input_shape))}"]
        if spec.input_mean is not None:
            parts += [f"input_mean={list(spec.input_mean)}", f"input_std={list(spec.input_std or ())}"]
        parts += [f"weights={self.weights}"] if self.weights else []
        parts += [f"rename={old}={new}" for old, new in self.renames]
        return " ".join(parts)


@dataclass
class LoadedModel:
    """A model ready to evaluate (eval mode, on the device) and what the manifest should say of it."""

    model: nn.Module
    label: str
    """Short name for tables and plots (unique among the models of one run)."""
    meta: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)
    """Role → path of every file the model was built from (recorded in the manifest)."""
    hashes: dict[str, str] = field(default_factory=dict)
    """Role → sha256 of each of ``files``, computed once while loading (checking) it."""
    dataset: str | None = None
    """The dataset the model was trained on, the default for evaluations."""


def _load_checkpoint(source: ModelSource, device: torch.device) -> LoadedModel:
    model, checkpoint = load_checkpoint(source.checkpoint, device, trust_definition=source.trust_definition)
    label = Path(checkpoint.weights).parent.name if checkpoint.weights.name == "model.safetensors" \
        else checkpoint.weights.stem
    files = {"weights": str(checkpoint.weights), "metadata": str(checkpoint.metadata)}
    hashes = {"weights": checkpoint.weights_sha256, "metadata": checkpoint.metadata_sha256}
    if checkpoint.meta["model"].get("kind") == "foreign":
        foreign = ForeignSpec.from_dict(checkpoint.meta["model"])
        if foreign.kind == "definition":  # built only after its pinned sha256 matched (``build_definition``)
            files["definition"] = str(checkpoint.metadata.parent / foreign.definition[0].name)
            hashes["definition"] = foreign.definition_sha256
    if isinstance(model, ForeignModel):
        check_logits(model, device, label)
    return LoadedModel(model=model, label=label, meta=checkpoint.meta, files=files, hashes=hashes,
                       dataset=checkpoint.meta.get("dataset"))


def _load_foreign(source: ModelSource, device: torch.device) -> LoadedModel:
    spec = source.foreign
    model = build_foreign(spec)
    files: dict[str, str] = source_files(spec)
    if spec.kind == "definition":
        files["definition"] = str(spec.definition[0])
    label = spec.definition[1] if spec.kind == "definition" else spec.target
    if source.weights is not None:
        weights = Path(source.weights).expanduser()
        state = read_state_dict(weights, list(model.net.state_dict()), source.renames)
        check_finite(state, str(weights))
        load_strict(model.net, state, str(weights))
        files["weights"] = str(weights)
        label = weights.stem
    model = model.to(device).eval()
    check_logits(model, device, label)
    meta = {"model": spec.to_dict(), "weights": source.weights, "renames": [list(pair) for pair in source.renames]}
    return LoadedModel(model=model, label=label, meta=meta, files=files,
                       hashes={role: sha256_file(path) for role, path in files.items()})


SOURCE_KINDS: dict[str, Callable[[ModelSource, torch.device], LoadedModel]] = {
    "checkpoint": _load_checkpoint,
    "foreign": _load_foreign,
}


def load_model(source: ModelSource, device: torch.device) -> LoadedModel:
    return pick(SOURCE_KINDS, source.kind, "model source")(source, device)


def load_models(sources: list[ModelSource], device: torch.device) -> list[LoadedModel]:
    """Load several models; labels are made unique by suffixing ``#2``, ``#3`` …"""
    loaded = [load_model(source, device) for source in sources]
    for item in loaded:
        in_memory_format(item.model, device)
    seen: dict[str, int] = {}
    for item in loaded:
        seen[item.label] = seen.get(item.label, 0) + 1
        if seen[item.label] > 1:
            item.label = f"{item.label}#{seen[item.label]}"
    return loaded


def fitted_to(sources: list[ModelSource], data: Dataset | None) -> list[ModelSource]:
    """``sources`` with every foreign model that was given no input size taking ``data``'s image shape."""
    if data is None:
        return sources
    shape = tuple(int(d) for d in data.test.images.shape[1:])
    return [replace(source, foreign=replace(source.foreign, input_shape=shape), infer_input_shape=False)
            if source.infer_input_shape and source.foreign is not None else source for source in sources]


def load_models_for(sources: list[ModelSource], device: torch.device, dataset: str | None,
                    load: Callable[[str], Dataset]) -> tuple[list[LoadedModel], Dataset]:
    """Load the models and the dataset they are evaluated on: ``dataset`` when named (loaded first, so foreign
    models without ``--input-size`` take its image shape), else the first model's own, else ``mnist-mini``."""
    data = load(dataset) if dataset else None
    models = load_models(fitted_to(sources, data), device)
    return models, data if data is not None else load(models[0].dataset or "mnist-mini")


def check_fits(loaded: LoadedModel, data: Dataset, *, labels: bool = True) -> None:
    """Probe ``loaded`` with two of ``data``'s test images before any work: an image size or channel count
    it cannot take, and (with ``labels``) labels outside its classes, are a one-line error, not a crash
    deep inside an evaluation."""
    device = next(loaded.model.parameters(), torch.empty(0)).device
    shape = "×".join(map(str, data.test.images.shape[1:]))
    trained_on = f" (it was trained on {loaded.dataset})" if loaded.dataset else ""
    try:  # the probe leaves the random streams as they were (a stochastic mechanism may draw from them)
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.no_grad():
            scores = loaded.model(data.test.images[:2].to(device).float().div(255.0))
    except LicliError:
        raise
    except Exception as error:  # noqa: BLE001 - any failure here means the images do not fit the model
        raise LicliError(f"model {loaded.label} cannot take {data.name}'s {shape} images{trained_on}: "
                         f"{type(error).__name__}: {' '.join(str(error).split())[:160]}",
                         "evaluate it on a dataset of the image size it was made for (dataset=…)",
                         field="dataset") from None
    if not labels:
        return
    classes = int(scores.shape[-1])
    largest = int(max(data.train.labels.max(), data.test.labels.max())) if len(data.test) else -1
    if classes < data.num_classes or largest >= classes or min(data.train.labels.min(), data.test.labels.min()) < 0:
        raise LicliError(f"model {loaded.label} scores {classes} classes but {data.name}'s labels go up to "
                         f"{max(largest, data.num_classes - 1)}{trained_on}",
                         "evaluate it on a dataset with its classes (dataset=…)", field="dataset")


def import_model(source: ModelSource, out: str | Path, dataset: str | None = None
                 ) -> tuple[Checkpoint, LoadedModel]:
    """Convert a foreign model into a licli checkpoint at ``out`` (``licli import``).

    A definition file is copied beside the checkpoint as ``<stem>.def.py`` and pinned by sha256
    (``load_checkpoint`` runs only that copy, only when trusted, and refuses a changed file); the
    metadata records the files it came from. The written checkpoint is reloaded and must give exactly
    the same outputs on a probe batch, else ``CheckFailed``. A failure leaves no file behind.
    """
    if source.foreign is None:
        raise LicliError("licli import converts a foreign model", "pass --model-def FILE.py:NAME (or --model torchvision:NAME)")
    spec = source.foreign
    weights, metadata = checkpoint_paths(out)
    written: list[Path] = []
    new_folders = missing_folders(weights.parent)
    try:
        loaded = load_model(source, torch.device("cpu"))
        imported_from: dict[str, Any] = {"weights": source.weights, "weights_sha256": loaded.hashes.get("weights"),
                                         "renames": [list(pair) for pair in source.renames]}
        stored = spec
        if spec.kind == "definition":
            original, name = spec.definition
            copy = definition_path(weights)
            written.append(copy)
            text = original.read_bytes()
            atomic_write_bytes(copy, text)
            stored = replace(spec, target=f"{copy.name}:{name}", definition_sha256=hashlib.sha256(text).hexdigest())
            imported_from.update(definition=str(original), definition_sha256=stored.definition_sha256)
        written += [weights, metadata]
        checkpoint = save_checkpoint(weights, loaded.model, stored,
                                     extra={"dataset": dataset, "imported_from": imported_from})
        reloaded, _ = load_checkpoint(checkpoint.weights, trust_definition=True)
        probe = torch.rand(8, *spec.input_shape, generator=torch.Generator().manual_seed(0))
        with torch.no_grad():
            if not torch.equal(loaded.model(probe), reloaded(probe)):
                raise CheckFailed(f"the imported checkpoint {checkpoint.weights} does not reproduce the model's "
                                  "outputs", "report this with the model definition")
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        remove_empty_folders(new_folders)
        raise
    return checkpoint, loaded
