"""``licli evaluate fisher-rao``: the Fisher-Rao norm θᵀFθ of one or more models (NormOut Table 3.6)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import typer

from licli.cli.app import evaluate_app, recorded_run
from licli.cli.options import with_model_sources, with_run_options
from licli.cli.per_model import evaluate_each
from licli.config import RunOptions
from licli.evaluations import fisher_rao
from licli.models.sources import ModelSource
from licli.reporting.console import show_result
from licli.reporting.summary import with_identities, write_summary


@dataclass(frozen=True)
class FisherRaoCommandConfig:
    models: list[str]
    dataset: str | None
    fisher_rao: dict


@evaluate_app.command("fisher-rao")
@with_model_sources
@with_run_options("fisher-rao")
def evaluate_fisher_rao(
    options: RunOptions,
    sources: list[ModelSource],
    fisher: str = typer.Option("empirical", help="empirical (y = label) or model (y sampled from the softmax)."),
    params: str = typer.Option("all", help="all trainable parameters, or weights (conv/linear weights only)."),
    n: int = typer.Option(1000, help="Number of images."),
    seed: int = typer.Option(0, help="Seed for the labels sampled with --fisher model."),
    dataset: str = typer.Option(None, help="Dataset (default: the one the first checkpoint was trained on)."),
    split: str = typer.Option("test", help="test or train."),
    batch_size: int = typer.Option(250, help="Batch size of the forward-mode pass."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Fisher-Rao norm ‖θ‖²_fr = E[(θ·∇θℓ)²] with its standard error, by forward-mode AD (NormOut §1.4.1)."""
    settings = fisher_rao.FisherRaoConfig(fisher=fisher, params=params, n=n, split=split, batch_size=batch_size,
                                          seed=seed)
    config = FisherRaoCommandConfig([s.describe() for s in sources], dataset, asdict(settings))
    with recorded_run("evaluate-fisher-rao", config, options, seed=seed) as (torch_device, run):
        _, result = evaluate_each(
            sources, dataset=dataset, data_dir=options.data_dir, device=torch_device, run=run,
            evaluation=lambda net, images: fisher_rao.run(net, images, device=torch_device, config=settings))
        run.write_csv("fisher_rao.csv", result)
        write_summary(run, with_identities(fisher_rao.summary_rows(result), run.manifest))
    show_result(result, run_path=run.path, json_output=json_output, title="licli evaluate fisher-rao (value = θᵀFθ)",
                columns=["model", "n", "fisher", "params", "parameter_count", "value", "stderr", "sqrt"])
