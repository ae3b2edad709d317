"""Recipes parse, cite the paper's tables/figures, and hold the numbers printed in the paper's text."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from licli.config import TrainConfig, load_toml, resolve
from licli.reproduction import (CONFIGS_DIR, Measurement, PaperNumber, Recipe, Runner, Step, claim_checks,
                                load_recipe, paper_comparison, recipe_names, run_recipe)

PAPERS = Path(__file__).resolve().parents[3] / "shared" / "papers"
if not PAPERS.exists():
    PAPERS = Path("/work/shared/papers")

REQUIRED = {
    "oracle-mnist": {"Table 1.1", "Fig. 4.5"},
    "normout": {"Table 3.1", "Table 3.4", "Table 3.5", "Table 3.6"},
    "gradient-mask": {"Table 1", "Fig. 5", "Fig. 6", "Fig. 7"},
}


def test_the_three_recipes_exist():
    assert set(REQUIRED) <= set(recipe_names())


@pytest.mark.parametrize("name", recipe_names())
def test_recipe_parses_and_cites_its_tables(name):
    recipe = load_recipe(name)
    refs = {n.ref for n in recipe.paper_numbers} | {c.ref for c in recipe.claims}
    assert REQUIRED.get(name, set()) <= {r.split(" (")[0] for r in refs}
    assert all(step.command for step in recipe.steps)


@pytest.mark.parametrize("name", recipe_names())
def test_paper_numbers_appear_in_the_paper_text(name):
    recipe = load_recipe(name)
    text_path = PAPERS / recipe.paper
    if not text_path.exists():
        pytest.skip(f"{text_path} not available")
    text = text_path.read_text()
    for number in recipe.paper_numbers:
        token = f"{number.value:g}"
        assert re.search(rf"(?<![\d.]){re.escape(token)}(?!\d)", text), f"{number.ref} {number.row}: {token}"
        row_words = re.sub(r"[()*]", " ", number.row).split()[0]
        assert row_words.lower() in text.lower(), number.row


def test_normout_numbers_spot_checked_against_the_tables():
    numbers = {(n.ref, n.row, n.column.split(" (")[0]): n.value for n in load_recipe("normout").paper_numbers}
    assert numbers[("Table 3.1", "Temporal Softmax 48 51 (T=100)", "Test Accuracy")] == 92.58
    assert numbers[("Table 3.4", "SpatiotemporalMax 48 51", "FGSM")] == 89.1
    assert numbers[("Table 3.5", "SpatialMax 48 51", "PGD-CE")] == 79.9
    assert numbers[("Table 3.6", "Temporal Softmax 48 51 (T=100)", "Fisher-Rao Norm")] == 4.2


@pytest.mark.parametrize("config", sorted(CONFIGS_DIR.glob("*.toml")), ids=lambda p: p.name)
def test_recipe_train_configs_are_valid_train_configs(config):
    trained = resolve(TrainConfig, file=load_toml(config))
    assert trained.mechanisms and all({"name", "params"} == set(spec) for spec in trained.mechanisms.values())


def _fake_recipe() -> Recipe:
    steps = (Step("make", ("fake",), ("--value", "{value}"), {}),
             Step("later", ("missing", "command"), (), {}),
             Step("needs-later", ("fake",), ("--from", "{run:later}"), {}),
             Step("full-only", ("fake",), (), {}, ("full",)))
    measured = Measurement("make", "clean_accuracy", ("split=test",), "m")
    numbers = (PaperNumber("Table 9", "m", "accuracy", 90.0, "%", measured),
               PaperNumber("Table 9", "other", "accuracy", 50.0, "%", None))
    return Recipe("fake", "fake", "", "", {"smoke": {"value": 0.8}, "full": {"value": 0.9}}, steps, numbers)


def test_runner_runs_available_steps_and_reports_the_rest(tmp_path):
    calls = []

    def invoke(arguments):
        calls.append(arguments)
        folder = tmp_path / "fake" / f"20260101-000000-{arguments[arguments.index('--name') + 1]}"
        folder.mkdir(parents=True)
        return 0

    value = {}
    runner = Runner(available=lambda path: path == ("fake",), invoke=invoke,
                    summary=lambda path: pd.DataFrame([{"model": "m", "metric": "clean_accuracy",
                                                        "setting": "dataset=x;split=test", "value": value["v"]}]))
    value["v"] = 0.8
    steps, rows = run_recipe(_fake_recipe(), "smoke", tmp_path, runner, ["--device", "cpu"])
    assert list(steps["status"]) == ["ok", "not yet available in licli", "skipped: needs step later"]
    assert calls == [["fake", "--value", "0.8", "--out", str(tmp_path), "--name", "make", "--device", "cpu"]]
    comparison = paper_comparison(_fake_recipe(), rows)
    assert comparison["licli"].iloc[0] == pytest.approx(80.0)
    assert comparison["difference"].iloc[0] == pytest.approx(-10.0)
    assert comparison["licli"].isna().iloc[1]


def test_claims_follow_the_metric_direction():
    rows = {"s": pd.DataFrame([{"model": "a", "metric": "fisher_rao_norm", "setting": "", "value": 1.0},
                               {"model": "b", "metric": "fisher_rao_norm", "setting": "", "value": 2.0}])}
    from licli.reproduction import Claim
    claim = Claim("Fig. 1", "a is flatter", Measurement("s", "fisher_rao_norm", (), "a"),
                  Measurement("s", "fisher_rao_norm", (), "b"))
    recipe = Recipe("x", "x", "", "", {}, (), (), (claim,))
    assert claim_checks(recipe, rows, {"fisher_rao_norm": "lower"})["licli"].iloc[0] == "agrees"
    assert claim_checks(recipe, rows, {"fisher_rao_norm": "higher"})["licli"].iloc[0] == "disagrees"
    assert claim_checks(recipe, {}, {})["licli"].iloc[0] == "not measured"


@pytest.mark.parametrize("name", recipe_names())
def test_every_step_parses_as_a_licli_command_with_a_registered_dataset(name, tmp_path):
    """Each step's filled-in arguments at every scale are flags its command knows, and its --dataset
    is one that command accepts (evaluate oracle takes the oracle datasets)."""
    import typer

    from licli.cli import app
    from licli.data import DATASETS
    from licli.data.oracle import ORACLE_BASES

    recipe = load_recipe(name)
    for scale in recipe.scales:
        for step in (s for s in recipe.steps if scale in s.scales):
            args = [re.sub(r"\{run:[^}]+\}", str(tmp_path), a) for a in step.arguments(scale, recipe.variables(scale, tmp_path))]
            command = typer.main.get_command(app)
            for part in step.command:
                command = command.commands[part]
            command.make_context(" ".join(step.command), list(args))
            if "--dataset" in args:
                dataset = args[args.index("--dataset") + 1]
                accepted = ORACLE_BASES if step.command == ("evaluate", "oracle") else DATASETS
                assert dataset in accepted, f"{name} {scale} {step.id}: --dataset {dataset}"
