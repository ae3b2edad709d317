"""``licli verdict`` end to end: verdict.json and the run folder, --expect exit codes, recipes trained on
the fly, and bad input refused before anything runs."""

from __future__ import annotations

import json

import pytest

from licli.checkpoints import save_checkpoint
from licli.cli import app
from tests.cli.test_attack import _trained_mlp

FAST = ["--eps", "0.1", "--n", "100", "--steps", "5", "--n-queries", "50", "--margin", "0.05", "--device", "cpu"]


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    model, spec = _trained_mlp()
    path = tmp_path_factory.mktemp("verdict") / "plain.safetensors"
    save_checkpoint(path, model, spec, extra={"dataset": "mnist-mini", "config": {"epochs": 1}})
    return path


def _run(runner, tmp_path, *args):
    return runner.invoke(app, ["verdict", *args, "--out", str(tmp_path / "reports")])


def _folder(tmp_path):
    return sorted((tmp_path / "reports" / "verdict").iterdir())[-1]


def test_expect_sets_the_exit_code_and_the_run_folder_holds_the_verdict(runner, tmp_path, plain):
    same = _run(runner, tmp_path, "--model", str(plain), "--baseline", str(plain), *FAST,
                "--expect", "no-measurable-difference")
    assert same.exit_code == 0, same.output
    assert "verdict:" in same.output
    folder = _folder(tmp_path)
    saved = json.loads((folder / "verdict.json").read_text())
    assert saved["decision"] == "no-measurable-difference" and saved["scale"]["images"] == 100
    assert saved["scale"]["epochs"] == [1, 1] and saved["scale"]["smoke"] is True
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "ok" and manifest["verdict"]["decision"] == "no-measurable-difference"
    assert {"verdict.json", "per_seed.csv", "comparisons.csv", "masking.csv"} <= set(manifest["files"])

    wrong = _run(runner, tmp_path, "--model", str(plain), "--baseline", str(plain), *FAST, "--masking-checks", "none",
                 "--expect", "more-robust")
    assert wrong.exit_code == 1
    assert "the verdict is 'no-measurable-difference', expected 'more-robust'" in wrong.output


def test_recipes_are_trained_for_each_seed(runner, tmp_path):
    recipe = tmp_path / "mlp.toml"
    recipe.write_text('model = "mlp"\nepochs = 1\nbatch_size = 256\nmodel_options = { hidden = 8 }\n')
    result = _run(runner, tmp_path, "--train-config", str(recipe), "--baseline-config", str(recipe), "--seeds", "2",
                  "--eps", "0.1", "--n", "30", "--attacks", "pgd", "--steps", "3", "--masking-checks", "none",
                  "--device", "cpu", "--json")
    assert result.exit_code == 0, result.output
    folder = _folder(tmp_path)
    saved = json.loads((folder / "verdict.json").read_text())
    assert saved["scale"]["seeds"] == 2 and saved["scale"]["epochs"] == [1, 1, 1, 1]
    # the same recipe and seeds on both sides: identical models, identical outcomes
    assert all(row["effect"] == 0 and row["differences"] == [0.0, 0.0] for row in saved["comparisons"])
    assert saved["decision"] == "inconclusive"  # 30 images cannot bound the difference within ±3 points
    assert {f"{side}-seed{k}.safetensors" for side in ("mechanism", "baseline") for k in (0, 1)} \
        <= {p.name for p in folder.iterdir()}


@pytest.mark.parametrize("args,message", [
    (["--model", "a.safetensors"], "1 --model for 0 --baseline"),
    ([], "no mechanism and baseline given"),
    (["--train-config", "a.toml"], "--train-config and --baseline-config go together"),
    (["--model", "a.safetensors", "--baseline", "b.safetensors", "--expect", "better"], "Invalid value for '--expect'"),
    (["--model", "a.safetensors", "--baseline", "b.safetensors", "--eps", "8"], "reaches every image"),
])
def test_bad_input_is_one_line_and_exit_2(runner, tmp_path, args, message):
    result = _run(runner, tmp_path, *args)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "reports" / "verdict").exists()
