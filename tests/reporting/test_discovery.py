"""Discovery on fixture run folders: what is found, how filters act, how malformed folders are skipped."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from licli.errors import LicliError
from licli.reporting.discovery import RunFilter, discover, mechanisms_of

from .conftest import write_run


def test_finds_every_run_and_reads_summary_and_adapter(fixture_runs):
    found = discover([fixture_runs])
    assert found.skipped == []
    assert sorted(r.name for r in found.runs) == ["normout-s0", "plain-s0", "plain-s1", "plain-s2", "train"]
    metrics = found.metrics()
    train = metrics[metrics["command"] == "train"].set_index("metric")
    # the adapter reads the last epoch of metrics.csv and the seed from the manifest
    assert train.loc["clean_accuracy", "value"] == 0.9 and train.loc["test_loss", "value"] == 0.3
    assert train.loc["clean_accuracy", "setting"] == "dataset=mnist-mini;split=test"
    assert train.loc["test_loss", "direction"] == "lower" and set(train["seed"]) == {3}
    assert len(found.images()) == 4


@pytest.mark.parametrize("run_filter,names", [
    (RunFilter(commands=("train",)), ["train"]),
    (RunFilter(names=("plain-s1",)), ["plain-s1"]),
    (RunFilter(tags=("paper",)), ["plain-s0", "plain-s1", "plain-s2"]),
    (RunFilter(mechanisms=("normout",)), ["normout-s0"]),
    (RunFilter(mechanisms=("none",), commands=("attack",)), ["plain-s0", "plain-s1", "plain-s2"]),
    (RunFilter(models=("mlp",)), ["train"]),
])
def test_filters(fixture_runs, run_filter, names):
    assert sorted(r.name for r in discover([fixture_runs], run_filter).runs) == names


def test_mechanisms_are_read_from_model_labels():
    assert mechanisms_of("vgg16+normout@fc1(temperature=100.0)+dropout@fc2(p=0.5)") == ("normout", "dropout")
    assert mechanisms_of("resnet18") == ()


MALFORMED = {
    "no-manifest": ("no manifest.json", lambda folder: (folder / "manifest.json").unlink()),
    "bad-json": ("not valid JSON", lambda folder: (folder / "manifest.json").write_text("{oops")),
    "not-object": ("not a JSON object", lambda folder: (folder / "manifest.json").write_text("[1, 2]")),
    "no-command": ("has no command", lambda folder: (folder / "manifest.json").write_text('{"status": "ok"}')),
    "failed": ("status failed: boom", lambda folder: (folder / "manifest.json").write_text(
        json.dumps({"command": "attack", "status": "failed", "error": "boom"}))),
    "bad-value": ("'abc' is not a number", lambda folder: pd.DataFrame(
        [{"model": "m", "metric": "x", "setting": "", "value": "abc"}]).to_csv(folder / "summary.csv", index=False)),
    "bad-columns": ("lacks column(s) metric", lambda folder: pd.DataFrame(
        [{"model": "m", "value": 1}]).to_csv(folder / "summary.csv", index=False)),
    "bad-direction": ("direction 'up'", lambda folder: pd.DataFrame(
        [{"model": "m", "metric": "x", "setting": "", "value": 1, "direction": "up"}]).to_csv(folder / "summary.csv", index=False)),
    "no-adapter": ("wrote no summary.csv and has no adapter", lambda folder: (folder / "summary.csv").unlink()),
    "empty-csv": ("not a readable CSV", lambda folder: (folder / "summary.csv").write_text("")),
}


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_folders_are_skipped_with_a_reason(fixture_runs, kind):
    reason, damage = MALFORMED[kind]
    broken = write_run(fixture_runs, "mystery", kind, summary=[{"model": "m", "metric": "x", "setting": "", "value": 1}])
    damage(broken)
    found = discover([fixture_runs])
    assert len(found.runs) == 5, "the good runs are still read"
    assert [s.path for s in found.skipped] == [broken]
    assert reason in found.skipped[0].reason and str(broken) in found.skipped[0].notice()


def test_truncated_adapter_file_is_skipped(fixture_runs):
    (next((fixture_runs / "train").iterdir()) / "metrics.csv").write_text("epoch,train_loss\n1,0.5\n")
    found = discover([fixture_runs])
    assert "metrics.csv lacks column(s)" in found.skipped[0].reason


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(LicliError, match="no run folder"):
        discover([tmp_path / "nowhere"])


def test_a_single_run_folder_or_its_manifest_can_be_named(fixture_runs):
    folder = next((fixture_runs / "train").iterdir())
    assert [r.name for r in discover([folder]).runs] == ["train"]
    assert [r.name for r in discover([folder / "manifest.json"]).runs] == ["train"]
