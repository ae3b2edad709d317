"""The evaluation commands end to end on a tiny checkpoint, and their bad inputs (exit 2, one line)."""

import json

import pandas as pd
import pytest

from licli.cli import app
from licli.runtime import sha256_file

def _run_folder(out, command):
    (folder,) = (out / command).iterdir()
    return folder


def test_prune_two_checkpoints_leaves_the_file_untouched(runner, tmp_path, checkpoint):
    before = sha256_file(checkpoint)
    out = tmp_path / "reports"
    result = runner.invoke(app, ["evaluate", "prune", "-c", str(checkpoint), "-c", str(checkpoint), "--levels",
                                 "0,0.5,0.9", "--scope", "layerwise", "--out", str(out), "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    assert sha256_file(checkpoint) == before
    folder = _run_folder(out, "evaluate-prune")
    frame = pd.read_csv(folder / "pruning.csv")
    assert set(frame["model"]) == {"tiny", "tiny#2"} and (folder / "curve.png").stat().st_size > 0
    layers = frame[frame.layer != "all"]
    assert (layers["zeros"] == (layers["level"] * layers["size"]).round()).all()
    areas = pd.read_csv(folder / "auc.csv")
    assert list(areas["model"]) == ["tiny", "tiny#2"]
    summary = pd.read_csv(folder / "summary.csv").groupby(["metric", "setting"])["value"].agg(list)
    curve = frame[(frame.layer == "all") & (frame.model == "tiny")].set_index("level")["accuracy"]
    for level in (0, 0.5, 0.9):
        assert summary[("pruned_accuracy", f"scope=layerwise;sparsity={level:g}")] == [curve[level]] * 2
    assert summary[("clean_accuracy", "dataset=mnist-mini;split=test")] == [curve[0]] * 2
    assert summary[("pruning_auc", "scope=layerwise")] == pytest.approx(list(areas["auc_accuracy"]))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["inputs"]["tiny:weights"]["sha256"] == before and manifest["status"] == "ok"


def test_prune_with_attack_reports_robust_accuracy_per_level(runner, tmp_path, checkpoint):
    out = tmp_path / "reports"
    result = runner.invoke(app, ["evaluate", "prune", "-c", str(checkpoint), "--levels", "0,0.9", "--attack", "fgsm",
                                 "--eps", "0.1", "--attack-n", "20", "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    folder = _run_folder(out, "evaluate-prune")
    curve = pd.read_csv(folder / "pruning.csv").query("layer == 'all'")
    assert curve["robust_accuracy"].between(0, 1).all() and "auc_robust_accuracy" in pd.read_csv(folder / "auc.csv")
    summary = pd.read_csv(folder / "summary.csv").set_index(["metric", "setting"])["value"]
    assert summary[("robust_accuracy", "scope=global;sparsity=0.9")] == curve["robust_accuracy"].iloc[1]
    attack = runner.invoke(app, ["attack", "-c", str(checkpoint), "--attacks", "fgsm", "--eps", "0.1", "--n", "20",
                                 "--out", str(out), "--device", "cpu"])
    assert attack.exit_code == 0, attack.output
    unpruned = pd.read_csv(_run_folder(out, "attack") / "attacks.csv").query("attack == 'worst-case'")
    assert curve["robust_accuracy"].iloc[0] == unpruned["robust_accuracy"].iloc[0]
    bad = runner.invoke(app, ["evaluate", "prune", "-c", str(checkpoint), "--attack", "nope", "--out", str(out)])
    assert bad.exit_code == 2 and "nope" in bad.stderr and "Traceback" not in bad.output


@pytest.mark.parametrize("command,csv,metric", [
    (["fisher-rao", "--n", "40", "--fisher", "model"], "fisher_rao.csv", "fisher_rao_norm"),
    (["gsnr", "--n", "40"], "gsnr.csv", "gsnr"),
    (["hessian-trace", "--n", "20", "--samples", "2", "--power-iterations", "2"], "hessian_trace.csv",
     "hessian_trace"),
    (["activations", "--n", "40"], "activations.csv", "activation_mean"),
])
def test_commands_write_their_table(runner, tmp_path, checkpoint, command, csv, metric):
    out = tmp_path / "reports"
    result = runner.invoke(app, ["evaluate", *command, "-c", str(checkpoint), "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.stderr
    frame = pd.read_csv(_run_folder(out, f"evaluate-{command[0]}") / csv)
    assert len(frame) >= 1 and frame.select_dtypes("number").notna().any().all()
    summary = pd.read_csv(_run_folder(out, f"evaluate-{command[0]}") / "summary.csv").set_index("setting")
    assert metric in set(summary["metric"]) and set(summary["model"]) == {"small-cnn"}
    if metric == "fisher_rao_norm":
        assert set(summary["metric"]) == {metric} and summary.loc["fisher=model;params=all", "value"] == frame["value"][0]
    elif metric == "hessian_trace":
        assert set(summary["metric"]) == {"hessian_trace", "hessian_top_eigenvalue"}
        by_metric = summary.reset_index().set_index("metric")
        assert by_metric.loc["hessian_trace", "value"] == frame["trace"][0]
        assert by_metric.loc["hessian_top_eigenvalue", "value"] == frame["top_eigenvalue"][0]
        assert by_metric.loc["hessian_trace", "setting"] == "params=all;n=20"
    elif metric == "activation_mean":
        rows = summary.reset_index().set_index(["metric", "setting"])["value"]
        for record in frame.to_dict(orient="records"):
            for name, column in (("activation_mean", "mean"), ("activation_variance", "variance"),
                                 ("activation_sparsity", "sparsity")):
                assert rows[(name, f"slot={record['slot']}")] == pytest.approx(record[column])
    else:
        assert set(summary["metric"]) == {metric} and summary.loc["layer=all", "value"] == pytest.approx(
            (frame["gsnr_mean"] * (frame["parameters"] - frame["zero_variance"])).sum()
            / (frame["parameters"] - frame["zero_variance"]).sum())
        assert len(summary) == len(frame) + 1


def test_train_tracks_gsnr(runner, tmp_path):
    out = tmp_path / "reports"
    result = runner.invoke(app, ["train", "--model", "mlp", "--model-options", '{"hidden": 8}', "--epochs", "1",
                                 "--track", "gsnr", "--track-every", "40", "--out", str(out), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    folder = _run_folder(out, "train")
    track = pd.read_csv(folder / "track_gsnr.csv", dtype={"layer": str})
    assert sorted(set(track["step"])) == [0, 40] and set(track["layer"]) == {"2", "5", "8"}
    assert (folder / "track_gsnr.png").exists()


BAD = [
    (["evaluate", "prune", "--levels", "0,1.0"], "[0, 1)"),
    (["evaluate", "prune", "--levels", "0,x"], "--levels"),
    (["evaluate", "prune", "--scope", "nope"], "Invalid value for '--scope'"),
    (["evaluate", "fisher-rao", "--n", "0"], "--n must be > 0"),
    (["evaluate", "fisher-rao", "--fisher", "nope"], "Invalid value for '--fisher'"),
    (["evaluate", "fisher-rao", "--params", "nope"], "Invalid value for '--params'"),
    (["evaluate", "gsnr", "--n", "1"], "--n must be ≥ 2"),
    (["evaluate", "hessian-trace", "--samples", "0"], "--samples must be > 0"),
    (["evaluate", "hessian-trace", "--power-iterations", "-1"], "--power-iterations"),
    (["evaluate", "activations", "--n", "-3"], "--n must be > 0"),
    (["evaluate", "activations", "--split", "val"], "Invalid value for '--split'"),
    (["train", "--track", "nope"], "'nope' is not one of 'gsnr'"),
    (["train", "--track", "gsnr", "--track-every", "0"], "--track-every must be > 0"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line(runner, tmp_path, checkpoint, argv, message):
    source = ["-c", str(checkpoint)] if argv[0] == "evaluate" else ["--epochs", "1", "--model", "mlp"]
    result = runner.invoke(app, [*argv, *source, "--out", str(tmp_path / "reports"), "--device", "cpu"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("licli: error:") and message in lines[0], result.stderr
    assert not (tmp_path / "reports").exists()
