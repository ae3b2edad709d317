"""``licli reproduce``: run a paper's recipe at a scale and print the paper's numbers beside licli's."""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

import pandas as pd
import typer

from licli.cli.app import app
from licli.cli.choices import Scale, value
from licli.errors import CheckFailed
from licli.registry import pick
from licli.reporting.console import PartProgress, stdout
from licli.reporting.discovery import load_run
from licli.reporting.files import check_writable
from licli.io import atomic_write_csv, to_json
from licli.contract import METRIC_DIRECTIONS
from licli.reporting.tables import frame_table
from licli.reproduction import SCALES, Recipe, Runner, claim_checks, load_recipe, paper_comparison, recipe_names, run_recipe
from licli.runtime import resolve_device


def command_available(path: tuple[str, ...]) -> bool:
    """Whether ``licli <path…>`` is a registered command (walks the typer command tree)."""
    command = typer.main.get_command(app)
    for token in path:
        command = (getattr(command, "commands", None) or {}).get(token)
        if command is None:
            return False
    return not getattr(command, "commands", None)


def invoke(arguments: list[str]) -> int:
    """Run ``licli <arguments…>`` in this process; its tables go to stderr so stdout keeps only our result."""
    with contextlib.redirect_stdout(sys.stderr):
        return typer.main.get_command(app).main(args=arguments, prog_name="licli", standalone_mode=False)


@app.command()
def reproduce(
    recipe: str = typer.Argument(..., help=f"Recipe: {', '.join(recipe_names())}."),
    scale: Scale = typer.Option("smoke", help=f"{' or '.join(SCALES)}: minutes on a CPU, or the paper's protocol (GPU)."),
    device: str = typer.Option("auto", help="auto, cpu, cuda or cuda:N (passed to every step)."),
    out: Path = typer.Option(Path("reports"), help="Root folder; the steps' runs go to <out>/reproduce/<recipe>-<scale>-<time>/."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the steps and paper numbers without running anything."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Run a reproduction recipe and compare licli's numbers with the paper's (tables/figures cited)."""
    scale = value(scale)
    chosen = load_recipe(recipe)
    pick({s: s for s in SCALES}, scale, "scale")
    resolve_device(device)  # a bad --device fails here, before any step runs
    root = check_writable(out) / "reproduce" / f"{chosen.name}-{scale}-{time.strftime('%Y%m%d-%H%M%S')}"
    if dry_run:
        variables = chosen.variables(scale, root)
        steps = pd.DataFrame([{"step": s.id, "command": " ".join(s.command), "available": command_available(s.command),
                               "args": " ".join(s.arguments(scale, variables))}
                              for s in chosen.steps if scale in s.scales])
        rows: dict[str, pd.DataFrame] = {}
    else:
        runner = Runner(available=command_available, invoke=invoke, summary=lambda path: load_run(path).metrics)
        steps, rows = run_recipe(chosen, scale, root, runner, ["--device", device],
                                 on_progress=PartProgress(live=False))  # each step draws its own progress
        atomic_write_csv(root / "steps.csv", steps)
    comparison = paper_comparison(chosen, rows)
    claims = claim_checks(chosen, rows, METRIC_DIRECTIONS)
    if not dry_run:
        atomic_write_csv(root / "paper-comparison.csv", comparison)
        atomic_write_csv(root / "claims.csv", claims)
    console = stdout()
    if json_output:
        console.print_json(to_json({"recipe": chosen.name, "scale": scale, "root": None if dry_run else str(root),
                                    "steps": steps.to_dict(orient="records"),
                                    "paper": comparison.to_dict(orient="records"),
                                    "claims": claims.to_dict(orient="records")}))
        _fail_on_unfinished(steps, root)
        return
    console.print(frame_table(steps, title=f"licli reproduce {chosen.name} --scale {scale}: steps"))
    print_paper_comparison(chosen, comparison, claims)
    _fail_on_unfinished(steps, root)


def print_paper_comparison(recipe: Recipe, comparison: pd.DataFrame, claims: pd.DataFrame) -> None:
    """The paper's numbers beside licli's, the claims of figures, and the recipe's note."""
    console = stdout()
    console.print(frame_table(comparison, title=f"{recipe.title}: paper ({recipe.paper}) vs licli"))
    if len(claims):
        console.print(frame_table(claims, title="claims of figures without numbers"))
    if recipe.note:
        console.print(recipe.note, highlight=False, markup=False)


def _fail_on_unfinished(steps: pd.DataFrame, root: Path) -> None:
    """Exit 1 (one line naming them) when a step failed, was skipped or is not available."""
    if "status" not in steps:
        return
    unfinished = steps[steps["status"] != "ok"]
    if len(unfinished):
        raise CheckFailed(f"{len(unfinished)} of {len(steps)} step(s) did not finish: "
                          + ", ".join(f"{r.step} ({r.status})" for r in unfinished.itertuples()),
                          f"see {root / 'steps.csv'} and the steps' run folders")
