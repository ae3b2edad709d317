"""``licli evaluate activations``: activation statistics at the model's slots (NormOut Tables 3.2–3.3)."""

from __future__ import annotations

import typer

from licli.cli.app import evaluate_app
from licli.cli.choices import EVALUATION_DATASET_HELP, SplitName, complete_dataset, value
from licli.cli.options import with_model_sources, with_run_options
from licli.cli.per_model import run_per_model
from licli.config import RunOptions
from licli.evaluations import activations
from licli.sources import ModelSource
from licli.reporting.console import show_result


@evaluate_app.command("activations")
@with_model_sources
@with_run_options("activations")
def evaluate_activations(
    options: RunOptions,
    sources: list[ModelSource],
    n: int = typer.Option(1000, help="Number of images."),
    dataset: str = typer.Option(None, help=f"{EVALUATION_DATASET_HELP} (default: the one the first checkpoint was trained on).", autocompletion=complete_dataset),
    split: SplitName = typer.Option("test", help="test or train."),
    batch_size: int = typer.Option(500, help="Batch size."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Mean, max, standard deviation, variance and sparsity of each slot's output (eval mode)."""
    dataset, split = value(dataset), value(split)
    settings = activations.ActivationConfig(n=n, split=split, batch_size=batch_size)
    run_path, result = run_per_model("activations", sources, options, dataset=dataset, settings=settings, seed=None,
                                     evaluation=activations.run, csv="activations.csv",
                                     summary_rows=activations.summary_rows)
    show_result(result, run_path=run_path, json_output=json_output,
                title="licli evaluate activations", percent_columns=("sparsity",))
