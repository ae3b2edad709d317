"""``licli train`` end to end: manifest, --json, TOML config, resume after an interruption, bad input."""

import json

import pandas as pd

from licli.cli import app
from licli.runtime import sha256_file

TINY = ["train", "--model", "mlp", "--dataset", "mnist-mini", "--model-options", '{"hidden": 16}',
        "--batch-size", "500", "--lr", "0.1", "--device", "cpu"]


def run_folder(root, command="train"):
    (folder,) = (root / command).iterdir()
    return folder


def test_manifest_records_the_run(runner, tmp_path):
    result = runner.invoke(app, [*TINY, "--epochs", "1", "--seed", "3", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    folder = run_folder(tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["argv"][-1] == str(tmp_path) and manifest["command"] == "train"
    assert manifest["config"]["model"] == "mlp" and manifest["config"]["model_options"] == {"hidden": 16}
    assert manifest["seed"] == 3 and manifest["config"]["seed"] == 3
    assert {"licli", "torch", "torchvision", "numpy", "scipy", "Pillow"} <= set(manifest["versions"])
    assert all(manifest["versions"][k] for k in ("licli", "torch", "torchvision", "numpy", "scipy", "Pillow"))
    assert len(manifest["git"]["sha"]) == 40 and isinstance(manifest["git"]["dirty"], bool)
    assert manifest["device"]["device"] == "cpu"
    data = manifest["inputs"]["data:mnist-mini"]
    assert data["sha256"] == sha256_file(data["path"])
    for name in ("model.safetensors", "model.json"):
        assert manifest["files"][name]["sha256"] == sha256_file(folder / name)
    assert manifest["started"] <= manifest["finished"] and manifest["seconds"] > 0
    assert manifest["status"] == "ok" and manifest["exit_code"] == 0
    assert not (folder / "training_state.json").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "metrics.csv", "model.json",
                                                         "model.safetensors"]


def test_json_output_parses(runner, tmp_path):
    result = runner.invoke(app, [*TINY, "--epochs", "1", "--json", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["run"] == str(run_folder(tmp_path))
    assert payload["rows"][0]["epoch"] == 1 and 0.5 < payload["rows"][0]["test_accuracy"] <= 1
    assert result.stderr == ""  # no progress bar off a terminal


def test_toml_config_is_read_and_flags_override_it(runner, tmp_path):
    config = tmp_path / "train.toml"
    config.write_text('model = "mlp"\nepochs = 1\nlr = 0.2\nbatch_size = 1000\nmodel_options = { hidden = 8 }\n')
    result = runner.invoke(app, ["train", "--config", str(config), "--lr", "0.1", "--device", "cpu",
                                 "--out", str(tmp_path / "r")], env={"LICLI_BATCH_SIZE": "500"})
    assert result.exit_code == 0, result.output
    saved = json.loads((run_folder(tmp_path / "r") / "manifest.json").read_text())["config"]
    assert (saved["model"], saved["epochs"], saved["lr"], saved["batch_size"]) == ("mlp", 1, 0.1, 500)
    assert saved["model_options"] == {"hidden": 8}


class InterruptAtEpoch:
    """A progress display whose user presses Ctrl-C as epoch ``epoch`` starts."""

    def __init__(self, epoch):
        self.epoch = epoch

    def __call__(self):
        return self

    def start_epoch(self, epoch, epochs, steps):
        if epoch == self.epoch:
            raise KeyboardInterrupt

    def advance(self):
        pass

    def end_epoch(self, row):
        pass


def test_resume_after_interruption_equals_uninterrupted_run(runner, tmp_path, monkeypatch):
    argv = [*TINY, "--epochs", "3"]
    assert runner.invoke(app, [*argv, "--out", str(tmp_path / "full")]).exit_code == 0
    full = pd.read_csv(run_folder(tmp_path / "full") / "metrics.csv")

    with monkeypatch.context() as patch:
        patch.setattr("licli.cli.train.EpochProgress", InterruptAtEpoch(2))
        interrupted = runner.invoke(app, [*argv, "--out", str(tmp_path / "cut")])
    assert interrupted.exit_code == 130
    folder = run_folder(tmp_path / "cut")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and not (folder / "model.safetensors").exists()

    resumed = runner.invoke(app, ["train", "--resume", str(folder)])
    assert resumed.exit_code == 0, resumed.output
    after = pd.read_csv(folder / "metrics.csv")
    timing = ["seconds", "images_per_second"]
    pd.testing.assert_frame_equal(after.drop(columns=timing), full.drop(columns=timing))
    assert sha256_file(folder / "model.safetensors") == sha256_file(run_folder(tmp_path / "full") / "model.safetensors")
    final = json.loads((folder / "manifest.json").read_text())
    assert final["resumed"] is True and final["status"] == "ok"
    assert [(a["started"], a["status"], a["exit_code"]) for a in final["earlier_attempts"]] == [
        (manifest["started"], "interrupted", 130)]


def test_resume_refuses_changed_settings(runner, tmp_path, monkeypatch):
    monkeypatch.setattr("licli.cli.train.EpochProgress", InterruptAtEpoch(2))
    runner.invoke(app, [*TINY, "--epochs", "2", "--out", str(tmp_path)])
    result = runner.invoke(app, ["train", "--resume", str(run_folder(tmp_path)), "--lr", "0.5"])
    assert result.exit_code == 2 and "configuration differs" in result.stderr
