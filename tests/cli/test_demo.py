"""``licli demo``: the seeded small-cnn run on mnist-mini reaches ≥ 95% test accuracy, loses accuracy under
FGSM and more under PGD, passes the cheap masking checks, and is found by ``licli report`` (the one slower test)."""

import json

from licli.cli import app
from licli.demo import DEMO_ATTACK_IMAGES, DEMO_EVALUATIONS


def test_demo_trains_small_cnn_to_95_percent(runner, tmp_path):
    result = runner.invoke(app, ["demo", "--json", "--device", "cpu", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    (accuracy,) = payload["evaluations"]["accuracy"]
    assert (accuracy["dataset"], accuracy["split"], accuracy["n"]) == ("mnist-mini", "test", 2000)
    assert accuracy["accuracy"] >= 0.95
    assert accuracy["accuracy"] == payload["history"][-1]["test_accuracy"]
    (folder,) = (tmp_path / "demo").iterdir()
    names = {p.name for p in folder.iterdir()}
    assert names == {"manifest.json", "metrics.csv", "model.safetensors", "model.json", "summary.csv",
                     *(f"{name}.csv" for name in DEMO_EVALUATIONS)}
    attack = {row["attack"]: row for row in payload["evaluations"]["attack"]}
    assert set(attack) == {"fgsm", "pgd", "worst-case"}
    for row in attack.values():
        assert row["n"] == DEMO_ATTACK_IMAGES and row["eps"] == 0.1 and row["max_perturbation_norm"] <= 0.1 + 1e-6
        assert row["robust_accuracy"] <= row["clean_accuracy"]
    assert attack["pgd"]["robust_accuracy"] <= attack["fgsm"]["robust_accuracy"] + 0.01
    assert attack["worst-case"]["robust_accuracy"] <= min(attack["pgd"]["robust_accuracy"], attack["fgsm"]["robust_accuracy"])
    assert all(row["verdict"] == "PASS" for row in payload["evaluations"]["masking"])
    report = runner.invoke(app, ["report", str(tmp_path), "--json"])
    assert report.exit_code == 0, report.output
    metrics = {(m["metric"], m["setting"]): m["mean"] for m in json.loads(report.stdout)["metrics"]}
    assert metrics[("clean_accuracy", "dataset=mnist-mini;split=test")] == accuracy["accuracy"]
    assert metrics[("robust_accuracy", "attack=pgd;norm=linf;eps=0.1")] == attack["pgd"]["robust_accuracy"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["config"]["model"] == "small-cnn" and manifest["status"] == "ok"
