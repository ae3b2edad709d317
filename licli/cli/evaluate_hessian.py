"""``licli evaluate hessian-trace``: Hutchinson's estimate of the loss Hessian's trace (NormOut §4.3.1)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import typer

from licli.cli.app import evaluate_app, recorded_run
from licli.cli.options import with_model_sources, with_run_options
from licli.cli.per_model import evaluate_each
from licli.config import RunOptions
from licli.evaluations import hessian
from licli.models.sources import ModelSource
from licli.reporting.console import show_result
from licli.reporting.summary import with_identities, write_summary


@dataclass(frozen=True)
class HessianCommandConfig:
    models: list[str]
    dataset: str | None
    hessian: dict


@evaluate_app.command("hessian-trace")
@with_model_sources
@with_run_options("hessian-trace")
def evaluate_hessian_trace(
    options: RunOptions,
    sources: list[ModelSource],
    samples: int = typer.Option(50, help="Rademacher vectors (Hessian-vector products)."),
    n: int = typer.Option(500, help="Number of images defining the loss."),
    params: str = typer.Option("all", help="all trainable parameters, or weights (conv/linear weights only)."),
    power_iterations: int = typer.Option(0, help="Power iterations for the top eigenvalue (0: skip)."),
    seed: int = typer.Option(0, help="Seed for the random vectors."),
    dataset: str = typer.Option(None, help="Dataset (default: the one the first checkpoint was trained on)."),
    split: str = typer.Option("test", help="test or train."),
    batch_size: int = typer.Option(250, help="Batch size of each Hessian-vector product."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Trace of the Hessian of the mean cross-entropy (Hutchinson), with standard error; optional top eigenvalue."""
    settings = hessian.HessianConfig(samples=samples, n=n, params=params, split=split, batch_size=batch_size,
                                     power_iterations=power_iterations, seed=seed)
    config = HessianCommandConfig([s.describe() for s in sources], dataset, asdict(settings))
    with recorded_run("evaluate-hessian-trace", config, options, seed=seed) as (torch_device, run):
        _, result = evaluate_each(
            sources, dataset=dataset, data_dir=options.data_dir, device=torch_device, run=run,
            evaluation=lambda net, images: hessian.run(net, images, device=torch_device, config=settings))
        run.write_csv("hessian_trace.csv", result)
        write_summary(run, with_identities(hessian.summary_rows(result), run.manifest))
    show_result(result, run_path=run.path, json_output=json_output,
                title="licli evaluate hessian-trace")
