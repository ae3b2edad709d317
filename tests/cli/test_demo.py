"""``licli demo``: the seeded small-cnn run on mnist-mini reaches ≥ 95% test accuracy (the one slower test)."""

import json

from licli.cli import app
from licli.demo import DEMO_EVALUATIONS


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
    assert names == {"manifest.json", "metrics.csv", "model.safetensors", "model.json",
                     *(f"{name}.csv" for name in DEMO_EVALUATIONS)}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["config"]["model"] == "small-cnn" and manifest["status"] == "ok"
