"""Each recipe's smoke scale end to end through ``licli reproduce``: every step finishes, and the printed
paper-vs-licli table holds, for every measured paper number, the mean of the matching summary rows of
that step's run folder (recomputed here from the run folders, in the paper's unit)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd
import pytest

from licli.cli import app
from licli.reporting.discovery import load_run
from licli.reproduction import load_recipe

SLOW = pytest.mark.slow  # minutes on a 2-core CPU: see docs/recipes.md for the measured times


def _needs_cifar10():
    root = os.environ.get("LICLI_DATA_DIR")
    if not root or not (Path(root) / "cifar10-jpeg.tar.gz").exists():
        pytest.skip("LICLI_DATA_DIR with cifar10-jpeg.tar.gz is not set")


def _expected(frame: pd.DataFrame, measured, unit: str) -> float:
    rows = frame[(frame["metric"] == measured.metric) & ((frame["model"] == measured.model) | (measured.model == ""))]
    rows = rows[[set(measured.setting) <= set(s.split(";")) for s in rows["setting"]]]
    return float(rows["value"].mean()) * (100 if unit == "%" else 1) if len(rows) else math.nan


@pytest.mark.parametrize("name", [pytest.param("oracle-mnist", marks=SLOW), pytest.param("normout", marks=SLOW),
                                  pytest.param("gradient-mask", marks=SLOW)])
def test_recipe_smoke_scale_runs_end_to_end(runner, tmp_path, name):
    recipe = load_recipe(name)
    if recipe.scales["smoke"].get("dataset", "").startswith("cifar10"):
        _needs_cifar10()
    result = runner.invoke(app, ["reproduce", name, "--scale", "smoke", "--device", "cpu", "--out", str(tmp_path)],
                           env={"COLUMNS": "400"})  # wide enough that rich truncates no row name
    assert result.exit_code == 0, result.output
    (root,) = (tmp_path / "reproduce").iterdir()
    steps = pd.read_csv(root / "steps.csv")
    assert set(steps["status"]) == {"ok"}
    comparison = pd.read_csv(root / "paper-comparison.csv")
    text = " ".join(result.output.split())
    assert f"{recipe.title}: paper ({recipe.paper}) vs licli" in text
    smoke_steps = set(steps["step"])
    for number, row in zip(recipe.paper_numbers, comparison.itertuples()):
        assert (row.ref, row.row, row.paper) == (number.ref, number.row, number.value)
        if number.measured is None or number.measured.step not in smoke_steps:
            assert math.isnan(row.licli)
            continue
        expected = _expected(load_run(root / number.measured.step).metrics, number.measured, number.unit)
        assert not math.isnan(expected), f"{number.row}: no summary row of {number.measured.step} matches"
        assert row.licli == pytest.approx(expected) and row.difference == pytest.approx(expected - number.value)
        assert row.row.split()[0] in text
