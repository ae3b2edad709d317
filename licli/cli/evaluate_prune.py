"""``licli evaluate prune``: accuracy and loss against the fraction of weights pruned (L1, unstructured)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd
import typer

from licli.cli.app import evaluate_app, recorded_run
from licli.cli.options import with_model_sources
from licli.cli.per_model import evaluate_each
from licli.config import RunOptions
from licli.evaluations import pruning
from licli.models.sources import ModelSource
from licli.reporting.console import stdout
from licli.reporting.plots import pruning_curves
from licli.reporting.summary import with_identities, write_summary
from licli.reporting.tables import frame_json, frame_table


@dataclass(frozen=True)
class PruneCommandConfig:
    models: list[str]
    dataset: str | None
    pruning: dict


@evaluate_app.command("prune")
@with_model_sources
def evaluate_prune(
    sources: list[ModelSource],
    scope: str = typer.Option("global", help="global (one threshold for all layers) or layerwise."),
    levels: str = typer.Option(",".join(map(str, pruning.DEFAULT_LEVELS)),
                               help="Fractions of weights to prune, each in [0, 1), comma-separated."),
    dataset: str = typer.Option(None, help="Dataset (default: the one the first checkpoint was trained on)."),
    split: str = typer.Option("test", help="test or train."),
    batch_size: int = typer.Option(1000, help="Evaluation batch size."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N."),
    data_dir: str = typer.Option(None, help="Data root (else $LICLI_DATA_DIR, else the user cache)."),
    out: str = typer.Option("reports", help="Root folder for run folders."),
    name: str = typer.Option("prune", help="Name of this run."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Prune the smallest-magnitude conv/linear weights at each level and report accuracy and loss
    (Gradient Mask §3.3.1, Fig. 5). Writes pruning.csv (per level and layer), curve.png and auc.csv."""
    settings = pruning.PruneConfig(scope=scope, levels=pruning.parse_levels(levels), split=split,
                                   batch_size=batch_size)
    config = PruneCommandConfig([s.describe() for s in sources], dataset, asdict(settings))
    options = RunOptions(device=device, out=out, name=name, data_dir=data_dir)
    with recorded_run("evaluate-prune", config, options, seed=None) as (torch_device, run):
        data, result = evaluate_each(
            sources, dataset=dataset, data_dir=data_dir, device=torch_device, run=run,
            evaluation=lambda net, images: pruning.run(net, images, device=torch_device, config=settings))
        curve = result[result.layer == "all"].drop(columns="layer")
        areas = pd.DataFrame([{"model": model, "auc_accuracy": pruning.curve_area(rows),
                               **({"auc_robust_accuracy": pruning.curve_area(rows, "robust_accuracy")}
                                  if "robust_accuracy" in rows else {})}
                              for model, rows in curve.groupby("model", sort=False)])
        run.write_csv("pruning.csv", result)
        run.write_csv("auc.csv", areas)
        write_summary(run, with_identities(pruning.summary_rows(curve, scope=scope, dataset=data.name, split=split),
                                           run.manifest))
        pruning_curves(curve, run.file("curve.png"), title=f"L1 pruning ({scope}) on {data.name}")
        run.manifest["files"]["curve.png"] = {}
    console = stdout()
    if json_output:
        console.print_json(frame_json(curve, run=str(run.path), auc=areas.to_dict(orient="records")))
    else:
        console.print(frame_table(curve[["model", "level", "sparsity", "accuracy", "loss"]],
                                  title=f"licli evaluate prune · {scope}",
                                  percent_columns=("sparsity", "accuracy")))
        console.print(frame_table(areas, title="area under accuracy vs sparsity"))
        console.print(f"run: {run.path}", highlight=False)
