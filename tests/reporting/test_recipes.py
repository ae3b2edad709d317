"""Recipes parse, cite the paper's tables/figures, and hold the numbers printed in the paper's text."""

from __future__ import annotations

import math

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from licli.config import load_toml, resolve
from licli.training.config import TrainConfig
from licli.reproduction import (CONFIGS_DIR, Measurement, PaperNumber, Recipe, RecipeInterrupted, Runner, Step,
                                claim_checks, load_recipe, paper_comparison, recipe_names, run_recipe)

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


def _finish(folder: Path, status: str = "ok") -> None:
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"status": status}))


def test_runner_runs_available_steps_and_reports_the_rest(tmp_path):
    calls = []

    def invoke(arguments):
        calls.append(arguments)
        _finish(Path(arguments[arguments.index("--run-dir") + 1]))
        return 0

    value = {}
    runner = Runner(available=lambda path: path == ("fake",), invoke=invoke,
                    summary=lambda path: pd.DataFrame([{"model": "m", "metric": "clean_accuracy",
                                                        "setting": "dataset=x;split=test", "value": value["v"]}]))
    value["v"] = 0.8
    steps, rows = run_recipe(_fake_recipe(), "smoke", tmp_path, runner, ["--device", "cpu"])
    assert list(steps["status"]) == ["ok", "not yet available in licli", "skipped: needs step later"]
    assert calls == [["fake", "--value", "0.8", "--run-dir", str(tmp_path / "make"), "--device", "cpu"]]
    assert list(steps["run"]) == [str(tmp_path / "make"), "", ""]
    comparison = paper_comparison(_fake_recipe(), rows)
    assert comparison["licli"].iloc[0] == pytest.approx(80.0)
    assert comparison["difference"].iloc[0] == pytest.approx(-10.0)
    assert comparison["licli"].isna().iloc[1]


def test_a_step_is_ok_only_when_its_manifest_says_finished(tmp_path):
    def invoke(arguments):
        _finish(Path(arguments[arguments.index("--run-dir") + 1]), status="failed")
        return 0

    runner = Runner(available=lambda path: True, invoke=invoke, summary=lambda path: pd.DataFrame())
    steps, rows = run_recipe(_fake_recipe(), "smoke", tmp_path, runner)
    assert steps["status"].iloc[0] == "failed (exit 0)" and rows == {}


def test_ctrl_c_in_a_step_stops_the_recipe(tmp_path):
    calls = []

    def invoke(arguments):
        calls.append(arguments)
        return 130

    runner = Runner(available=lambda path: True, invoke=invoke, summary=lambda path: pd.DataFrame())
    with pytest.raises(RecipeInterrupted, match="interrupted during step make") as stop:
        run_recipe(_fake_recipe(), "smoke", tmp_path, runner)
    assert len(calls) == 1 and stop.value.exit_code == 130


@pytest.mark.parametrize(("code", "exit_code", "message"), [
    (3, 1, "step(s) did not finish: train-no-oracle (failed (exit 3)), oracle-baselines (failed (exit 3))"),
    (130, 130, "interrupted during step train-no-oracle: the recipe stopped"),
])
def test_reproduce_exits_non_zero_naming_unfinished_steps(monkeypatch, tmp_path, code, exit_code, message):
    from typer.testing import CliRunner

    import licli.cli.reproduce as command
    from licli.cli import app

    calls = []
    monkeypatch.setattr(command, "invoke", lambda arguments: calls.append(arguments) or code)
    result = CliRunner().invoke(app, ["reproduce", "oracle-mnist", "--device", "cpu", "--out", str(tmp_path)])
    assert result.exit_code == exit_code, result.output
    assert message in " ".join(result.output.split())
    assert len(calls) == (3 if code == 3 else 1)


@pytest.mark.parametrize("flags", [["--device", "tpu"], ["--device", "cuda:99"], ["--scale", "huge"]])
def test_reproduce_checks_run_options_before_any_step(monkeypatch, tmp_path, flags):
    from typer.testing import CliRunner

    import licli.cli.reproduce as command
    from licli.cli import app

    calls = []
    monkeypatch.setattr(command, "invoke", lambda arguments: calls.append(arguments) or 0)
    result = CliRunner().invoke(app, ["reproduce", "normout", *flags, "--out", str(tmp_path)])
    assert result.exit_code == 2 and calls == [], result.output
    assert "Traceback" not in result.output


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


IMAGE_SHAPES = {"cifar10": (3, 32, 32), "cifar10-mini": (3, 32, 32), "mnist": (1, 28, 28), "mnist-mini": (1, 28, 28)}


class _Built(Exception):
    """Raised by the stand-in for training once the step's model is built and ran forward."""


def test_the_image_shapes_below_are_the_datasets_shapes():
    from licli.data import load_dataset

    data = load_dataset("mnist-mini")
    assert (data.in_channels, *data.image_size) == IMAGE_SHAPES["mnist-mini"]


def _built_models(monkeypatch, tmp_path) -> dict[tuple[str, str, str], str]:
    """Every train step of every recipe at every scale run through the real ``licli train`` parser and
    config, its dataset replaced by 2 blank images of the dataset's shape, its model built from the
    config and run forward in training mode (mechanisms active); the model label of each."""
    import torch
    from typer.testing import CliRunner

    from licli.cli import app
    from licli.data import Dataset, Split
    from licli.models import build_model
    from licli.contract import model_label
    from licli.reproduction import step_argv
    from licli.training.loop import model_spec_for

    built: dict[tuple[str, str, str], str] = {}

    def blank(name, data_dir=None, download=False):
        images = torch.zeros(2, *IMAGE_SHAPES[name], dtype=torch.uint8)
        split = Split(images, torch.zeros(2, dtype=torch.long))
        return Dataset(name, split, split, 10, tuple(str(i) for i in range(10)))

    def build(config, data, **kwargs):
        spec = model_spec_for(config, data)
        model = build_model(spec).train()
        assert model(data.train.images.float() / 255).shape == (2, 10)
        built[current] = model_label(spec.to_dict())
        raise _Built

    monkeypatch.setattr("licli.data.load_dataset", blank)  # the train command imports both when it runs
    monkeypatch.setattr("licli.training.loop.fit", build)
    for init in ("kaiming_normal_", "kaiming_uniform_", "normal_", "uniform_", "constant_"):
        # shapes are what is tested: zeros instead of random draws make full-size VGG-16 cheap to build
        monkeypatch.setattr(torch.nn.init, init, lambda tensor, *args, **kwargs: tensor.detach().zero_())
    for name in recipe_names():
        recipe = load_recipe(name)
        for scale in recipe.scales:
            for step in (s for s in recipe.steps if scale in s.scales and s.command == ("train",)):
                current = (name, scale, step.id)
                argv = step_argv(step, scale, recipe.variables(scale, tmp_path), tmp_path)
                result = CliRunner().invoke(app, [*argv, "--device", "cpu"])
                assert current in built, f"{current}: {result.output}"
    return built


def test_every_train_step_builds_its_model_at_every_scale_and_the_paper_labels_name_them(monkeypatch, tmp_path):
    """The class of bug where a recipe's config names a parameter its mechanism does not have, or its model
    cannot run on the scale's images, fails here without data; and every paper number measured on a
    model names the exact label of a model a step trains."""
    built = _built_models(monkeypatch, tmp_path)
    assert {scale for _, scale, _ in built} == {"smoke", "full"}
    for name in recipe_names():
        recipe = load_recipe(name)
        steps = {s.id: s for s in recipe.steps}
        measurements = [n.measured for n in recipe.paper_numbers if n.measured] + \
                       [m for c in recipe.claims for m in (c.better, c.worse)]
        for measured in (m for m in measurements if m.model):
            step = steps[measured.step]
            for scale in step.scales:
                trained = [step.id] if step.command == ("train",) else [
                    r for a in step.arguments(scale, recipe.variables(scale, tmp_path))
                    for r in re.findall(r"\{run:([^}]+)\}", a)]
                labels = {built[(name, scale, t)] for t in trained if (name, scale, t) in built}
                if trained:
                    assert measured.model in labels, f"{name} {scale} {measured.step}: {measured.model}"


def test_a_measurement_matches_a_budget_by_value():
    """A recipe's ``eps=0.031372549`` (8/255 by hand) picks the row licli wrote as ``eps=0.0313725``."""
    rows = {"attack": pd.DataFrame([
        {"model": "m", "metric": "robust_accuracy", "setting": "attack=pgd;norm=linf;eps=0.0313725", "value": 0.4},
        {"model": "m", "metric": "robust_accuracy", "setting": "attack=pgd;norm=linf;eps=0.0627451", "value": 0.1}])}
    assert Measurement("attack", "robust_accuracy", ("attack=pgd", "eps=0.031372549"), "m").value(rows) == 0.4
    assert math.isnan(Measurement("attack", "robust_accuracy", ("eps=0.03",), "m").value(rows))
