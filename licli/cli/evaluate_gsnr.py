"""``licli evaluate gsnr``: per-layer gradient signal-to-noise ratio (Gradient Mask §3.3.3)."""

from __future__ import annotations

import typer

from licli.cli.app import evaluate_app
from licli.cli.choices import EVALUATION_DATASET_HELP, SplitName, complete_dataset, value
from licli.cli.options import with_model_sources, with_run_options
from licli.cli.per_model import run_per_model
from licli.config import RunOptions
from licli.evaluations import gsnr
from licli.sources import ModelSource
from licli.reporting.console import show_result
from licli.runtime import parse_batch_size


@evaluate_app.command("gsnr")
@with_model_sources
@with_run_options("gsnr")
def evaluate_gsnr(
    options: RunOptions,
    sources: list[ModelSource],
    n: int = typer.Option(1000, help="Number of images (per-sample gradients)."),
    dataset: str = typer.Option(None, help=f"{EVALUATION_DATASET_HELP} (default: the one the first checkpoint was trained on).", autocompletion=complete_dataset),
    split: SplitName = typer.Option("train", help="train or test."),
    batch_size: str = typer.Option("250", help="Batch size, or auto: all --n images at once on CUDA, "
                                   "halved after each out-of-memory error (250 on a CPU)."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """GSNR r(θⱼ) = mean(gⱼ)²/var(gⱼ) over per-sample gradients, mean and median per layer."""
    dataset, split = value(dataset), value(split)
    fixed_batch_size = parse_batch_size(batch_size)
    settings = gsnr.GSNRConfig(n=n, split=split, batch_size=fixed_batch_size or 250)
    run_path, result = run_per_model("gsnr", sources, options, dataset=dataset, settings=settings, seed=None,
                                     evaluation=gsnr.run, csv="gsnr.csv", summary_rows=gsnr.summary_rows,
                                     batch_size_auto=fixed_batch_size is None)
    show_result(result, run_path=run_path, json_output=json_output, title=f"licli evaluate gsnr · n={n}",
                columns=["model", "layer", "parameters", "gsnr_mean", "gsnr_median", "zero_variance", "method"])
