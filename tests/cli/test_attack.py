"""``licli attack`` end to end on an untrained mlp checkpoint and mnist-mini, and its failures."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from licli.checkpoints import save_checkpoint
from licli.cli import app
from licli.models import ModelSpec, build_model


def _trained_mlp():
    """An mlp trained one epoch on 1,000 mnist-mini images (≈ 80% test accuracy: not degenerate)."""
    from dataclasses import replace

    from licli.training.config import TrainConfig
    from licli.data import load_dataset
    from licli.training.loop import fit

    data = load_dataset("mnist-mini")
    data = replace(data, train=data.train.subset(torch.arange(1000)))
    model, spec, _ = fit(TrainConfig(model="mlp", epochs=1, batch_size=32, model_options={"hidden": 16}), data,
                         device=torch.device("cpu"))
    return model.eval(), spec


def _checkpoint(path, zero: bool = False, trained: bool = False):
    torch.manual_seed(0)
    spec = ModelSpec("mlp", 10, 1, (28, 28), {"hidden": 16})
    model = build_model(spec)
    if trained:
        model, spec = _trained_mlp()
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
    model = _checkpoint(tmp_path / "model.safetensors", zero=zero, trained=not zero)
    result = _run(runner, tmp_path, model, "--attacks", "fgsm", "--masking-check", "--fail-on-masking",
                  "--n-queries", "20")
    folder = _folder(tmp_path)
    masking = pd.read_csv(folder / "masking.csv")
    assert len(masking) == 8
    failed = masking[masking["verdict"] == "FAIL"]["check"]
    if zero:
        assert {"degenerate-model", "unbounded-attack-incomplete", "autoattack-flags"} <= set(failed)
        assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
        assert json.loads((folder / "manifest.json").read_text())["exit_code"] == 1
    else:
        assert failed.empty and result.exit_code == 0


BAD = [
    (["--attacks", "fgsm,nope"], "unknown attack 'nope'"),
    (["--eps", "0"], "--eps must be > 0"),
    (["--eps", "-1/255"], "--eps must be ≥ 0"),
    (["--eps", "eight"], "is not a number"),
    (["--norm", "l1"], "Invalid value for '--norm'"),
    (["--eps", "8"], "--eps 8 in linf reaches every image"),
    (["--eps-sweep", "0,8/255,2"], "--eps-sweep 2 in linf reaches every image"),
    (["--norm", "L2", "--eps", "28"], "--eps 28 in l2 reaches every image"),
    (["--subset", "some"], "Invalid value for '--subset'"),
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


def test_an_untrained_model_is_marked_degenerate_everywhere(runner, tmp_path, checkpoint):
    """The random-weight mlp answers near chance: the table, summary.csv, the manifest and the masking
    checks say so, and --fail-on-masking exits 1 (issue 14, item 1)."""
    result = _run(runner, tmp_path, checkpoint, "--attacks", "fgsm", "--masking-check", "--fail-on-masking",
                  "--n-queries", "20")
    assert result.exit_code == 1 and "degenerate-model" in result.stderr
    assert "DEGENERATE" in result.stdout and "no evidence of robustness" in result.stdout
    folder = _folder(tmp_path)
    summary = pd.read_csv(folder / "summary.csv").set_index("metric")
    assert summary.loc["degenerate", "value"] == 1.0 and summary.loc["degenerate", "direction"] == "lower"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["attack"]["degeneracy"]["mlp"]["degenerate"] is True
    masking = pd.read_csv(folder / "masking.csv").set_index("check")
    assert masking.loc["degenerate-model", "verdict"] == "FAIL"


def test_robustbench_norm_spellings_are_accepted(runner, tmp_path, checkpoint):
    result = _run(runner, tmp_path, checkpoint, "--norm", "Linf", "--attacks", "fgsm", "--eps", "inf")
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(_folder(tmp_path) / "summary.csv")
    assert "attack=fgsm;norm=linf;eps=inf" in set(summary["setting"])


def test_the_threat_is_parsed_once_and_not_rebuilt_per_batch(runner, tmp_path, checkpoint, monkeypatch):
    """Each budget given is parsed exactly once (at the command's edge), and the number of ``Threat`` objects
    built does not grow with the number of batches: 4 batches build as many as 1."""
    import licli.attacks.threat as threat_module
    import licli.cli.attack as attack_command

    parsed, built = [], []
    parse = threat_module.parse_budget
    post_init = threat_module.Threat.__post_init__

    def counting_parse(text, field="eps"):
        parsed.append((text, field))
        return parse(text, field)

    def counting_post_init(self):
        built.append(self)
        post_init(self)

    monkeypatch.setattr(threat_module, "parse_budget", counting_parse)
    monkeypatch.setattr(attack_command, "parse_budget", counting_parse)
    monkeypatch.setattr(threat_module.Threat, "__post_init__", counting_post_init)
    counts = {}
    for batch_size in (20, 5):
        parsed.clear()
        built.clear()
        result = _run(runner, tmp_path, checkpoint, "--eps", "8/255", "--eps-sweep", "0,2/255,inf",
                      "--batch-size", str(batch_size), "--name", f"b{batch_size}")
        assert result.exit_code == 0, result.output
        assert sorted(parsed) == sorted([("8/255", "eps"), ("3/255", "step_size"), ("0", "eps_sweep"),
                                         ("2/255", "eps_sweep"), ("inf", "eps_sweep")])
        counts[batch_size] = len(built)
        samples = pd.read_csv(_folder(tmp_path) / "samples.csv")
        assert sorted(samples["eps"].unique()) == [0.0, 2 / 255, float("inf")]  # floats, exactly the parsed values
    assert counts[5] == counts[20], counts
