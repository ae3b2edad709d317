"""``licli verdict``: is the mechanism more robust than its baseline, or does it only look like it?"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import typer
from rich.panel import Panel
from rich.text import Text

from licli.attacks import ATTACKS, parse_budgets
from licli.checkpoints import save_checkpoint
from licli.cli.app import app, recorded_run
from licli.cli.choices import DatasetName, Decision, Norm, value
from licli.cli.config_file import field_flags
from licli.cli.options import with_run_options
from licli.config import RunOptions, load_toml, resolve
from licli.training.config import TrainConfig
from licli.data import load_dataset
from licli.errors import CheckFailed, LicliError
from licli.evaluations.masking_checks import MASKING_CHECKS
from licli.evaluations.verdict import (DECISIONS, INCONCLUSIVE, MORE, SAME, Verdict, VerdictConfig, default_eps, train_seeds,
                                       verdict)
from licli.parsing import comma_list
from licli.sources import ModelSource, load_models
from licli.reporting.console import stdout
from licli.io import to_json
from licli.reporting.tables import frame_table

STYLES = {MORE: "green", SAME: "blue"}


@dataclass(frozen=True)
class VerdictCommandConfig:
    models: list[str]
    baselines: list[str]
    train_config: str | None
    baseline_config: str | None
    seeds: int
    dataset: str | None
    verdict: VerdictConfig
    expect: str | None


def _sources(models: list[Path], baselines: list[Path], train_config: Path | None,
             baseline_config: Path | None) -> None:
    trained = train_config is not None or baseline_config is not None
    if trained and (train_config is None or baseline_config is None):
        raise LicliError("--train-config and --baseline-config go together", "pass both TOML files")
    if trained and (models or baselines):
        raise LicliError("give checkpoints (--model/--baseline) or recipes (--train-config/--baseline-config), "
                         "not both", "drop one of the two")
    if not trained and not models and not baselines:
        raise LicliError("no mechanism and baseline given", "pass --model A.safetensors --baseline B.safetensors "
                                                            "(repeat for seeds), or --train-config/--baseline-config")
    if len(models) != len(baselines):
        raise LicliError(f"{len(models)} --model for {len(baselines)} --baseline",
                         "pass one baseline per mechanism checkpoint (seed pairs, paired by order)")


def _checks(text: str) -> tuple[str, ...]:
    if text.strip() == "all":
        return tuple(MASKING_CHECKS)
    return () if text.strip() == "none" else comma_list(text)


@app.command("verdict")
@field_flags(eot_samples="eot")
@with_run_options("verdict")
def verdict_command(
    options: RunOptions,
    model: list[Path] = typer.Option([], "--model", help="Mechanism checkpoint; repeat for seeds."),
    baseline: list[Path] = typer.Option([], "--baseline", help="Baseline checkpoint; repeat, paired with --model by order."),
    train_config: Path = typer.Option(None, help="Train the mechanism from this TOML (licli train keys) instead."),
    baseline_config: Path = typer.Option(None, help="Train the baseline from this TOML."),
    seeds: int = typer.Option(3, help="With --train-config: seeds per side (seed, seed+1, …)."),
    norm: Norm = typer.Option("linf", case_sensitive=False, help="Threat norm (also Linf, L2)."),
    eps: str = typer.Option(None, help="Comma-separated budgets (default: MNIST 0.1,0.3; CIFAR-10 8/255, L∞)."),
    attacks: str = typer.Option("pgd,apgd-ce,square", help="The battery: white-box and black-box attacks, "
                                f"comma-separated, from: {', '.join(ATTACKS)}."),
    autoattack: bool = typer.Option(False, "--autoattack", help="Add the standard AutoAttack ensemble."),
    steps: int = typer.Option(10, help="PGD/APGD iterations (step 2.5·ε/steps)."),
    n_queries: int = typer.Option(5000, help="Queries of the Square attack."),
    n: int = typer.Option(1000, help="Attack the first N test images."),
    margin: float = typer.Option(0.03, help="Differences below this (robust accuracy) count as none."),
    alpha: float = typer.Option(0.05, help="Error rate of the tests (Holm over ε); intervals at 1 − alpha."),
    masking_checks: str = typer.Option("all", help="Masking checks to run: all, none, or comma-separated names "
                                       f"from: {', '.join(MASKING_CHECKS)}."),
    eot: int = typer.Option(0, help="0: stochastic mechanisms in eval mode. k>0: EOT over k draws."),
    dataset: DatasetName = typer.Option(None, help="Dataset (default: the checkpoints' or recipes')."),
    batch_size: int = typer.Option(250, help="Images per attack batch."),
    seed: int = typer.Option(0, help="Seed of the attacks' random starts and Square."),
    expect: Decision = typer.Option(None, help=f"Exit 1 unless the verdict is this: {', '.join(DECISIONS)}."),
    json_output: bool = typer.Option(False, "--json", help="Print verdict.json instead of the panel."),
) -> None:
    """One verdict: more robust, no measurable difference, less robust, gradient masking, degenerate or
    inconclusive — with the evidence, per-seed table and statistics (docs/verdict.md)."""
    norm, dataset, expect = value(norm), value(dataset), value(expect)
    _sources(model, baseline, train_config, baseline_config)
    if expect is not None and expect not in DECISIONS:
        raise LicliError(f"unknown --expect {expect!r}", f"choose one of: {', '.join(DECISIONS)}")
    recipes = None
    if train_config is not None:
        recipes = (resolve(TrainConfig, file=load_toml(train_config)), resolve(TrainConfig, file=load_toml(baseline_config)))
        if recipes[0].dataset != recipes[1].dataset:
            raise LicliError(f"the recipes train on {recipes[0].dataset} and {recipes[1].dataset}",
                             "train both on the same dataset")
    budgets = tuple(parse_budgets(eps, "eps")) if eps else None
    settings = dict(norm=norm, attacks=comma_list(attacks), autoattack=autoattack,
                    steps=steps, n_queries=n_queries, n=n, batch_size=batch_size, seed=seed, eot_samples=eot,
                    alpha=alpha, margin=margin, masking_checks=_checks(masking_checks))
    VerdictConfig(eps=budgets or (0.1,), **settings)  # refuse bad settings before anything runs
    with recorded_run("verdict", None, options, seed=seed) as (device, run):
        if recipes is not None:
            data = load_dataset(dataset or recipes[0].dataset, options.data_dir)
            sides = []
            for side, recipe in (("mechanism", recipes[0]), ("baseline", recipes[1])):
                trained = train_seeds(recipe, data, seeds, device=device)
                for k, (net, spec, history) in enumerate(trained):
                    run.record_checkpoint(save_checkpoint(
                        run.file(f"{side}-seed{recipe.seed + k}.safetensors"), net, spec,
                        extra={"dataset": data.name, "config": asdict(recipe) | {"seed": recipe.seed + k},
                               "metrics": history.iloc[-1].to_dict()}))
                sides.append(([net for net, _, _ in trained], [recipe.epochs] * seeds))
            (mechanism, mech_epochs), (base, base_epochs) = sides
        else:
            loaded = load_models([ModelSource(checkpoint=str(path)) for path in [*model, *baseline]], device)
            data = load_dataset(dataset or loaded[0].dataset or "mnist-mini", options.data_dir)
            for item in loaded:
                run.record_model(item)
            mechanism, base = [i.model for i in loaded[:len(model)]], [i.model for i in loaded[len(model):]]
            mech_epochs = [i.meta.get("config", {}).get("epochs") for i in loaded[:len(model)]]
            base_epochs = [i.meta.get("config", {}).get("epochs") for i in loaded[len(model):]]
        run.record_dataset(data)
        config = VerdictConfig(eps=budgets or default_eps(data.name, norm), **settings)
        run.note("config", asdict(VerdictCommandConfig(
            [str(p) for p in model], [str(p) for p in baseline], str(train_config) if train_config else None,
            str(baseline_config) if baseline_config else None, seeds, data.name, config, expect)))
        test = data.test.to(device)
        result = verdict(mechanism, base, test.images, test.labels, config, dataset=data.name,
                         epochs=[*mech_epochs, *base_epochs])
        run.write_json("verdict.json", result.to_dict())
        run.write_csv("per_seed.csv", result.per_seed)
        run.write_csv("comparisons.csv", result.comparisons)
        run.write_csv("masking.csv", result.masking)
        run.note("verdict", {"decision": result.decision, "smoke": result.scale.smoke})
        _report(result, run.path, json_output)
        if expect is not None and result.decision != expect:
            raise CheckFailed(f"the verdict is {result.decision!r}, expected {expect!r}",
                              f"see {run.path / 'verdict.json'}")


def _report(result: Verdict, path: Path, json_output: bool) -> None:
    console = stdout()
    if json_output:
        console.print_json(to_json({"run": str(path), **result.to_dict()}))
        return
    shown = result.per_seed[["side", "pair", "eps", "clean_accuracy", "robust_accuracy", "robust_low", "robust_high"]]
    console.print(frame_table(shown, title="per seed: robust accuracy (right clean and under every attack)",
                              percent_columns=("clean_accuracy", "robust_accuracy", "robust_low", "robust_high")))
    body = "\n".join(f"• {line}" for line in result.evidence)
    style = STYLES.get(result.decision, "yellow" if result.decision == INCONCLUSIVE else "red")
    console.print(Panel(Text(body), title=f"verdict: {result.title.upper()}", subtitle=Text(str(path)),
                        border_style=style))
