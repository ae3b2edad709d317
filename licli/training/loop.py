"""The training loop: on-device batches, no host sync inside an epoch, exact resume.

Mechanism modules take part through two optional methods, found on any submodule:
``after_optimizer_step(context)`` (e.g. recalibrating a correlation map, LI Algorithm 1) and
``epoch_statistics() -> dict`` (values added to the epoch's history row).

The resumable state is saved on a schedule (``StateSchedule``: every N epochs or M minutes, the
last epoch always) by a background thread writing a CPU copy, so the next epoch starts while the
file is written (1.07 GB for VGG-16).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save
from torch import nn

from licli.data import Dataset, Split, batches
from licli.errors import LicliError
from licli.hooks import Objective, Progress, StepContext
from licli.io import atomic_write_bytes, atomic_write_json
from licli.models import MechanismSpec, ModelSpec, build_model
from licli.objectives import REGULARIZERS
from licli.objectives.enhancement import enhanced_objective
from licli.mechanisms import training_hooks
from licli.registry import pick
from licli.runtime import (autocast, cuda_rng_state, in_memory_format, precision_scope, restore_cuda_rng_state,
                           to_device_async)
from licli.training.config import TrainConfig
from licli.training.optimizers import OPTIMIZERS

STATE_WEIGHTS = "training_state.safetensors"
STATE_META = "training_state.json"


def cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                  indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Empirical risk minimisation (ERM): mean cross-entropy."""
    logits = model(x)
    return F.cross_entropy(logits, y), logits


def random_crop_flip(padding: int = 4) -> Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]:
    """Batched on-device augmentation: random crop with zero padding and horizontal flip (CIFAR).

    The offsets and flips are drawn on the CPU generator (the same stream on every device, restored on
    resume) and copied to the device in one non-blocking transfer."""

    def augment(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        n, _, h, w = x.shape
        padded = F.pad(x, (padding,) * 4)
        dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
        flip = torch.rand(n, generator=generator) < 0.5
        dy, dx, flip = to_device_async(torch.stack([dy, dx, flip.long()]), x.device).unbind(0)
        rows = (dy.view(n, 1) + torch.arange(h, device=x.device)).view(n, 1, h, 1)
        cols = dx.view(n, 1) + torch.arange(w, device=x.device)
        cols = torch.where(flip.view(n, 1).bool(), cols.flip(1), cols).view(n, 1, 1, w)
        batch = torch.arange(n, device=x.device).view(n, 1, 1, 1)
        channel = torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1)
        return padded[batch, channel, rows, cols]

    return augment


@torch.no_grad()
def evaluate(model: nn.Module, split: Split, *, device: torch.device, batch_size: int = 1000,
             precision: str = "fp32") -> dict[str, float]:
    """Clean accuracy and mean cross-entropy of ``model`` (eval mode) on ``split`` (forward at ``precision``)."""
    was_training = model.training
    model.eval()
    correct = torch.zeros((), device=device)
    loss = torch.zeros((), device=device, dtype=torch.float64)
    for x, y, _ in batches(split, batch_size, device=device):
        with autocast(precision, device):
            logits = model(x).float()
        correct += (logits.argmax(1) == y).sum()
        loss += F.cross_entropy(logits, y, reduction="sum").double()
    model.train(was_training)
    n = max(len(split), 1)
    return {"accuracy": correct.item() / n, "loss": loss.item() / n}


def _hooks(parts: Iterable[object], method: str) -> list[Callable]:
    return [getattr(part, method) for part in parts if callable(getattr(part, method, None))]


@dataclass(frozen=True)
class StateSchedule:
    """When the resumable state is saved: after every ``every_epochs``-th epoch, or (``every_minutes``) after
    the first epoch that ends that long after the previous save; after the last epoch always."""

    every_epochs: int | None = 1
    every_minutes: float | None = None

    def __post_init__(self) -> None:
        if self.every_epochs is not None and (not isinstance(self.every_epochs, int) or self.every_epochs < 1):
            raise LicliError(f"--state-every must be ≥ 1 epoch (got {self.every_epochs})",
                             "pass e.g. --state-every 5 or --state-every 10min")
        if self.every_minutes is not None and not self.every_minutes > 0:
            raise LicliError(f"--state-every must be > 0 minutes (got {self.every_minutes})",
                             "pass e.g. --state-every 10min")

    @classmethod
    def parse(cls, text: str) -> "StateSchedule":
        """``"5"`` → every 5 epochs; ``"10min"`` (or ``"10m"``) → every 10 minutes; ``"final"`` → last epoch only."""
        cleaned = text.strip().lower()
        if cleaned == "final":
            return cls(every_epochs=None)
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(m|min|minutes?)?", cleaned)
        if not match or (match.group(2) is None and "." in match.group(1)):
            raise LicliError(f"--state-every {text!r} is not a number of epochs or minutes",
                             "pass e.g. --state-every 5, --state-every 10min or --state-every final")
        if match.group(2):
            return cls(every_epochs=None, every_minutes=float(match.group(1)))
        return cls(every_epochs=int(match.group(1)))

    def due(self, epoch: int, last_epoch: int, seconds_since_save: float) -> bool:
        """Whether to save after ``epoch`` (1-based) of ``last_epoch``."""
        return (epoch == last_epoch
                or (self.every_epochs is not None and epoch % self.every_epochs == 0)
                or (self.every_minutes is not None and seconds_since_save >= 60 * self.every_minutes))


def _host_copy(tensor: torch.Tensor) -> torch.Tensor:
    """A CPU copy that later in-place updates of ``tensor`` do not change."""
    tensor = tensor.detach()
    return tensor.to("cpu", copy=True).contiguous()


def state_snapshot(model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator,
                   device: torch.device, epoch: int, history: list[dict[str, Any]], config: TrainConfig
                   ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Everything needed to continue bit-for-bit after ``epoch`` (weights, optimizer, the RNG states of
    the CPU, the data generator and the training device), copied to the CPU: (tensors, metadata)."""
    tensors = {f"model.{k}": _host_copy(v) for k, v in model.state_dict().items()}
    opt = optimizer.state_dict()
    scalars: dict[str, Any] = {}
    for index, entry in opt["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optim.{index}.{key}"] = _host_copy(value)
            else:
                scalars[f"{index}.{key}"] = value
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.generator"] = generator.get_state()
    device_state = cuda_rng_state(device)
    if device_state is not None:
        tensors["rng.device"] = device_state
    meta = {"epoch": epoch, "history": [dict(row) for row in history], "config": asdict(config),
            "device": str(device), "param_groups": opt["param_groups"], "optim_scalars": scalars}
    return tensors, copy.deepcopy(meta)


def write_state(folder: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Write a snapshot atomically: weights first (tagged with the epoch), then the metadata naming it."""
    atomic_write_bytes(folder / STATE_WEIGHTS, save(tensors, metadata={"epoch": str(meta["epoch"])}))
    atomic_write_json(folder / STATE_META, meta)


class StateWriter:
    """Writes training states on a background thread: ``submit`` waits for the previous write (at most
    one in flight, one extra CPU copy of the state), ``close`` waits for the last. A failed write raises
    from the next ``submit`` or from ``close``."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def submit(self, folder: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        self.wait()
        self._thread = threading.Thread(target=self._write, args=(folder, tensors, meta), name="licli-state-writer",
                                        daemon=True)
        self._thread.start()

    def _write(self, folder: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
        try:
            write_state(folder, tensors, meta)
        except BaseException as error:  # noqa: BLE001 - handed to the training thread by wait()
            self._error = error

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            error, self._error = self._error, None
            field, also = (error.field, error.also) if isinstance(error, LicliError) else (None, ())
            raise LicliError(f"could not write the training state ({error})",
                             "check the run folder's disk space and permissions", field=field, also=also) from error

    close = wait


def _load_state(folder: Path, model: nn.Module, optimizer: torch.optim.Optimizer, generator: torch.Generator,
                config: TrainConfig, device: torch.device) -> tuple[int, list[dict[str, Any]]]:
    meta_path, weights_path = folder / STATE_META, folder / STATE_WEIGHTS
    if not meta_path.exists() or not weights_path.exists():
        raise LicliError(f"no training state to resume in {folder}",
                         "pass the run folder of an interrupted `licli train` run to --resume")
    try:
        meta = json.loads(meta_path.read_text())
        tensors = load_file(str(weights_path))
        with safe_open(str(weights_path), "pt") as handle:
            tagged_epoch = (handle.metadata() or {}).get("epoch")
    except Exception as error:  # noqa: BLE001 - any unreadable state is the same user-facing problem
        raise LicliError(f"training state in {folder} is unreadable ({error})", "start a new run instead") from None
    if tagged_epoch != str(meta.get("epoch")):
        raise LicliError(f"the training state in {folder} is torn (weights of epoch {tagged_epoch}, metadata of "
                         f"epoch {meta.get('epoch')}): the run stopped while writing it", "start a new run instead")
    saved = {"precision": "fp32", **meta.get("config", {})}  # states written before --precision existed
    if saved != json.loads(json.dumps(asdict(config))):
        raise LicliError(f"the configuration differs from the one of the run in {folder}",
                         "resume with the same flags and config file (see its manifest.json)")
    model.load_state_dict({k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    for key, value in meta["optim_scalars"].items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    generator.set_state(tensors["rng.generator"])
    restore_cuda_rng_state(device, tensors.get("rng.device"), meta.get("device"))
    return int(meta["epoch"]), list(meta["history"])


def train(model: nn.Module, data: Dataset, config: TrainConfig, *, device: torch.device,
          objective: Objective = cross_entropy, state_dir: Path | None = None, resume: bool = False,
          progress: Progress | None = None, stop_after_epoch: int | None = None,
          observers: Sequence[object] = (), schedule: StateSchedule = StateSchedule()) -> pd.DataFrame:
    """Train ``model`` in place; return one history row per epoch (loss, accuracies, seconds, stats).

    ``observers`` take part like mechanism modules, through the same optional methods
    ``after_optimizer_step(context)`` and ``epoch_statistics() -> dict`` (e.g. an evaluation that
    scores extra test splits every epoch); they are called after the model's own.

    With ``state_dir`` the full training state is saved atomically when ``schedule`` says (every epoch
    by default; the last epoch, and the epoch ``stop_after_epoch`` stops at, always), written in the
    background; ``resume`` continues from it and ends with the same weights and metrics as an
    uninterrupted run. ``stop_after_epoch`` stops early (to simulate an interruption in tests).
    The forward passes run at ``config.precision`` (``licli.runtime.PRECISIONS``).
    """
    writer = StateWriter()
    try:
        with precision_scope(config.precision, device):
            return _train(model, data, config, device=device, objective=objective, state_dir=state_dir,
                          resume=resume, progress=progress, stop_after_epoch=stop_after_epoch,
                          observers=observers, schedule=schedule, writer=writer)
    finally:
        writer.close()


def _train(model: nn.Module, data: Dataset, config: TrainConfig, *, device: torch.device, objective: Objective,
           state_dir: Path | None, resume: bool, progress: Progress | None, stop_after_epoch: int | None,
           observers: Sequence[object], schedule: StateSchedule, writer: StateWriter) -> pd.DataFrame:
    torch.manual_seed(config.seed)
    generator = torch.Generator().manual_seed(config.seed)
    in_memory_format(model.to(device), device)
    optimizer = pick(OPTIMIZERS, config.optimizer, "optimizer")(list(model.parameters()), config)
    train_split, test_split = data.train.to(device), data.test.to(device)
    augment = random_crop_flip() if config.augment else None
    start_epoch, history = 0, []
    if resume:
        if state_dir is None:
            raise LicliError("resume needs the run folder of the interrupted run", "pass it to --resume")
        start_epoch, history = _load_state(state_dir, model, optimizer, generator, config, device)
    after_step = _hooks([*training_hooks(model), *model.modules(), *observers], "after_optimizer_step")
    statistics = _hooks([*model.modules(), *observers], "epoch_statistics")
    steps = -(-len(train_split) // config.batch_size)
    last_epoch = config.epochs if stop_after_epoch is None else min(config.epochs, stop_after_epoch)
    last_save = time.monotonic()
    for epoch in range(start_epoch, last_epoch):
        model.train()
        began = time.perf_counter()
        loss_sum = torch.zeros((), device=device, dtype=torch.float64)
        correct = torch.zeros((), device=device, dtype=torch.int64)
        if progress:
            progress.start_epoch(epoch + 1, config.epochs, steps)
        for step, (x, y, index) in enumerate(batches(train_split, config.batch_size, device=device, shuffle=True,
                                                     generator=generator, augment=augment)):
            with autocast(config.precision, device):
                loss, logits = objective(model, x, y, index)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach().double() * y.shape[0]
            correct += (logits.detach().argmax(1) == y).sum()
            if after_step:
                context = StepContext(model, epoch, epoch * steps + step, train_split, generator)
                for hook in after_step:
                    hook(context)
            if progress:
                progress.advance()
        seconds = time.perf_counter() - began
        test = evaluate(model, test_split, device=device, batch_size=config.eval_batch_size,
                        precision=config.precision)
        row: dict[str, Any] = {"epoch": epoch + 1, "train_loss": loss_sum.item() / len(train_split),
                               "train_accuracy": correct.item() / len(train_split),
                               "test_loss": test["loss"], "test_accuracy": test["accuracy"],
                               "seconds": seconds, "images_per_second": len(train_split) / seconds}
        for stats in statistics:
            row.update(stats())
        if not torch.isfinite(torch.tensor(row["train_loss"])):
            raise LicliError(f"training diverged at epoch {epoch + 1} (loss is {row['train_loss']} at lr={config.lr}, "
                             f"batch size {config.batch_size})",
                             "pass a lower lr=… (small batches need a smaller one, e.g. lr=0.005 at batch size 1) "
                             "or check the mechanism's parameters", field="lr")
        history.append(row)
        if progress:
            progress.end_epoch(row)
        if state_dir is not None and schedule.due(epoch + 1, last_epoch, time.monotonic() - last_save):
            writer.submit(state_dir, *state_snapshot(model, optimizer, generator, device, epoch + 1, history, config))
            last_save = time.monotonic()
    model.eval()
    return pd.DataFrame(history)


def model_spec_for(config: TrainConfig, data: Dataset) -> ModelSpec:
    return ModelSpec(name=config.model, num_classes=data.num_classes, in_channels=data.in_channels,
                     image_size=data.image_size, options=dict(config.model_options),
                     mechanisms={slot: MechanismSpec.from_dict(spec) for slot, spec in config.mechanisms.items()})


def objective_for(config: TrainConfig, data: Dataset | None = None) -> Objective:
    """Cross-entropy, or the regularized objective named by ``config.regularizer``; an environment-based one
    (IRM, V-REx, Fishr) is bound to ``data``'s training environments (``bind_environments``)."""
    if config.regularizer is None:
        return cross_entropy
    factory = pick(REGULARIZERS, config.regularizer, "regularizer")
    try:
        objective = factory(**config.regularizer_params)
    except TypeError as error:
        raise LicliError(f"bad parameters for regularizer {config.regularizer!r}: {error}",
                         "see docs/mechanisms.md for its parameters") from None
    if data is not None and hasattr(objective, "bind_environments"):
        objective.bind_environments(data.environments, len(data.train))
    return objective


def with_enhancement(config: TrainConfig, objective: Objective) -> Objective:
    """``objective`` wrapped by the data enhancement ``config.enhance`` names (it changes the batch), if any."""
    if config.enhance is None:
        return objective
    return enhanced_objective(objective, config.enhance, {"seed": config.seed, **config.enhance_params})


def check_batch_size(model: nn.Module, batch_size: int, n_train: int) -> None:
    """Batch normalisation cannot train on a batch of one image (its variance is undefined): refuse it up front."""
    single = batch_size == 1 or n_train % batch_size == 1
    if single and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        raise LicliError(f"batch_size {batch_size} gives a batch of one image, which this model's batch "
                         "normalisation cannot train on", f"pass a batch_size=… of 2 or more that leaves no last batch of one "
                         f"of the {n_train} training images, or train a model without batch norm (mlp, small-cnn)",
                         field="batch_size")


def fit(config: TrainConfig, data: Dataset, *, device: torch.device, run_dir: Path | None = None,
        resume: bool = False, progress: Progress | None = None, observers: Sequence[object] = (),
        schedule: StateSchedule = StateSchedule()) -> tuple[nn.Module, ModelSpec, pd.DataFrame]:
    """Build the model ``config`` names (seeded), train it on ``data``; return model, spec and history."""
    spec = model_spec_for(config, data)
    torch.manual_seed(config.seed)
    model = build_model(spec)
    check_batch_size(model, config.batch_size, len(data.train))
    history = train(model, data, config, device=device, objective=with_enhancement(config, objective_for(config, data)),
                    state_dir=run_dir, resume=resume, progress=progress, observers=observers, schedule=schedule)
    return model, spec, history


def checkpoint_extra(config: TrainConfig, history: pd.DataFrame) -> dict[str, Any]:
    """What a trained model's checkpoint records besides its architecture: dataset, config, final metrics."""
    final = history.iloc[-1].to_dict()
    return {"dataset": config.dataset, "config": asdict(config),
            "metrics": {k: final[k] for k in ("train_accuracy", "test_accuracy", "test_loss")}}


def discard_state(run_dir: Path) -> None:
    """Remove the resumable state once a run has finished (the checkpoint holds the result)."""
    for name in (STATE_WEIGHTS, STATE_META):
        (run_dir / name).unlink(missing_ok=True)


def saved_config(run_dir: Path) -> dict[str, Any]:
    """The configuration an interrupted run was started with (for ``--resume``)."""
    try:
        return json.loads((run_dir / STATE_META).read_text())["config"]
    except (OSError, ValueError, KeyError):
        raise LicliError(f"no resumable training state in {run_dir}",
                         "pass the run folder of an interrupted `licli train` run to --resume") from None
