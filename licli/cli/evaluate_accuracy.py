"""``licli evaluate accuracy``: clean accuracy and loss of a checkpoint."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from licli.cli.app import evaluate_app, recorded_run
from licli.cli.choices import EVALUATION_DATASET_HELP, SplitName, complete_dataset, value
from licli.cli.options import with_model_sources, with_run_options
from licli.cli.per_model import evaluate_each
from licli.config import RunOptions
from licli.evaluations.accuracy import accuracy
from licli.sources import ModelSource
from licli.reporting.console import show_result


@dataclass(frozen=True)
class AccuracyCommandConfig:
    models: list[str]
    dataset: str | None
    split: str
    batch_size: int


@evaluate_app.command("accuracy")
@with_model_sources
@with_run_options("accuracy")
def evaluate_accuracy(
    options: RunOptions,
    sources: list[ModelSource],
    dataset: str = typer.Option(None, help=f"{EVALUATION_DATASET_HELP} (default: the one the checkpoint was trained on).", autocompletion=complete_dataset),
    split: SplitName = typer.Option("test", help="test or train."),
    batch_size: int = typer.Option(1000, min=1, help="Evaluation batch size."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Report clean accuracy and mean cross-entropy of one or more models on a dataset split."""
    dataset, split = value(dataset), value(split)
    config = AccuracyCommandConfig([s.describe() for s in sources], dataset, split, batch_size)
    with recorded_run("evaluate-accuracy", config, options, seed=None) as (torch_device, run):
        _, result = evaluate_each(
            sources, dataset=dataset, data_dir=options.data_dir, device=torch_device, run=run,
            evaluation=lambda net, data: accuracy(net, data, split=split, device=torch_device, batch_size=batch_size))
        run.write_csv("accuracy.csv", result)
    show_result(result, run_path=run.path, json_output=json_output,
                title="licli evaluate accuracy", percent_columns=("accuracy",))
