"""``licli evaluate activations``: activation statistics at the model's slots (NormOut Tables 3.2–3.3)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import typer

from licli.cli.app import evaluate_app, recorded_run
from licli.cli.options import with_model_sources, with_run_options
from licli.cli.per_model import evaluate_each
from licli.config import RunOptions
from licli.evaluations import activations
from licli.models.sources import ModelSource
from licli.reporting.console import show_result
from licli.reporting.summary import with_identities, write_summary


@dataclass(frozen=True)
class ActivationsCommandConfig:
    models: list[str]
    dataset: str | None
    activations: dict


@evaluate_app.command("activations")
@with_model_sources
@with_run_options("activations")
def evaluate_activations(
    options: RunOptions,
    sources: list[ModelSource],
    n: int = typer.Option(1000, help="Number of images."),
    dataset: str = typer.Option(None, help="Dataset (default: the one the first checkpoint was trained on)."),
    split: str = typer.Option("test", help="test or train."),
    batch_size: int = typer.Option(500, help="Batch size."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Mean, max, standard deviation, variance and sparsity of each slot's output (eval mode)."""
    settings = activations.ActivationConfig(n=n, split=split, batch_size=batch_size)
    config = ActivationsCommandConfig([s.describe() for s in sources], dataset, asdict(settings))
    with recorded_run("evaluate-activations", config, options, seed=None) as (torch_device, run):
        _, result = evaluate_each(
            sources, dataset=dataset, data_dir=options.data_dir, device=torch_device, run=run,
            evaluation=lambda net, images: activations.run(net, images, device=torch_device, config=settings))
        run.write_csv("activations.csv", result)
        write_summary(run, with_identities(activations.summary_rows(result), run.manifest))
    show_result(result, run_path=run.path, json_output=json_output,
                title="licli evaluate activations", percent_columns=("sparsity",))
