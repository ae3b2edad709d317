"""``licli evaluate prune``: accuracy and loss against the fraction of weights pruned (L1, unstructured)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd
import typer

from licli.attacks import ATTACKS, parse_budget
from licli.cli.app import evaluate_app, recorded_run
from licli.cli.choices import EVALUATION_DATASET_HELP, Norm, PruneScope, SplitName, complete_dataset, value
from licli.cli.options import with_model_sources, with_run_options
from licli.cli.per_model import evaluate_each
from licli.config import RunOptions
from licli.errors import LicliError
from licli.evaluations import pruning
from licli.evaluations.robustness import AttackSettings, worst_case_accuracy
from licli.parsing import comma_list
from licli.sources import ModelSource
from licli.reporting.console import PartProgress, stdout
from licli.reporting.plots import pruning_curves
from licli.reporting.summary import with_identities, write_summary
from licli.reporting.tables import frame_json, frame_table


@dataclass(frozen=True)
class PruneCommandConfig:
    models: list[str]
    dataset: str | None
    pruning: dict
    attack: dict | None
    attack_n: int


@evaluate_app.command("prune")
@with_model_sources
@with_run_options("prune")
def evaluate_prune(
    options: RunOptions,
    sources: list[ModelSource],
    scope: PruneScope = typer.Option("global", help="global (one threshold for all layers) or layerwise."),
    levels: str = typer.Option(",".join(map(str, pruning.DEFAULT_LEVELS)),
                               help="Fractions of weights to prune, each in [0, 1), comma-separated."),
    dataset: str = typer.Option(None, help=f"{EVALUATION_DATASET_HELP} (default: the one the first checkpoint was trained on).", autocompletion=complete_dataset),
    split: SplitName = typer.Option("test", help="test or train."),
    attacks: str = typer.Option(None, "--attack", help="Also measure robust accuracy at each level: the worst case "
                                                       f"of these comma-separated attacks ({', '.join(ATTACKS)})."),
    norm: Norm = typer.Option("linf", case_sensitive=False, help="--attack: threat norm (also Linf, L2)."),
    eps: str = typer.Option("8/255", help="--attack: budget ε in pixel units (fractions allowed)."),
    attack_n: int = typer.Option(500, "--attack-n", help="--attack: attack the first N images of the split."),
    batch_size: int = typer.Option(1000, help="Evaluation batch size."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Prune the smallest-magnitude conv/linear weights at each level and report accuracy and loss
    (Gradient Mask §3.3.1, Fig. 5). Writes pruning.csv (per level and layer), curve.png and auc.csv."""
    scope, dataset, split, norm = value(scope), value(dataset), value(split), value(norm)
    settings = pruning.PruneConfig(scope=scope, levels=pruning.parse_levels(levels), split=split,
                                   batch_size=batch_size)
    if attack_n < 1:
        raise LicliError(f"--attack-n must be ≥ 1 (got {attack_n})", "pass e.g. --attack-n 500")
    attack_settings = AttackSettings(attacks=comma_list(attacks), norm=norm,
                                     eps=parse_budget(eps)) if attacks else None
    config = PruneCommandConfig([s.describe() for s in sources], dataset, asdict(settings),
                                asdict(attack_settings) if attack_settings else None, attack_n)
    with recorded_run("evaluate-prune", config, options, seed=None) as (torch_device, run):
        data, result = evaluate_each(
            sources, dataset=dataset, data_dir=options.data_dir, device=torch_device, run=run,
            evaluation=lambda net, images: pruning.run(
                net, images, device=torch_device, config=settings,
                robust_accuracy=worst_case_accuracy(attack_settings, attack_n) if attack_settings else None,
                on_progress=PartProgress()))
        curve = result[result.layer == "all"].drop(columns="layer")
        areas = pd.DataFrame([{"model": model, "auc_accuracy": pruning.curve_area(rows),
                               **({"auc_robust_accuracy": pruning.curve_area(rows, "robust_accuracy")}
                                  if "robust_accuracy" in rows else {})}
                              for model, rows in curve.groupby("model", sort=False)])
        run.write_csv("pruning.csv", result)
        run.write_csv("auc.csv", areas)
        write_summary(run, with_identities(pruning.summary_rows(curve, scope=scope, dataset=data.name, split=split),
                                           run.models))
        run.save_figure("curve.png", pruning_curves(curve, title=f"L1 pruning ({scope}) on {data.name}"))
    console = stdout()
    if json_output:
        console.print_json(frame_json(curve, run=str(run.path), auc=areas.to_dict(orient="records")))
    else:
        shown = ["model", "level", "sparsity", "accuracy", *(["robust_accuracy"] if attacks else []), "loss", "seconds"]
        console.print(frame_table(curve[shown],
                                  title=f"licli evaluate prune · {scope}",
                                  percent_columns=("sparsity", "accuracy", "robust_accuracy")))
        console.print(frame_table(areas, title="area under accuracy vs sparsity"))
        console.print(f"run: {run.path}", highlight=False)
