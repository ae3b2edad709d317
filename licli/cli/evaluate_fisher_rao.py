"""``licli evaluate fisher-rao``: the Fisher-Rao norm θᵀFθ of one or more models (NormOut Table 3.6)."""

from __future__ import annotations

import typer

from licli.cli.app import evaluate_app
from licli.cli.choices import EVALUATION_DATASET_HELP, Fisher, ParameterSet, SplitName, complete_dataset, value
from licli.cli.options import with_model_sources, with_run_options
from licli.cli.per_model import run_per_model
from licli.config import RunOptions
from licli.evaluations import fisher_rao
from licli.sources import ModelSource
from licli.reporting.console import show_result
from licli.runtime import parse_batch_size


@evaluate_app.command("fisher-rao")
@with_model_sources
@with_run_options("fisher-rao")
def evaluate_fisher_rao(
    options: RunOptions,
    sources: list[ModelSource],
    fisher: Fisher = typer.Option("empirical", help="empirical (y = label) or model (y sampled from the softmax)."),
    params: ParameterSet = typer.Option("all", help="all trainable parameters, or weights (conv/linear weights only)."),
    n: int = typer.Option(1000, help="Number of images."),
    seed: int = typer.Option(0, help="Seed for the labels sampled with --fisher model."),
    dataset: str = typer.Option(None, help=f"{EVALUATION_DATASET_HELP} (default: the one the first checkpoint was trained on).", autocompletion=complete_dataset),
    split: SplitName = typer.Option("test", help="test or train."),
    batch_size: str = typer.Option("250", help="Batch size of the forward-mode pass, or auto: all --n "
                                   "images at once on CUDA, halved after each out-of-memory error (250 on a CPU)."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Fisher-Rao norm ‖θ‖²_fr = E[(θ·∇θℓ)²] with its standard error, by forward-mode AD (NormOut §1.4.1)."""
    fisher, params, dataset, split = value(fisher), value(params), value(dataset), value(split)
    fixed_batch_size = parse_batch_size(batch_size)
    settings = fisher_rao.FisherRaoConfig(fisher=fisher, params=params, n=n, split=split, batch_size=fixed_batch_size or 250,
                                          seed=seed)
    run_path, result = run_per_model("fisher-rao", sources, options, dataset=dataset, settings=settings, seed=seed,
                                     evaluation=fisher_rao.run, csv="fisher_rao.csv",
                                     summary_rows=fisher_rao.summary_rows,
                                     batch_size_auto=fixed_batch_size is None)
    show_result(result, run_path=run_path, json_output=json_output, title="licli evaluate fisher-rao (value = θᵀFθ)",
                columns=["model", "n", "fisher", "params", "parameter_count", "value", "stderr", "sqrt"])
