"""``licli train``: train a model (with mechanisms and regularizers) and write a checkpoint."""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from licli.cli.app import app, parse_json_option, recorded_run
from licli.cli.choices import (MECHANISM_NAMES, DatasetName, Enhance, Model, Optimizer, Precision, Regularizer, Tracker,
                               value)
from licli.cli.config_file import config_fields, config_table
from licli.cli.options import with_run_options
from licli.config import RunOptions, resolve
from licli.training.config import TrainConfig
from licli.errors import LicliError
from licli.parsing import comma_list
from licli.registry import pick
from licli.reporting.console import EpochProgress, stdout
from licli.runtime import numerics_under

if TYPE_CHECKING:  # the heavy modules are imported when the command runs: `licli train --help` stays fast
    import pandas as pd
    from torch import nn

    from licli.checkpoints import Checkpoint
    from licli.models import ModelSpec
    from licli.runs import Run

HISTORY_COLUMNS = ["epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"]


def write_trained_model(run: Run, model: nn.Module, spec: ModelSpec, history: pd.DataFrame,
                        config: TrainConfig) -> Checkpoint:
    """Write ``metrics.csv`` and the checkpoint ``model.safetensors`` + ``model.json`` into ``run``."""
    # deferred: torch; `licli train --help` starts without it
    from licli.checkpoints import save_checkpoint
    from licli.training.loop import checkpoint_extra

    run.write_csv("metrics.csv", history)
    checkpoint = save_checkpoint(run.file("model.safetensors"), model, spec, extra=checkpoint_extra(config, history))
    run.record_checkpoint(checkpoint)
    return checkpoint


def print_history(history: pd.DataFrame, title: str) -> None:
    from licli.reporting.tables import frame_table  # deferred: pandas; `licli train --help` starts without it

    stdout().print(frame_table(history[HISTORY_COLUMNS], title=title,
                               percent_columns=("train_accuracy", "test_accuracy")))


def mechanism_specs(mechanisms: list[str] | None, params: list[str] | None) -> dict[str, dict[str, Any]] | None:
    """``--mechanism SLOT=NAME`` and ``--mechanism-params [SLOT=]JSON`` → TrainConfig.mechanisms."""
    if not mechanisms:
        if params:
            raise LicliError("--mechanism-params given without --mechanism", "add e.g. --mechanism hidden=normout")
        return None
    specs: dict[str, dict[str, Any]] = {}
    for item in mechanisms:
        slot, _, name = item.partition("=")
        if not slot or not name:
            raise LicliError(f"--mechanism {item!r} is not SLOT=NAME", "pass e.g. --mechanism hidden=local-inhibition")
        specs[slot] = {"name": name, "params": {}}
    for item in params or []:
        if item.lstrip().startswith("{"):
            targets, text = list(specs), item
        else:
            slot, _, text = item.partition("=")
            if slot not in specs:
                raise LicliError(f"--mechanism-params names slot {slot!r} that no --mechanism fills",
                                 f"use one of: {', '.join(specs)}")
            targets = [slot]
        values = parse_json_option(text, "--mechanism-params")
        for target in targets:
            specs[target]["params"].update(values)
    return specs


def enhance_params(quantile: float | None, ratio: float | None, sigma: float | None, blur_sigma: float | None,
                   layers: str | None) -> dict | None:
    """The li-blur flags that were given, as ``TrainConfig.enhance_params`` (None: take the config file's)."""
    given = {"quantile": quantile, "ratio": ratio, "sigma": sigma, "blur_sigma": blur_sigma,
             "layers": list(comma_list(layers)) if layers else None}
    return {key: value for key, value in given.items() if value is not None} or None


_TRAIN_DEFAULTS = {f.name: f.default for f in fields(TrainConfig)}


def _default(name: str) -> str:
    """What ``--help`` shows as the default of a train setting: TrainConfig's (the flag's None defers to it)."""
    given = _TRAIN_DEFAULTS[name]
    return "none" if given is None else str(given).lower() if isinstance(given, bool) else str(given)


@app.command()
@config_fields(TrainConfig, every="track_every", quantile="enhance_quantile", ratio="enhance_ratio",
               sigma="enhance_sigma", blur_sigma="enhance_blur_sigma")
@with_run_options("train", download=True)
def train(
    options: RunOptions,
    model: Model = typer.Option(None, help="Architecture.", show_default=_default("model")),
    dataset: DatasetName = typer.Option(None, help="Dataset (mnist-mini is embedded).", show_default=_default("dataset")),
    epochs: int = typer.Option(None, help="Number of epochs.", show_default=_default("epochs")),
    batch_size: int = typer.Option(None, help="Training batch size.", show_default=_default("batch_size")),
    optimizer: Optimizer = typer.Option(None, help="Optimizer.", show_default=_default("optimizer")),
    lr: float = typer.Option(None, help="Learning rate.", show_default=_default("lr")),
    momentum: float = typer.Option(None, help="SGD momentum.", show_default=_default("momentum")),
    weight_decay: float = typer.Option(None, help="L2 weight decay.", show_default=_default("weight_decay")),
    seed: int = typer.Option(None, help="Seed for weights, data order and mechanisms.", show_default=_default("seed")),
    augment: bool = typer.Option(None, "--augment/--no-augment", help="Random crop + flip (CIFAR).",
                                 show_default="no-augment"),
    model_options: str = typer.Option(None, help='Builder options as JSON, e.g. \'{"activation": "sigmoid"}\'.',
                                      show_default="{}"),
    mechanism: list[str] = typer.Option(None, help=f"SLOT=NAME: insert a mechanism ({', '.join(MECHANISM_NAMES)}) "
                                        "into a slot; SLOT may be a glob ('layer[123].*'). Repeatable.",
                                        show_default="none"),
    mechanism_params: list[str] = typer.Option(None, help='Mechanism parameters as JSON for every --mechanism, or '
                                               'SLOT=JSON for one, e.g. \'hidden={"calibration": "online"}\'. '
                                               "Repeatable."),
    regularizer: Regularizer = typer.Option(None, help="Regularized objective (weight decay is --weight-decay).",
                                            show_default=_default("regularizer")),
    regularizer_params: str = typer.Option(None, help='Regularizer parameters as JSON, e.g. \'{"weight": 0.1}\'.',
                                           show_default="{}"),
    enhance: Enhance = typer.Option(None, help="Data enhancement during training (li-blur: LI data enhancement).",
                                    show_default=_default("enhance")),
    enhance_quantile: float = typer.Option(None, help="li-blur: pixels above this per-image quantile of |F| stay sharp."),
    enhance_ratio: float = typer.Option(None, help="li-blur: fraction of each batch that is enhanced."),
    enhance_sigma: float = typer.Option(None, help="li-blur: σ of the LoG on the gradient norms."),
    enhance_blur_sigma: float = typer.Option(None, help="li-blur: σ of the Gaussian blur of the inhibited pixels."),
    enhance_layers: str = typer.Option(None, help="li-blur: comma-separated activation layers (default: all spatial slots)."),
    resume: Path = typer.Option(None, help="Run folder of an interrupted run to continue."),
    track: list[Tracker] = typer.Option([], help="Record a quantity during training: gsnr (per-layer GSNR, "
                                                  "Gradient Mask Fig. 7). Repeatable."),
    track_every: int = typer.Option(50, help="Optimizer steps between two --track records."),
    precision: Precision = typer.Option(None, help="Forward precision (tf32 and bf16 use CUDA tensor cores; see "
                                        "docs/performance.md).", show_default=_default("precision")),
    state_every: str = typer.Option("1", help="Save the resumable state every N epochs, every N minutes ('10min') "
                                    "or only after the last epoch ('final'); written in the background."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Train a model and write a safetensors checkpoint, per-epoch metrics and a manifest.

    Settings come from defaults < --config TOML < LICLI_<SETTING> variables < flags; the TOML file holds
    TrainConfig's fields (tables for mechanisms, model_options, regularizer_params, enhance_params) and any
    other option of this command. --resume takes
    the settings of the interrupted run (changing them is refused) and continues in its folder.
    """
    # deferred: torch, pandas, matplotlib; `licli train --help` starts without them
    from licli.data import load_dataset
    from licli.evaluations import TRACKERS
    from licli.reporting.plots import TRACK_PLOTS
    from licli.reporting.tables import frame_json
    from licli.training.loop import StateSchedule, discard_state, fit, saved_config

    file_config = config_table()
    if resume is not None:
        file_config = {**saved_config(resume), **file_config}
    train_config = resolve(TrainConfig, file=file_config, flags={
        "model": value(model), "dataset": value(dataset), "epochs": epochs, "batch_size": batch_size,
        "optimizer": value(optimizer),
        "lr": lr, "momentum": momentum, "weight_decay": weight_decay, "seed": seed, "augment": augment,
        "model_options": parse_json_option(model_options, "--model-options"),
        "mechanisms": mechanism_specs(mechanism, mechanism_params), "regularizer": value(regularizer),
        "regularizer_params": parse_json_option(regularizer_params, "--regularizer-params"), "enhance": value(enhance),
        "enhance_params": enhance_params(enhance_quantile, enhance_ratio, enhance_sigma, enhance_blur_sigma,
                                         enhance_layers), "precision": value(precision)})
    schedule = StateSchedule.parse(state_every)
    data = load_dataset(train_config.dataset, options.data_dir, options.download)
    with recorded_run("train", train_config, options, train_config.seed, path=resume,
                      resume="licli train --resume {path}") as (torch_device, run):
        run.note("resumed", resume is not None)
        run.note("numerics", numerics_under(train_config.precision, torch_device))
        run.note("state_schedule", asdict(schedule))
        run.record_dataset(data)
        trackers = {kind: pick(TRACKERS, kind, "tracked quantity")(data, every=track_every, device=torch_device)
                    for kind in map(value, track)}
        run.note("tracking", {"track": list(trackers), "every": track_every})
        net, spec, history = fit(train_config, data, device=torch_device, run_dir=run.folder(),
                                 resume=resume is not None, progress=EpochProgress(),
                                 observers=list(trackers.values()), schedule=schedule)
        for kind, tracker in trackers.items():
            track = tracker.frame()
            run.write_csv(f"track_{kind}.csv", track)
            if not track.empty:
                run.save_figure(f"track_{kind}.png", TRACK_PLOTS[kind](track, title=f"{kind} during training · {spec.name}"))
        checkpoint = write_trained_model(run, net, spec, history, train_config)
        discard_state(run.path)
    if json_output:
        stdout().print_json(frame_json(history[HISTORY_COLUMNS], checkpoint=str(checkpoint.weights),
                                       run=str(run.path)))
    else:
        print_history(history, f"licli train · {spec.name} on {train_config.dataset}")
        stdout().print(f"checkpoint: {checkpoint.weights}", highlight=False, markup=False)
