"""``licli export tensorboard``: the event files, read back with TensorBoard's own EventAccumulator, hold
exactly the run's CSV values."""

import pandas as pd
import pytest

from licli.cli import app
from tests.reporting.conftest import robust_rows, write_run

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def _scalars(folder) -> dict[str, list[tuple[int, float]]]:
    accumulator = event_accumulator.EventAccumulator(str(folder), size_guidance={event_accumulator.SCALARS: 0})
    accumulator.Reload()
    return {tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
            for tag in accumulator.Tags()["scalars"]}


def test_export_writes_the_runs_csv_values(tmp_path, runner):
    history = pd.DataFrame({"epoch": [1, 2, 3], "train_loss": [1.25, 0.5, 0.375], "train_accuracy": [0.7, 0.8, 0.85],
                            "test_accuracy": [0.75, 0.9, 0.925], "seconds": [3.0, 2.5, 2.0]})
    train = write_run(tmp_path / "reports", "train", "mlp", files={"metrics.csv": history},
                      summary=[{"model": "mlp", "metric": "test_accuracy", "setting": "", "value": 0.925, "seed": 0}])
    attack = write_run(tmp_path / "reports", "attack", "fgsm", summary=robust_rows("small-cnn", 0.25))
    result = runner.invoke(app, ["export", "tensorboard", str(train), str(attack), "--out", str(tmp_path / "tb")])
    assert result.exit_code == 0, result.output
    written = _scalars(tmp_path / "tb" / train.name)
    for column in ("train_loss", "train_accuracy", "test_accuracy", "seconds"):
        assert written[f"train/{column}"] == [(e, pytest.approx(v, rel=1e-6)) for e, v in zip(history.epoch, history[column])]
    assert written["test_accuracy/mlp"] == [(0, pytest.approx(0.925, rel=1e-6))]
    summary = pd.read_csv(attack / "summary.csv")
    read = _scalars(tmp_path / "tb" / attack.name)
    assert len(read) == len(summary)
    for row in summary.itertuples():
        assert read[f"{row.metric}/{row.model}/{row.setting}"] == [(0, pytest.approx(row.value, rel=1e-6))]


def test_export_refuses_a_folder_without_results(tmp_path, runner):
    (tmp_path / "empty").mkdir()
    result = runner.invoke(app, ["export", "tensorboard", str(tmp_path / "empty"), "--out", str(tmp_path / "tb")])
    assert result.exit_code == 2 and "no metrics.csv or summary.csv" in result.output
    assert not (tmp_path / "tb").exists()
