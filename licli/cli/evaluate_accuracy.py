"""``licli evaluate accuracy``: clean accuracy and loss of a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from licli.checkpoints import load_checkpoint
from licli.cli.app import evaluate_app, recorded_run
from licli.config import RunOptions
from licli.data import load_dataset
from licli.evaluations.accuracy import accuracy
from licli.reporting.console import stdout
from licli.reporting.tables import frame_json, frame_table


@dataclass(frozen=True)
class AccuracyConfig:
    checkpoint: str
    dataset: str | None
    split: str
    batch_size: int


@evaluate_app.command("accuracy")
def evaluate_accuracy(
    checkpoint: Path = typer.Option(..., help="Checkpoint (.safetensors with its .json, or a train run folder)."),
    dataset: str = typer.Option(None, help="Dataset (default: the one the checkpoint was trained on)."),
    split: str = typer.Option("test", help="test or train."),
    batch_size: int = typer.Option(1000, min=1, help="Evaluation batch size."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    data_dir: str = typer.Option(None, help="Data root (else $LICLI_DATA_DIR, else the user cache)."),
    out: str = typer.Option("reports", help="Root folder for run folders."),
    name: str = typer.Option("accuracy", help="Name of this run."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Report clean accuracy and mean cross-entropy of a checkpoint on a dataset split."""
    config = AccuracyConfig(str(checkpoint), dataset, split, batch_size)
    options = RunOptions(device=device, out=out, name=name, data_dir=data_dir)
    with recorded_run("evaluate-accuracy", config, options, seed=None) as (torch_device, run):
        model, ckpt = load_checkpoint(checkpoint, torch_device)
        data = load_dataset(dataset or ckpt.meta.get("dataset", "mnist-mini"), data_dir)
        run.record_input("checkpoint", ckpt.weights, ckpt.meta["weights_sha256"])
        result = accuracy(model, data, split=split, device=torch_device, batch_size=batch_size)
        run.write_csv("accuracy.csv", result)
    console = stdout()
    if json_output:
        console.print_json(frame_json(result, run=str(run.path)))
    else:
        console.print(frame_table(result, title="licli evaluate accuracy", percent_columns=("accuracy",)))
