"""``--run-dir``: every command writes its run into exactly that folder; a finished run there is kept unless
``--force``; an unfinished one is replaced; a folder that is not a licli run is never touched."""

from __future__ import annotations

import json

import pytest
import torch

from licli.checkpoints import save_checkpoint
from licli.cli import app
from licli.models import ModelSpec, build_model


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    spec = ModelSpec("mlp", 10, 1, (28, 28), {"hidden": 8})
    path = tmp_path / "mlp.safetensors"
    save_checkpoint(path, build_model(spec), spec, extra={"dataset": "mnist-mini"})
    return path


def _evaluate(runner, checkpoint, run_dir, *extra):
    return runner.invoke(app, ["evaluate", "accuracy", "-c", str(checkpoint), "--device", "cpu",
                               "--run-dir", str(run_dir), *extra])


def _manifest(run_dir):
    return json.loads((run_dir / "manifest.json").read_text())


def test_the_run_goes_exactly_there_and_a_finished_one_is_kept_unless_forced(runner, checkpoint, tmp_path):
    run_dir = tmp_path / "exact" / "run"
    result = _evaluate(runner, checkpoint, run_dir)
    assert result.exit_code == 0, result.output
    first = _manifest(run_dir)
    assert first["status"] == "ok" and first["run_options"]["run_dir"] == str(run_dir)
    assert not (tmp_path / "reports").exists()
    again = _evaluate(runner, checkpoint, run_dir)
    assert again.exit_code == 2 and "already holds a finished run" in again.output and "--force" in again.output
    assert _manifest(run_dir)["started"] == first["started"]
    forced = _evaluate(runner, checkpoint, run_dir, "--force")
    assert forced.exit_code == 0, forced.output
    assert _manifest(run_dir)["status"] == "ok"


def test_an_unfinished_run_is_replaced(runner, checkpoint, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text(json.dumps({"status": "interrupted"}))
    (run_dir / "stale.csv").write_text("x\n")
    result = _evaluate(runner, checkpoint, run_dir)
    assert result.exit_code == 0, result.output
    assert _manifest(run_dir)["status"] == "ok" and not (run_dir / "stale.csv").exists()


def test_a_folder_that_is_not_a_run_is_refused_and_untouched(runner, checkpoint, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    result = _evaluate(runner, checkpoint, tmp_path / "mine", "--force")
    assert result.exit_code == 2 and "is not a licli run folder" in result.output
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
