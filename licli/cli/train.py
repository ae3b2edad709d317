"""``licli train``: train a model (with mechanisms and regularizers) and write a checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from licli.checkpoints import save_checkpoint
from licli.cli.app import app, parse_json_option, recorded_run
from licli.config import RunOptions, TrainConfig, load_toml, resolve
from licli.data import load_dataset
from licli.errors import LicliError
from licli.mechanisms import MECHANISMS, REGULARIZERS
from licli.reporting.console import EpochProgress, stdout
from licli.reporting.tables import frame_json, frame_table
from licli.training import discard_state, fit, saved_config


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


@app.command()
def train(
    model: str = typer.Option(None, help="Architecture: mlp, small-cnn, vgg16, resnet18."),
    dataset: str = typer.Option(None, help="Dataset: mnist-mini (embedded), mnist, cifar10."),
    epochs: int = typer.Option(None, help="Number of epochs."),
    batch_size: int = typer.Option(None, help="Training batch size."),
    optimizer: str = typer.Option(None, help="sgd or adam."),
    lr: float = typer.Option(None, help="Learning rate."),
    momentum: float = typer.Option(None, help="SGD momentum."),
    weight_decay: float = typer.Option(None, help="L2 weight decay."),
    seed: int = typer.Option(None, help="Seed for weights, data order and mechanisms."),
    augment: bool = typer.Option(None, "--augment/--no-augment", help="Random crop + flip (CIFAR)."),
    model_options: str = typer.Option(None, help='Builder options as JSON, e.g. \'{"activation": "sigmoid"}\'.'),
    mechanism: list[str] = typer.Option(None, help=f"SLOT=NAME: insert a mechanism ({', '.join(MECHANISMS)}) into a "
                                        "slot; SLOT may be a glob ('layer[123].*'). Repeatable."),
    mechanism_params: list[str] = typer.Option(None, help='Mechanism parameters as JSON for every --mechanism, or '
                                               'SLOT=JSON for one, e.g. \'hidden={"calibration": "online"}\'. '
                                               "Repeatable."),
    regularizer: str = typer.Option(None, help=f"Regularized objective: {', '.join(REGULARIZERS)} (weight decay is "
                                    "--weight-decay)."),
    regularizer_params: str = typer.Option(None, help='Regularizer parameters as JSON, e.g. \'{"weight": 0.1}\'.'),
    config: Path = typer.Option(None, help="TOML file with any of these settings (flags override it)."),
    resume: Path = typer.Option(None, help="Run folder of an interrupted run to continue."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    data_dir: str = typer.Option(None, help="Data root (else $LICLI_DATA_DIR, else the user cache)."),
    download: bool = typer.Option(False, help="Allow downloading the dataset if it is missing."),
    out: str = typer.Option("reports", help="Root folder for run folders."),
    name: str = typer.Option("train", help="Name of this run (suffix of its folder)."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Train a model and write a safetensors checkpoint, per-epoch metrics and a manifest."""
    file_config = load_toml(config)
    if resume is not None:
        file_config = {**saved_config(resume), **file_config}
    train_config = resolve(TrainConfig, file=file_config, flags={
        "model": model, "dataset": dataset, "epochs": epochs, "batch_size": batch_size, "optimizer": optimizer,
        "lr": lr, "momentum": momentum, "weight_decay": weight_decay, "seed": seed, "augment": augment,
        "model_options": parse_json_option(model_options, "--model-options"),
        "mechanisms": mechanism_specs(mechanism, mechanism_params), "regularizer": regularizer,
        "regularizer_params": parse_json_option(regularizer_params, "--regularizer-params")})
    options = RunOptions(device=device, out=out, name=name, data_dir=data_dir, download=download)
    data = load_dataset(train_config.dataset, data_dir, download)
    with recorded_run("train", train_config, options, train_config.seed, path=resume) as (torch_device, run):
        for role, path in data.files.items():
            run.record_input(f"data:{role}", path)
        net, spec, history = fit(train_config, data, device=torch_device, run_dir=run.ensure(),
                                 resume=resume is not None, progress=EpochProgress())
        run.write_csv("metrics.csv", history)
        final = history.iloc[-1].to_dict()
        checkpoint = save_checkpoint(run.file("model.safetensors"), net, spec, extra={
            "dataset": train_config.dataset, "config": train_config.__dict__ | {},
            "metrics": {k: final[k] for k in ("train_accuracy", "test_accuracy", "test_loss")}})
        run.manifest["files"]["model.safetensors"] = {"sha256": checkpoint.meta["weights_sha256"]}
        discard_state(run.path)
    summary = history[["epoch", "train_loss", "train_accuracy", "test_accuracy", "seconds"]]
    console = stdout()
    if json_output:
        console.print_json(frame_json(summary, checkpoint=str(checkpoint.weights), run=str(run.path)))
    else:
        console.print(frame_table(summary, title=f"licli train · {spec.name} on {train_config.dataset}",
                                  percent_columns=("train_accuracy", "test_accuracy")))
        console.print(f"checkpoint: {checkpoint.weights}", highlight=False)
