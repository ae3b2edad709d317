"""``licli evaluate gsnr``: per-layer gradient signal-to-noise ratio (Gradient Mask §3.3.3)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import typer

from licli.cli.app import evaluate_app, recorded_run
from licli.cli.options import with_model_sources, with_run_options
from licli.cli.per_model import evaluate_each
from licli.config import RunOptions
from licli.evaluations import gsnr
from licli.models.sources import ModelSource
from licli.reporting.console import show_result
from licli.reporting.summary import with_identities, write_summary


@dataclass(frozen=True)
class GSNRCommandConfig:
    models: list[str]
    dataset: str | None
    gsnr: dict


@evaluate_app.command("gsnr")
@with_model_sources
@with_run_options("gsnr")
def evaluate_gsnr(
    options: RunOptions,
    sources: list[ModelSource],
    n: int = typer.Option(1000, help="Number of images (per-sample gradients)."),
    dataset: str = typer.Option(None, help="Dataset (default: the one the first checkpoint was trained on)."),
    split: str = typer.Option("train", help="train or test."),
    batch_size: int = typer.Option(250, help="Batch size."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """GSNR r(θⱼ) = mean(gⱼ)²/var(gⱼ) over per-sample gradients, mean and median per layer."""
    settings = gsnr.GSNRConfig(n=n, split=split, batch_size=batch_size)
    config = GSNRCommandConfig([s.describe() for s in sources], dataset, asdict(settings))
    with recorded_run("evaluate-gsnr", config, options, seed=None) as (torch_device, run):
        _, result = evaluate_each(
            sources, dataset=dataset, data_dir=options.data_dir, device=torch_device, run=run,
            evaluation=lambda net, images: gsnr.run(net, images, device=torch_device, config=settings))
        run.write_csv("gsnr.csv", result)
        write_summary(run, with_identities(gsnr.summary_rows(result), run.manifest))
    show_result(result, run_path=run.path, json_output=json_output, title=f"licli evaluate gsnr · n={n}",
                columns=["model", "layer", "parameters", "gsnr_mean", "gsnr_median", "zero_variance", "method"])
