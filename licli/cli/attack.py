"""``licli attack``: robust accuracy under cleverhans and AutoAttack attacks (NormOut Tables 3.4–3.5)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd
import typer

from licli.attacks import ATTACKS, Threat, parse_budget, parse_budgets
from licli.attacks.runner import at_precision
from licli.cli.app import app, recorded_run
from licli.cli.choices import (EVALUATION_DATASET_HELP, AttackBackend, Norm, Precision, Subset, TargetRule,
                                complete_dataset, value)
from licli.cli.config_file import field_flags
from licli.cli.options import with_model_sources, with_run_options
from licli.config import RunOptions
from licli.data import load_dataset
from licli.data.core import on_device
from licli.errors import CheckFailed, LicliError
from licli.evaluations.masking_checks import FAIL, masking_report
from licli.evaluations.robustness import (SUBSETS, AttackSettings, RobustnessResult, Shard, evaluate_robustness,
                                          robustness_table, summary_rows)
from licli.parsing import comma_list
from licli.sources import ModelSource, check_fits, load_models_for
from licli.reporting.console import PartProgress, stdout
from licli.reporting.plots import robustness_curve
from licli.reporting.summary import with_identities, write_summary
from licli.reporting.tables import frame_json, frame_table
from licli.runtime import check_precision, first_batch_size, largest_batch_that_fits, parse_batch_size, precision_scope

DEFAULT_BATCH_SIZE = 250


@dataclass(frozen=True)
class AttackCommandConfig:
    models: list[str]
    dataset: str | None
    settings: AttackSettings
    n: int | None
    subset: str
    common_correct: bool
    eps_sweep: tuple[Threat, ...] | None
    masking_check: bool
    fail_on_masking: bool
    shard: Shard = Shard()
    precision: str = "fp32"
    batch_size_auto: bool = False

    def __post_init__(self) -> None:
        if not self.settings.eps > 0:
            raise LicliError(f"eps must be > 0 (got {self.settings.eps})", "pass e.g. eps=8/255", field="eps")
        if self.n is not None and self.n < 1:
            raise LicliError(f"n must be ≥ 1 (got {self.n})", "pass e.g. n=1000", field="n")
        if self.subset not in SUBSETS:
            raise LicliError(f"unknown subset {self.subset!r}", f"choose one of: {', '.join(SUBSETS)}", field="subset")
        if self.fail_on_masking and not self.masking_check:
            raise LicliError("--fail-on-masking needs --masking-check", "add --masking-check")
        if self.masking_check and self.shard.count > 1:
            raise LicliError("--masking-check runs on the whole selection, not on a --shard",
                             "run the masking checks without --shard")
        if self.batch_size_auto and self.shard.count > 1:
            raise LicliError("--shard splits by batch number, so every shard needs the same fixed --batch-size",
                             "pass a number to --batch-size, e.g. --batch-size 250")
        check_precision(self.precision)


@app.command("attack")
@field_flags(eot_samples="eot", target_rule="targets")
@with_model_sources
@with_run_options("attack")
def attack(
    options: RunOptions,
    sources: list[ModelSource],
    attacks: str = typer.Option("fgsm,pgd,pgd-t,square", help=f"Comma-separated, from: {', '.join(ATTACKS)}."),
    norm: Norm = typer.Option("linf", case_sensitive=False, help="Threat norm (also RobustBench's Linf, L2)."),
    eps: str = typer.Option("8/255", help="Budget ε in pixel units of [0, 1] images (fractions allowed; "
                                          "a budget reaching every image must be written inf)."),
    steps: int = typer.Option(10, help="Iterations of PGD / APGD / FAB."),
    step_size: str = typer.Option("3/255", help="PGD step (clamped to ε)."),
    n_queries: int = typer.Option(5000, help="Queries of the Square attack."),
    random_start: bool = typer.Option(True, "--random-start/--no-random-start", help="PGD starts at a random point."),
    targets: TargetRule = typer.Option("random", help="Targets of pgd-t: random (seeded) or least-likely."),
    n: int = typer.Option(None, help="Attack the first N selected test images (default: all)."),
    subset: Subset = typer.Option("all", help="all, or correct (only images the model classifies correctly)."),
    common_correct: bool = typer.Option(False, "--common-correct",
                                        help="Attack only images every given model classifies correctly."),
    eps_sweep: str = typer.Option(None, help="Comma-separated budgets, e.g. 0,1/255,2/255,8/255,inf (CSV + PNG)."),
    eot: int = typer.Option(0, help="0: stochastic mechanisms in eval mode. k>0: mechanisms active, EOT over k draws."),
    masking_check: bool = typer.Option(False, "--masking-check", help="Run the gradient-masking red-flag checks."),
    fail_on_masking: bool = typer.Option(False, "--fail-on-masking", help="Exit 1 if a masking check fails."),
    dataset: str = typer.Option(None, help=f"{EVALUATION_DATASET_HELP} (default: the one the checkpoint was trained on).", autocompletion=complete_dataset),
    batch_size: str = typer.Option(str(DEFAULT_BATCH_SIZE), help="Images per attack batch, or auto: all images at "
                                   "once on CUDA, halved after each out-of-memory error (250 on a CPU)."),
    backend: AttackBackend = typer.Option("native", help="FGSM/PGD implementation (cleverhans is the reference; "
                                          "bit-identical, slower on CUDA)."),
    precision: Precision = typer.Option("fp32", help="Forward precision of the attacked models "
                                        "(see docs/performance.md)."),
    seed: int = typer.Option(0, help="Seed of random starts and random targets (drawn per image: the same for "
                             "any --batch-size and --shard) and of Square/APGD/FAB (per batch: a batch starting at "
                             "image p of the selection uses seed + p)."),
    shard: str = typer.Option(None, help="i/k: attack only the batches whose number is i mod k (merge the k runs "
                              "with `licli merge-shards`; equal to the unsharded run)."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Robust accuracy of one or more models under attack, like NormOut Table 3.4 (rows = models)."""
    norm, targets, subset, dataset = value(norm), value(targets), value(subset), value(dataset)
    backend, precision = value(backend), value(precision)
    fixed_batch_size = parse_batch_size(batch_size)
    settings = AttackSettings(attacks=comma_list(attacks), norm=norm, eps=parse_budget(eps),
                              steps=steps, step_size=parse_budget(step_size, "step_size"), n_queries=n_queries,
                              random_start=random_start, target_rule=targets, batch_size=fixed_batch_size or
                              DEFAULT_BATCH_SIZE, seed=seed, eot_samples=eot, backend=backend)
    sweep = tuple(settings.threat.at(budget) for budget in parse_budgets(eps_sweep)) if eps_sweep else None
    config = AttackCommandConfig([s.describe() for s in sources], dataset, settings, n, subset, common_correct,
                                 sweep, masking_check, fail_on_masking,
                                 Shard.parse(shard), precision, fixed_batch_size is None)
    with recorded_run("attack", config, options, seed=seed) as (torch_device, run), \
            precision_scope(precision, torch_device) as numerics:
        run.note("numerics", numerics)
        progress = PartProgress()
        loaded, data = load_models_for(sources, torch_device, dataset,
                                       lambda name: load_dataset(name, options.data_dir, on_progress=progress))
        run.record_dataset(data)
        for item in loaded:
            check_fits(item, data)
            run.record_model(item)
        test = on_device(data.test, torch_device)
        models = {item.label: at_precision(item.model, precision) for item in loaded}
        result, used = largest_batch_that_fits(
            lambda size: evaluate_robustness(models, test.images, test.labels, replace(settings, batch_size=size),
                                             n=n, subset=subset, common_correct=common_correct,
                                             threats=config.eps_sweep, shard=config.shard, on_progress=progress),
            first_batch_size(torch_device, n or len(test), DEFAULT_BATCH_SIZE) if fixed_batch_size is None
            else settings.batch_size, back_off=fixed_batch_size is None)
        settings = replace(settings, batch_size=used)
        record = {
            "dataset": data.name, "eps_given": eps, "eps_sweep_given": eps_sweep, "eps": settings.eps,
            "eps_values": [threat.eps for threat in config.eps_sweep or [settings.threat]],
            "samples": {label: len(chosen) for label, chosen in result.selected.items()},
            "common_correct": result.common_correct, "split_size": len(test), "batch_size": used,
            "degeneracy": {label: v.to_dict() for label, v in result.degeneracy.items()}}
        run.write_csv("samples.csv", result.samples)
        run.write_csv("attacks.csv", result.summary)
        rows = summary_rows(result.summary, result.degeneracy)
        if config.shard.count > 1:  # a shard's numbers are partial: never mistaken for the whole run's
            record["shard"] = [config.shard.index, config.shard.count]
            rows["setting"] += f";shard={config.shard.index}/{config.shard.count}"
        run.note("attack", record)
        write_summary(run, with_identities(rows, run.models))
        if config.eps_sweep:
            run.save_figure("sweep.png", robustness_curve(result.summary, title=f"{data.name} · {norm}"))
        masking = pd.DataFrame()
        if masking_check:
            masking = pd.concat([masking_report(models[label], test.images[chosen.to(test.images.device)].to(torch_device),
                                                test.labels[chosen], chosen,
                                                settings, model_degeneracy=result.degeneracy[label],
                                                on_progress=progress, label=f"{label} · ").assign(model=label)
                                 for label, chosen in result.selected.items()], ignore_index=True)
            masking = masking[["model", *[c for c in masking.columns if c != "model"]]]
            run.write_csv("masking.csv", masking)
        _report(result, masking, config, str(run.path), json_output)
        failed = masking[masking["verdict"] == FAIL] if fail_on_masking else masking.iloc[0:0]
        if len(failed):
            raise CheckFailed(f"{len(failed)} gradient-masking check(s) failed: "
                              + ", ".join(f"{r.model}:{r.check}" for r in failed.itertuples()),
                              f"see {run.path / 'masking.csv'}")


def _report(result: RobustnessResult, masking: pd.DataFrame, config: AttackCommandConfig, path: str, json_output: bool) -> None:
    console = stdout()
    if json_output:
        console.print_json(frame_json(result.summary, run=path, common_correct=result.common_correct,
                                      degeneracy={k: v.to_dict() for k, v in result.degeneracy.items()},
                                      masking=masking.to_dict(orient="records")))
        return
    table = robustness_table(result.summary, result.degeneracy, result.seconds)
    attacks = tuple(c for c in table.columns if c not in ("model", "model check", "eps", "seconds"))
    counts = ", ".join(f"{label}: {len(chosen)}" for label, chosen in result.selected.items())
    caption = f"robust accuracy % · images attacked ({counts})"
    if config.common_correct:
        caption += f" · {result.common_correct} images all models classify correctly"
    console.print(frame_table(table, title=f"licli attack ({config.settings.norm})", percent_columns=attacks,
                              captions={"caption": caption}))
    for label, verdict in result.degeneracy.items():
        if verdict.degenerate:
            console.print(f"{label}: {verdict.describe()} — its robust accuracy is no evidence of robustness",
                          highlight=False)
    if len(masking):
        console.print(frame_table(masking[["model", "check", "verdict", "evidence", "seconds"]], title="gradient-masking checks"))
