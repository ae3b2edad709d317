"""``licli attack`` end to end on an untrained mlp checkpoint and mnist-mini, and its failures."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from licli.checkpoints import save_checkpoint
from licli.cli import app
from licli.models import ModelSpec, build_model


def _checkpoint(path, zero: bool = False):
    torch.manual_seed(0)
    spec = ModelSpec("mlp", 10, 1, (28, 28), {"hidden": 16})
    model = build_model(spec)
    if zero:  # constant logits: every input gradient is zero, a masked model
        for parameter in model.parameters():
            parameter.data.zero_()
    save_checkpoint(path, model, spec, extra={"dataset": "mnist-mini"})
    return path


@pytest.fixture
def checkpoint(tmp_path):
    return _checkpoint(tmp_path / "mlp.safetensors")


def _run(runner, tmp_path, checkpoint, *extra):
    return runner.invoke(app, ["attack", "-c", str(checkpoint), "--attacks", "fgsm,pgd,pgd-t", "--steps", "2",
                               "--n", "20", "--device", "cpu", "--out", str(tmp_path / "reports"), *extra])


def _folder(tmp_path):
    folders = sorted((tmp_path / "reports" / "attack").iterdir())
    return folders[-1]


def test_attack_writes_tables_and_manifest(runner, tmp_path, checkpoint):
    result = _run(runner, tmp_path, checkpoint, "--eps", "8/255", "--eps-sweep", "0,8/255,inf", "--json")
    assert result.exit_code == 0, result.output
    folder = _folder(tmp_path)
    samples = pd.read_csv(folder / "samples.csv")
    assert len(samples) == 3 * 3 * 20 and (samples["target"].dropna() != samples["label"][samples["target"].notna()]).all()
    attacks = pd.read_csv(folder / "attacks.csv")
    assert set(attacks["attack"]) == {"fgsm", "pgd", "pgd-t", "worst-case"}
    summary = pd.read_csv(folder / "summary.csv")
    robust = summary[summary["metric"] == "robust_accuracy"]
    assert len(robust) == 4 * 3 and set(summary["model"]) == {"mlp"}
    assert "attack=worst-case;norm=linf;eps=0.0313725" in set(robust["setting"])
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["attack"]["samples"] == {"mlp": 20} and manifest["attack"]["eps_given"] == "8/255"
    assert manifest["config"]["settings"]["step_size"] == pytest.approx(3 / 255)
    assert (folder / "sweep.png").exists()
    assert json.loads(result.stdout)["rows"]


def test_same_seed_gives_identical_csvs(runner, tmp_path, checkpoint):
    for name in ("a", "b"):
        assert _run(runner, tmp_path, checkpoint, "--name", name, "--seed", "3").exit_code == 0
    first, second = sorted((tmp_path / "reports" / "attack").iterdir())
    for file in ("samples.csv", "attacks.csv", "summary.csv"):
        assert (first / file).read_text() == (second / file).read_text()


@pytest.mark.parametrize("zero", [False, True], ids=["plain", "masked"])
def test_masking_failure_exits_one_after_writing(runner, tmp_path, zero):
    model = _checkpoint(tmp_path / "model.safetensors", zero=zero)
    result = _run(runner, tmp_path, model, "--attacks", "fgsm", "--masking-check", "--fail-on-masking",
                  "--n-queries", "20")
    folder = _folder(tmp_path)
    masking = pd.read_csv(folder / "masking.csv")
    assert len(masking) == 7
    failed = masking[masking["verdict"] == "FAIL"]["check"]
    if zero:
        assert {"unbounded-attack-incomplete", "autoattack-flags"} <= set(failed)
        assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
        assert json.loads((folder / "manifest.json").read_text())["exit_code"] == 1
    else:
        assert failed.empty and result.exit_code == 0


BAD = [
    (["--attacks", "fgsm,nope"], "unknown attack 'nope'"),
    (["--eps", "0"], "--eps must be > 0"),
    (["--eps", "-1/255"], "--eps must be ≥ 0"),
    (["--eps", "eight"], "is not a number"),
    (["--norm", "l1"], "unknown norm"),
    (["--subset", "some"], "unknown subset"),
    (["--fail-on-masking"], "needs --masking-check"),
]


@pytest.mark.parametrize("extra,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line(runner, tmp_path, checkpoint, extra, message):
    result = _run(runner, tmp_path, checkpoint, *extra)
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and message in lines[0], result.output
    assert not (tmp_path / "reports").exists()


def test_missing_checkpoint_is_one_line(runner, tmp_path):
    result = _run(runner, tmp_path, tmp_path / "missing.safetensors")
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "checkpoint" in result.stderr
