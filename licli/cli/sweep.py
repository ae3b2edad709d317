"""``licli sweep``: plan a grid file or a recipe into tasks, run them (local workers or submitit), follow and merge."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import typer

from licli.cli.app import sweep_app
from licli.cli.choices import Executor, Scale, SubmititCluster, value
from licli.errors import CheckFailed, LicliError
from licli.reporting.compare import metric_tables
from licli.reporting.console import stdout
from licli.reporting.files import check_writable
from licli.io import atomic_write_csv
from licli.reporting.tables import frame_table
from licli.runtime import resolve_device
from licli.sweep.executors import LocalExecutor, SubmititExecutor
from licli.sweep.plan import Plan, Resources, load_grid, load_plan, recipe_plan
from licli.sweep.run import collect, run_plan
from licli.cli.reproduce import print_paper_comparison
from licli.reproduction import load_recipe
from licli.sweep.state import DONE, status_table

RECIPE_PREFIX = "recipe:"
SPEC_HELP = "A grid TOML file, or recipe:NAME (a reproduction recipe; see --scale)."
ROOT_HELP = "The sweep's folder (plan.json, runs/<task>/, logs/); default reports/sweeps/<name>."


def _plan(spec: str, root: Path | None, scale: str, resources: dict[str, int | None] | None = None) -> Plan:
    if root is not None:
        check_writable(root, field="root")
    given = {key: value for key, value in (resources or {}).items() if value is not None}
    if spec.startswith(RECIPE_PREFIX):
        return recipe_plan(spec[len(RECIPE_PREFIX):], scale, root, Resources(**given))
    if given:
        raise LicliError(f"{', '.join('--' + k.replace('_', '-') for k in given)} set the resources of a recipe's tasks",
                         "a grid file sets its own in [resources]")
    return load_grid(spec, root)


def _tasks_frame(plan: Plan) -> pd.DataFrame:
    return pd.DataFrame([{"task": t.id, **dict(t.axes), "depends": ",".join(t.depends),
                          "command": "licli " + " ".join(t.argv)} for t in plan.tasks])


@sweep_app.command("plan")
def plan_command(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    root: Path = typer.Option(None, help=ROOT_HELP),
    scale: Scale = typer.Option("smoke", help="Scale of a recipe: smoke or full."),
    json_output: bool = typer.Option(False, "--json", help="Print the plan as JSON."),
) -> None:
    """List the tasks a sweep would run (ids, dependencies, exact commands) without running anything."""
    scale = value(scale)
    plan = _plan(spec, root, scale)
    if json_output:
        stdout().print_json(json.dumps({"name": plan.name, "root": plan.root,
                                        "tasks": _tasks_frame(plan).to_dict(orient="records")}))
        return
    stdout().print(frame_table(_tasks_frame(plan), title=f"licli sweep plan {plan.name} → {plan.root}"))


@sweep_app.command("run")
def run_command(
    spec: str = typer.Argument(..., help=SPEC_HELP),
    root: Path = typer.Option(None, help=ROOT_HELP),
    scale: Scale = typer.Option("smoke", help="Scale of a recipe: smoke or full."),
    executor: Executor = typer.Option("local", help="local (this machine) or submitit (SLURM; pip install 'licli[cluster]')."),
    workers: int = typer.Option(1, help="local: parallel CPU tasks when no GPU is visible."),
    tasks_per_gpu: int = typer.Option(1, help="local: tasks sharing each visible GPU (launch-bound work)."),
    cluster: SubmititCluster = typer.Option(None, help="submitit: slurm (default where available), local or debug."),
    partition: str = typer.Option(None, help="submitit: the SLURM partition."),
    device: str = typer.Option(None, help="--device passed to every task (default: the tasks' own, auto)."),
    gpus: int = typer.Option(None, help="recipe: GPUs per task (SLURM; default 0)."),
    cpus: int = typer.Option(None, help="recipe: CPUs per task (SLURM; default 1)."),
    timeout_min: int = typer.Option(None, help="recipe: time limit per task in minutes (SLURM; default 60)."),
) -> None:
    """Run a sweep's tasks not yet done (finished ones are skipped; failed ones cleaned and rerun)."""
    scale, executor, cluster = value(scale), value(executor), value(cluster)
    plan = _plan(spec, root, scale, {"gpus": gpus, "cpus": cpus, "timeout_min": timeout_min})
    extra = []
    if device is not None:
        resolve_device(device)
        extra = ["--device", device]
    if executor == "local":
        chosen = LocalExecutor(workers=workers, tasks_per_gpu=tasks_per_gpu)
    else:
        chosen = SubmititExecutor(Path(plan.root) / "submitit", cluster, plan.tasks_per_process,
                                  {"slurm_partition": partition} if partition else None)
    table = run_plan(plan, chosen, extra)
    _print_status(plan, table)
    unfinished = table[table["status"] != DONE]
    if len(unfinished):
        raise CheckFailed(f"{len(unfinished)} of {len(table)} task(s) not done: "
                          + ", ".join(f"{r.task} ({r.status})" for r in unfinished.itertuples()),
                          f"see the logs in {Path(plan.root) / 'logs'}; rerun the same command to retry them")


def _print_status(plan: Plan, table: pd.DataFrame) -> None:
    counts = table["status"].value_counts().to_dict()
    stdout().print(frame_table(table.drop(columns=["run_dir"]), title=f"licli sweep {plan.name}",
                               captions={"caption": ", ".join(f"{k}: {v}" for k, v in counts.items())}))


@sweep_app.command("status")
def status_command(
    root: Path = typer.Option(..., help="The sweep's folder."),
    json_output: bool = typer.Option(False, "--json", help="Print the table as JSON."),
) -> None:
    """Done / failed / interrupted / pending per task, with exit code, seconds and device."""
    plan = load_plan(root)
    table = status_table(plan)
    if json_output:
        stdout().print_json(table.to_json(orient="records"))
        return
    _print_status(plan, table)


@sweep_app.command("collect")
def collect_command(
    root: Path = typer.Option(..., help="The sweep's folder."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Merge a sweep: tasks.csv (one row per task), metrics.csv and aggregated.csv (as `licli report`), and
    for a recipe paper-comparison.csv and claims.csv (as `licli reproduce`)."""
    plan = load_plan(root)
    result = collect(plan)
    folder = Path(plan.root)
    atomic_write_csv(folder / "tasks.csv", result.tasks)
    atomic_write_csv(folder / "metrics.csv", result.metrics)
    atomic_write_csv(folder / "aggregated.csv", result.aggregated)
    if result.paper is not None:
        atomic_write_csv(folder / "paper-comparison.csv", result.paper)
        atomic_write_csv(folder / "claims.csv", result.claims)
    if json_output:
        stdout().print_json(json.dumps({
            "tasks": json.loads(result.tasks.to_json(orient="records")),
            "aggregated": json.loads(result.aggregated.to_json(orient="records")),
            **({"paper": json.loads(result.paper.to_json(orient="records"))} if result.paper is not None else {})}))
        return
    _print_status(plan, result.tasks)
    for metric, table in metric_tables(result.aggregated).items():
        stdout().print(frame_table(table, title=metric))
    if plan.recipe is not None:
        print_paper_comparison(load_recipe(plan.recipe), result.paper, result.claims)
