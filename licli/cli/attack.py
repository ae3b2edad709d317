"""``licli attack``: robust accuracy under cleverhans and AutoAttack attacks (NormOut Tables 3.4–3.5)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import typer

from licli.attacks import ATTACKS, parse_budget, parse_budgets
from licli.cli.app import app, recorded_run
from licli.cli.options import with_model_sources, with_run_options
from licli.config import RunOptions
from licli.data import load_dataset
from licli.errors import CheckFailed, LicliError
from licli.evaluations.masking_checks import FAIL, masking_report
from licli.evaluations.robustness import (SUBSETS, AttackSettings, RobustnessResult, evaluate_robustness,
                                          robustness_table, summary_rows)
from licli.models.sources import ModelSource, load_models
from licli.reporting.console import PartProgress, stdout
from licli.reporting.plots import robustness_curve
from licli.reporting.summary import with_identities, write_summary
from licli.reporting.tables import frame_json, frame_table


@dataclass(frozen=True)
class AttackConfig:
    models: list[str]
    dataset: str | None
    settings: AttackSettings
    n: int | None
    subset: str
    common_correct: bool
    eps_sweep: list[float] | None
    masking_check: bool
    fail_on_masking: bool

    def __post_init__(self) -> None:
        if not self.settings.eps > 0:
            raise LicliError(f"--eps must be > 0 (got {self.settings.eps})", "pass e.g. --eps 8/255")
        if self.n is not None and self.n < 1:
            raise LicliError(f"--n must be ≥ 1 (got {self.n})", "pass e.g. --n 1000")
        if self.subset not in SUBSETS:
            raise LicliError(f"unknown subset {self.subset!r}", f"choose one of: {', '.join(SUBSETS)}")
        if self.fail_on_masking and not self.masking_check:
            raise LicliError("--fail-on-masking needs --masking-check", "add --masking-check")


def _names(text: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in text.split(",") if name.strip())


@app.command("attack")
@with_model_sources
@with_run_options("attack")
def attack(
    options: RunOptions,
    sources: list[ModelSource],
    attacks: str = typer.Option("fgsm,pgd,pgd-t,square", help=f"Comma-separated, from: {', '.join(ATTACKS)}."),
    norm: str = typer.Option("linf", help="linf or l2."),
    eps: str = typer.Option("8/255", help="Budget ε in pixel units of [0, 1] images (fractions allowed)."),
    steps: int = typer.Option(10, help="Iterations of PGD / APGD / FAB."),
    step_size: str = typer.Option("3/255", help="PGD step (clamped to ε)."),
    n_queries: int = typer.Option(5000, help="Queries of the Square attack."),
    random_start: bool = typer.Option(True, "--random-start/--no-random-start", help="PGD starts at a random point."),
    targets: str = typer.Option("random", help="Targets of pgd-t: random (seeded) or least-likely."),
    n: int = typer.Option(None, help="Attack the first N selected test images (default: all)."),
    subset: str = typer.Option("all", help="all, or correct (only images the model classifies correctly)."),
    common_correct: bool = typer.Option(False, "--common-correct",
                                        help="Attack only images every given model classifies correctly."),
    eps_sweep: str = typer.Option(None, help="Comma-separated budgets, e.g. 0,1/255,2/255,8/255,inf (CSV + PNG)."),
    eot: int = typer.Option(0, help="0: stochastic mechanisms in eval mode. k>0: mechanisms active, EOT over k draws."),
    masking_check: bool = typer.Option(False, "--masking-check", help="Run the gradient-masking red-flag checks."),
    fail_on_masking: bool = typer.Option(False, "--fail-on-masking", help="Exit 1 if a masking check fails."),
    dataset: str = typer.Option(None, help="Dataset (default: the one the checkpoint was trained on)."),
    batch_size: int = typer.Option(250, help="Images per attack batch."),
    seed: int = typer.Option(0, help="Seed of random starts, Square and random targets."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Robust accuracy of one or more models under attack, like NormOut Table 3.4 (rows = models)."""
    settings = AttackSettings(attacks=_names(attacks), norm=norm, eps=parse_budget(eps),
                              steps=steps, step_size=parse_budget(step_size, "--step-size"), n_queries=n_queries,
                              random_start=random_start, target_rule=targets, batch_size=batch_size, seed=seed,
                              eot_samples=eot)
    config = AttackConfig([s.describe() for s in sources], dataset, settings, n, subset, common_correct,
                          parse_budgets(eps_sweep) if eps_sweep else None, masking_check, fail_on_masking)
    with recorded_run("attack", config, options, seed=seed) as (torch_device, run):
        loaded = load_models(sources, torch_device)
        data = load_dataset(dataset or loaded[0].dataset or "mnist-mini", options.data_dir)
        run.record_dataset(data.files)
        for item in loaded:
            run.record_model(item.label, item.files)
        test = data.test.to(torch_device)
        models = {item.label: item.model for item in loaded}
        progress = PartProgress()
        result = evaluate_robustness(models, test.images, test.labels, settings, n=n, subset=subset,
                                     common_correct=common_correct, eps_values=config.eps_sweep,
                                     on_progress=progress)
        run.manifest["attack"] = {
            "dataset": data.name, "eps_given": eps, "eps_sweep_given": eps_sweep, "eps": settings.eps, "eps_values": config.eps_sweep or [settings.eps],
            "samples": {label: len(chosen) for label, chosen in result.selected.items()},
            "common_correct": result.common_correct, "split_size": len(test)}
        run.write_csv("samples.csv", result.samples)
        run.write_csv("attacks.csv", result.summary)
        write_summary(run, with_identities(summary_rows(result.summary), run.manifest))
        if config.eps_sweep:
            robustness_curve(result.summary, run.file("sweep.png"), title=f"{data.name} · {norm}")
            run.manifest["files"]["sweep.png"] = {}
        masking = pd.DataFrame()
        if masking_check:
            masking = pd.concat([masking_report(models[label], test.images[chosen], test.labels[chosen], chosen,
                                                settings, on_progress=progress, label=f"{label} · ").assign(model=label)
                                 for label, chosen in result.selected.items()], ignore_index=True)
            masking = masking[["model", *[c for c in masking.columns if c != "model"]]]
            run.write_csv("masking.csv", masking)
        _report(result, masking, config, str(run.path), json_output)
        failed = masking[masking["verdict"] == FAIL] if fail_on_masking else masking.iloc[0:0]
        if len(failed):
            raise CheckFailed(f"{len(failed)} gradient-masking check(s) failed: "
                              + ", ".join(f"{r.model}:{r.check}" for r in failed.itertuples()),
                              f"see {run.path / 'masking.csv'}")


def _report(result: RobustnessResult, masking: pd.DataFrame, config: AttackConfig, path: str, json_output: bool) -> None:
    console = stdout()
    if json_output:
        console.print_json(frame_json(result.summary, run=path, common_correct=result.common_correct,
                                      masking=masking.to_dict(orient="records")))
        return
    table = robustness_table(result.summary, result.seconds)
    attacks = tuple(c for c in table.columns if c not in ("model", "eps", "seconds"))
    counts = ", ".join(f"{label}: {len(chosen)}" for label, chosen in result.selected.items())
    caption = f"robust accuracy % · images attacked ({counts})"
    if config.common_correct:
        caption += f" · {result.common_correct} images all models classify correctly"
    console.print(frame_table(table, title=f"licli attack ({config.settings.norm})", percent_columns=attacks,
                              captions={"caption": caption}))
    if len(masking):
        console.print(frame_table(masking[["model", "check", "verdict", "evidence", "seconds"]], title="gradient-masking checks"))
