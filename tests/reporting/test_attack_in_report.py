"""Integration: a tiny ``licli attack`` run is found by ``licli report`` through its contract summary.csv."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from licli.checkpoints import save_checkpoint
from licli.cli import app
from licli.models import ModelSpec, build_model


def test_report_shows_robust_accuracy_of_an_attack_run(runner, tmp_path):
    torch.manual_seed(0)
    spec = ModelSpec("mlp", 10, 1, (28, 28), {"hidden": 16})
    checkpoint = save_checkpoint(tmp_path / "mlp.safetensors", build_model(spec), spec,
                                 extra={"dataset": "mnist-mini", "config": {"seed": 4}})
    attack = runner.invoke(app, ["attack", "-c", str(checkpoint.weights), "--attacks", "fgsm,pgd", "--steps", "2",
                                 "--eps", "0.1", "--n", "30", "--device", "cpu", "--out", str(tmp_path / "runs")])
    assert attack.exit_code == 0, attack.output
    (folder,) = (tmp_path / "runs" / "attack").iterdir()
    attacks = pd.read_csv(folder / "attacks.csv").set_index("attack")

    report = runner.invoke(app, ["report", str(tmp_path / "runs"), "--json"])
    assert report.exit_code == 0, report.output
    metrics = {(m["metric"], m["setting"]): m for m in json.loads(report.stdout)["metrics"]}
    for attack_name in ("fgsm", "pgd", "worst-case"):
        robust = metrics[("robust_accuracy", f"attack={attack_name};norm=linf;eps=0.1")]
        assert robust["model"] == "mlp" and robust["seeds"] == 1
        assert robust["mean"] == pytest.approx(attacks.loc[attack_name, "robust_accuracy"])
    clean = metrics[("clean_accuracy", "attack=none;eps=0")]["mean"]
    assert clean == pytest.approx(attacks.loc["fgsm", "clean_accuracy"])
    assert metrics[("robust_accuracy", "attack=worst-case;norm=linf;eps=0.1")]["mean"] <= clean
