"""``licli evaluate hessian-trace``: Hutchinson's estimate of the loss Hessian's trace (NormOut §4.3.1)."""

from __future__ import annotations

import typer

from licli.cli.app import evaluate_app
from licli.cli.choices import EVALUATION_DATASET_HELP, ParameterSet, SplitName, complete_dataset, value
from licli.cli.options import with_model_sources, with_run_options
from licli.cli.per_model import run_per_model
from licli.config import RunOptions
from licli.evaluations import hessian
from licli.sources import ModelSource
from licli.reporting.console import show_result
from licli.runtime import parse_batch_size


@evaluate_app.command("hessian-trace")
@with_model_sources
@with_run_options("hessian-trace")
def evaluate_hessian_trace(
    options: RunOptions,
    sources: list[ModelSource],
    samples: int = typer.Option(50, help="Rademacher vectors (Hessian-vector products)."),
    n: int = typer.Option(500, help="Number of images defining the loss."),
    params: ParameterSet = typer.Option("all", help="all trainable parameters, or weights (conv/linear weights only)."),
    power_iterations: int = typer.Option(0, help="Power iterations for the top eigenvalue (0: skip)."),
    seed: int = typer.Option(0, help="Seed for the random vectors."),
    dataset: str = typer.Option(None, help=f"{EVALUATION_DATASET_HELP} (default: the one the first checkpoint was trained on).", autocompletion=complete_dataset),
    split: SplitName = typer.Option("test", help="test or train."),
    batch_size: str = typer.Option("250", help="Batch size of each Hessian-vector product, or auto: all "
                                   "--n images at once on CUDA, halved after each out-of-memory error (250 on a CPU)."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Trace of the Hessian of the mean cross-entropy (Hutchinson), with standard error; optional top eigenvalue."""
    params, dataset, split = value(params), value(dataset), value(split)
    fixed_batch_size = parse_batch_size(batch_size)
    settings = hessian.HessianConfig(samples=samples, n=n, params=params, split=split, batch_size=fixed_batch_size or 250,
                                     power_iterations=power_iterations, seed=seed)
    run_path, result = run_per_model("hessian-trace", sources, options, dataset=dataset, settings=settings, seed=seed,
                                     evaluation=hessian.run, csv="hessian_trace.csv",
                                     summary_rows=hessian.summary_rows,
                                     batch_size_auto=fixed_batch_size is None)
    show_result(result, run_path=run_path, json_output=json_output,
                title="licli evaluate hessian-trace")
