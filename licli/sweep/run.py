"""Run a plan (waves of ready tasks through an executor) and merge its results (``collect``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from licli.errors import LicliError
from licli.sweep.executors import Executor, resumable
from licli.sweep.plan import Plan, save_plan
from licli.sweep.state import DONE, clean, status_table, task_state
from licli.contract import METRIC_DIRECTIONS
from licli.reporting.compare import aggregate
from licli.reporting.discovery import load_run
from licli.reproduction import claim_checks, load_recipe, paper_comparison


def run_plan(plan: Plan, executor: Executor, extra_args: Sequence[str] = ()) -> pd.DataFrame:
    """Run every task not yet done, each at most once, dependents after their dependencies; the status table.

    Finished tasks are skipped; a failed or interrupted one is cleaned and run again (an interrupted
    ``train`` with a saved state continues with ``--resume``); a task whose dependency did not finish
    stays pending. Each wave is every task whose dependencies are done.
    """
    save_plan(plan)
    attempted: set[str] = set()
    while True:
        done = {t.id for t in plan.tasks if task_state(t).status == DONE}
        ready = [t for t in plan.tasks
                 if t.id not in done and t.id not in attempted and all(d in done for d in t.depends)]
        if not ready:
            return status_table(plan)
        wave = []
        for task in ready:
            continued = resumable(task)
            if continued is task:
                clean(task)
            wave.append(continued)
        attempted |= {t.id for t in ready}
        executor.run(wave, extra_args)


def with_axes(setting: str, axes: Mapping[str, str]) -> str:
    """A summary row's setting plus ``sweep.<axis>=<value>`` for each axis but ``seed`` that it does not
    already state, so cells that differ only by an axis the row does not name (the worst case over
    different attack sets, ``--n``, ``--steps``) are never averaged together; seeds still aggregate."""
    parts = [p for p in setting.split(";") if p]
    extra = [f"sweep.{k}={v}" for k, v in axes.items() if k != "seed" and f"{k}={v}" not in parts]
    return ";".join([*parts, *extra])


@dataclass(frozen=True)
class Collected:
    tasks: pd.DataFrame
    """One row per task: axis values, status, exit code, seconds, device, run folder."""
    metrics: pd.DataFrame
    """The summary rows of every finished task's run (``licli report``'s input), with a ``task`` column and
    the axis values in the setting (``with_axes``)."""
    aggregated: pd.DataFrame
    """``licli report``'s aggregate (mean ± std over seeds per model × metric × setting)."""
    paper: pd.DataFrame | None = None
    """For a recipe: the paper comparison exactly as ``licli reproduce`` prints it."""
    claims: pd.DataFrame | None = None


def collect(plan: Plan) -> Collected:
    tasks = status_table(plan)
    runs = {}
    for task in plan.tasks:
        if task_state(task).status == DONE:
            try:
                runs[task.entry if plan.recipe else task.id] = load_run(Path(task.run_dir))
            except LicliError:
                continue  # a finished run without readable results: its row in `tasks` still says done
    axes = {(t.entry if plan.recipe else t.id): t.axes for t in plan.tasks}
    frames = [run.metrics.assign(task=key, run=str(run.path), command=run.command, name=run.name,
                                 setting=[with_axes(s, axes[key]) for s in run.metrics["setting"]])
              for key, run in runs.items() if len(run.metrics)]
    metrics = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["task", "run", "command", "name", "model", "metric", "setting", "value", "seed", "direction"])
    aggregated = aggregate(metrics)
    if plan.recipe is None:
        return Collected(tasks, metrics, aggregated)

    recipe = load_recipe(plan.recipe)
    rows = {key: run.metrics for key, run in runs.items()}
    return Collected(tasks, metrics, aggregated, paper_comparison(recipe, rows),
                     claim_checks(recipe, rows, METRIC_DIRECTIONS))

