"""Reproduction recipes: a paper's protocol as licli steps (data), and its numbers beside licli's.

A recipe is a TOML file in ``licli/recipes/`` (see docs/report-contract.md, "Recipes"):

- ``[recipe]`` title, paper, note;
- ``[scales.<scale>]`` variables substituted into step arguments as ``{name}`` (e.g. epochs, dataset);
- ``[[steps]]`` ``id``, ``command`` (the CLI path, e.g. ``["evaluate", "accuracy"]``), ``args`` (a list;
  ``{run:<step id>}`` is the run folder of an earlier step, ``{configs}`` the recipes' config folder),
  optional per-scale extra args ``[steps.<scale>] args = […]`` and ``scales`` (default both);
- ``[[paper]]`` one number each: ``ref`` (table/figure), ``row``, ``column``, ``value``, ``unit``, and
  where licli measures it: ``step``, ``metric``, ``setting`` (``key=value`` parts that must all
  appear in the summary row's setting), ``model`` (the exact model label);
- ``[[claims]]`` for figures that give no numbers: ``ref``, ``text``, and two measurements ``better``
  and ``worse`` (tables like a paper entry) whose order the paper asserts.

The runner is generic: it runs each step whose command exists (through callables the CLI passes in),
reports the others as not yet available, and never interprets a recipe by name.
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from licli.contract import setting_key
from licli.errors import LicliError
from licli.progress import OnProgress, Parts
from licli.registry import pick
from licli.reporting.files import finished_run

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RECIPES_DIR = Path(__file__).parent / "recipes"
CONFIGS_DIR = RECIPES_DIR / "configs"
SCALES = ("smoke", "full")
_RUN_REFERENCE = re.compile(r"\{run:([^}]+)\}")


@dataclass(frozen=True)
class Step:
    id: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    scale_args: Mapping[str, tuple[str, ...]]
    scales: tuple[str, ...] = SCALES
    """The scales the step runs at (``scales = ["full"]`` keeps a step out of the smoke run)."""

    def arguments(self, scale: str, variables: Mapping[str, Any]) -> list[str]:
        """The step's arguments at ``scale`` with ``{variable}`` filled in (``{run:…}`` left for later)."""
        def fill(text: str) -> str:
            return re.sub(r"\{([A-Za-z_][\w-]*)\}", lambda m: str(variables.get(m.group(1), m.group(0))), text)

        return [fill(a) for a in (*self.args, *self.scale_args.get(scale, ()))]


@dataclass(frozen=True)
class Measurement:
    step: str
    metric: str
    setting: tuple[str, ...] = ()
    model: str = ""
    """The exact model label (``licli.contract.model_label``); empty matches every model."""

    def value(self, rows: Mapping[str, pd.DataFrame]) -> float:
        """Mean of the matching summary rows of ``step``'s run (NaN when none match)."""
        frame = rows.get(self.step)
        if frame is None or frame.empty:
            return math.nan
        parts = frame["setting"].map(lambda s: set(setting_key(s).split(";")))  # numbers match by value
        wanted = set(setting_key(";".join(self.setting)).split(";")) if self.setting else set()
        match = ((frame["metric"] == self.metric) & ((frame["model"] == self.model) | (self.model == ""))
                 & parts.map(lambda have: wanted <= have))
        return float(frame.loc[match, "value"].mean()) if match.any() else math.nan


@dataclass(frozen=True)
class PaperNumber:
    ref: str
    row: str
    column: str
    value: float
    unit: str
    measured: Measurement | None


@dataclass(frozen=True)
class Claim:
    ref: str
    text: str
    better: Measurement
    worse: Measurement


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    paper: str
    note: str
    scales: Mapping[str, Mapping[str, Any]]
    steps: tuple[Step, ...]
    paper_numbers: tuple[PaperNumber, ...]
    claims: tuple[Claim, ...] = field(default_factory=tuple)

    def variables(self, scale: str, root: Path) -> dict[str, Any]:
        """What ``{name}`` in step arguments stands for at ``scale`` (plus ``configs`` and ``out``)."""
        return {**self.scales[scale], "configs": CONFIGS_DIR.as_posix(), "out": root.as_posix()}


def _measurement(data: Mapping[str, Any], where: str, steps: set[str]) -> Measurement:
    if data.get("step") not in steps or not data.get("metric"):
        raise LicliError(f"{where}: needs a metric and a step among {', '.join(sorted(steps))}",
                         "fix the recipe file")
    setting = data.get("setting", "")
    return Measurement(str(data["step"]), str(data["metric"]), tuple(p for p in setting.split(";") if p),
                       str(data.get("model", "")))


def parse_recipe(name: str, data: Mapping[str, Any]) -> Recipe:
    """Validate a recipe document (LicliError naming the first problem)."""
    head = data.get("recipe") or {}
    scales = data.get("scales") or {}
    if set(scales) != set(SCALES):
        raise LicliError(f"recipe {name}: needs [scales.smoke] and [scales.full]", "fix the recipe file")
    steps = []
    for index, item in enumerate(data.get("steps") or []):
        if not item.get("id") or not item.get("command"):
            raise LicliError(f"recipe {name}: step {index} needs an id and a command", "fix the recipe file")
        steps.append(Step(str(item["id"]), tuple(item["command"]), tuple(str(a) for a in item.get("args", ())),
                          {s: tuple(str(a) for a in (item.get(s) or {}).get("args", ())) for s in SCALES},
                          tuple(item.get("scales", SCALES))))
        if not set(steps[-1].scales) <= set(SCALES):
            raise LicliError(f"recipe {name}: step {item['id']} has unknown scales {steps[-1].scales}",
                             f"use {', '.join(SCALES)}")
    ids = {s.id for s in steps}
    if len(ids) != len(steps) or not steps:
        raise LicliError(f"recipe {name}: step ids must be present and unique", "fix the recipe file")
    for step in steps:
        for argument in (*step.args, *(a for extra in step.scale_args.values() for a in extra)):
            for reference in _RUN_REFERENCE.findall(argument):
                if reference not in ids:
                    raise LicliError(f"recipe {name}: step {step.id} refers to unknown step {reference!r}",
                                     "fix the recipe file")
    numbers = []
    for index, item in enumerate(data.get("paper") or []):
        where = f"recipe {name}: paper number {index}"
        if not all(k in item for k in ("ref", "row", "column", "value")):
            raise LicliError(f"{where} needs ref, row, column and value", "fix the recipe file")
        measured = _measurement(item, where, ids) if "step" in item else None
        numbers.append(PaperNumber(str(item["ref"]), str(item["row"]), str(item["column"]), float(item["value"]),
                                   str(item.get("unit", "")), measured))
    claims = [Claim(str(item["ref"]), str(item["text"]), _measurement(item["better"], f"recipe {name}: claim", ids),
                    _measurement(item["worse"], f"recipe {name}: claim", ids))
              for item in data.get("claims") or []]
    if not numbers and not claims:
        raise LicliError(f"recipe {name}: holds no paper numbers", "add [[paper]] entries")
    return Recipe(name, str(head.get("title", name)), str(head.get("paper", "")), str(head.get("note", "")),
                  scales, tuple(steps), tuple(numbers), tuple(claims))


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.toml"))


def load_recipe(name: str) -> Recipe:
    path = pick({n: RECIPES_DIR / f"{n}.toml" for n in recipe_names()}, name, "recipe")
    try:
        return parse_recipe(name, tomllib.loads(path.read_text()))
    except tomllib.TOMLDecodeError as error:
        raise LicliError(f"recipe {path} is not valid TOML ({error})", "fix the recipe file") from None


@dataclass(frozen=True)
class Runner:
    """What the runner needs from the CLI: whether a command path exists, how to run one (its exit code),
    and how to read a run folder's summary rows."""

    available: Callable[[tuple[str, ...]], bool]
    invoke: Callable[[list[str]], int]
    summary: Callable[[Path], pd.DataFrame]


class RecipeInterrupted(LicliError):
    """A step was stopped by Ctrl-C (exit 130): the whole recipe stops with the same exit code."""

    exit_code = 130


def step_run_dir(root: Path, step_id: str) -> Path:
    """The exact run folder of a recipe step (``--run-dir``): ``<root>/<step id>``."""
    return root / step_id


def step_argv(step: Step, scale: str, variables: Mapping[str, Any], root: Path) -> list[str]:
    """The full ``licli`` argv of ``step``: command, arguments with ``{run:<id>}`` resolved to the exact run
    folders of earlier steps, and its own ``--run-dir``."""
    arguments = [_RUN_REFERENCE.sub(lambda m: step_run_dir(root, m.group(1)).as_posix(), a)
                 for a in step.arguments(scale, variables)]
    return [*step.command, *arguments, "--run-dir", step_run_dir(root, step.id).as_posix()]


def step_dependencies(step: Step, scale: str, variables: Mapping[str, Any]) -> tuple[str, ...]:
    """The ids of the steps whose run folders ``step`` reads (``{run:<id>}``), in order of first mention."""
    return tuple(dict.fromkeys(r for a in step.arguments(scale, variables) for r in _RUN_REFERENCE.findall(a)))


def run_recipe(recipe: Recipe, scale: str, root: Path, runner: Runner, extra_args: list[str] | None = None,
               on_progress: OnProgress | None = None) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Run the recipe's steps into ``root/<step id>``; return (steps table, summary rows per step that ran).

    A step whose dependency did not finish is skipped; a step stopped by Ctrl-C (exit 130) stops the
    recipe (``RecipeInterrupted``). ``on_progress`` hears of each finished step (``licli.progress``).
    """
    pick({s: s for s in SCALES}, scale, "scale")
    variables = recipe.variables(scale, root)
    rows: dict[str, pd.DataFrame] = {}
    finished: set[str] = set()
    table = []
    parts = Parts("reproduce steps", sum(scale in s.scales for s in recipe.steps), on_progress)
    for step in (s for s in recipe.steps if scale in s.scales):
        missing = [r for r in step_dependencies(step, scale, variables) if r not in finished]
        path = step_run_dir(root, step.id)
        started = time.time()
        if not runner.available(step.command):
            status = "not yet available in licli"
        elif missing:
            status = f"skipped: needs step {missing[0]}"
        else:
            code = runner.invoke([*step_argv(step, scale, variables, root), *(extra_args or [])])
            if code == RecipeInterrupted.exit_code:
                raise RecipeInterrupted(f"interrupted during step {step.id}: the recipe stopped",
                                        f"finished steps are in {root}; run the recipe again to start over")
            status = "ok" if code == 0 and finished_run(path) else f"failed (exit {code})"
            if status == "ok":
                finished.add(step.id)
                try:
                    rows[step.id] = runner.summary(path)
                except LicliError as error:
                    status = f"ran, but its results cannot be read ({error})"
        table.append({"step": step.id, "command": " ".join(step.command), "status": status,
                      "seconds": round(time.time() - started, 1), "run": str(path) if step.id in finished else ""})
        parts.finished(f"{step.id} ({status})", time.time() - started)
    return pd.DataFrame(table), rows


def _shown(value: float, unit: str) -> float:
    """licli writes fractions; a paper number in % is compared in %."""
    return value * 100 if unit == "%" else value


def paper_comparison(recipe: Recipe, rows: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Paper number, licli's number (same unit) and their difference, one row per paper entry."""
    records = []
    for number in recipe.paper_numbers:
        licli = _shown(number.measured.value(rows), number.unit) if number.measured else math.nan
        records.append({"ref": number.ref, "row": number.row, "column": number.column, "unit": number.unit,
                        "paper": number.value, "licli": licli, "difference": licli - number.value})
    return pd.DataFrame(records, columns=["ref", "row", "column", "unit", "paper", "licli", "difference"])


def claim_checks(recipe: Recipe, rows: Mapping[str, pd.DataFrame], directions: Mapping[str, str]) -> pd.DataFrame:
    """For each claim: both licli values and whether licli's ordering agrees with the paper's."""
    records = []
    for claim in recipe.claims:
        better, worse = claim.better.value(rows), claim.worse.value(rows)
        sign = -1.0 if directions.get(claim.better.metric, "higher") == "lower" else 1.0
        verdict = ("not measured" if math.isnan(better) or math.isnan(worse)
                   else "agrees" if sign * (better - worse) > 0 else "disagrees")
        records.append({"ref": claim.ref, "claim": claim.text, "better": better, "worse": worse, "licli": verdict})
    return pd.DataFrame(records, columns=["ref", "claim", "better", "worse", "licli"])
