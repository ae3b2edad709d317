"""``licli.runs.Run``: what its manifest holds, that every input is hashed once, atomic writes, and how a run
ends (ok, bad input, internal error, Ctrl-C). Hashes are checked against ``hashlib`` over the file bytes."""

from __future__ import annotations

import errno
import hashlib
import json
import os
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import torch

from licli.checkpoints import save_checkpoint
from licli.cli import app
from licli.errors import Interrupted, LicliError
from licli.models import ModelSpec, build_model
from licli.sources import LoadedModel
from licli.reporting.plots import subplots
from licli.runs import Run

SPEC = ModelSpec("small-cnn", 10, 1, (28, 28), {"filters": 2, "hidden": 8})


def digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def manifest(run: Run) -> dict:
    return json.loads((run.path / "manifest.json").read_text())


class FakeData:
    def __init__(self, files, hashes=None):
        self.files, self.hashes = files, hashes or {}


def test_manifest_lists_results_inputs_notes_and_end(tmp_path):
    data_file, weights = tmp_path / "images.bin", tmp_path / "w.pt"
    data_file.write_bytes(b"\x00\x01" * 100)
    weights.write_bytes(b"weights")
    run = Run(tmp_path / "out" / "cmd" / "r1", "cmd", config={"k": 1}, seed=3, device=torch.device("cpu"),
              argv=["licli", "cmd"], details={"run_options": {"name": "r1"}})
    assert not (tmp_path / "out").exists()  # nothing on disk before the first write
    run.write_csv("table.csv", pd.DataFrame({"a": [1, 2, 3]}))
    run.write_json("extra.json", {"x": 1})
    figure, axes = subplots(figsize=(2, 2))
    axes.plot([0, 1], [0, 1])
    run.save_figure("plot.png", figure)
    run.record_dataset(FakeData({"images": str(data_file)}))
    run.record_model(LoadedModel(model=torch.nn.Identity(), label="net", meta={"model": {"name": "x"}},
                                 files={"weights": str(weights)}, hashes={"weights": digest(weights)}))
    run.note("attack", {"eps": 0.1})
    run.finish()
    written = manifest(run)
    assert written["command"] == "cmd" and written["argv"] == ["licli", "cmd"] and written["seed"] == 3
    assert written["config"] == {"k": 1} and written["run_options"] == {"name": "r1"}
    assert written["files"] == {"table.csv": {"rows": 3}, "extra.json": {}, "plot.png": {}}
    assert (run.path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert written["inputs"] == {"data:images": {"path": str(data_file), "sha256": digest(data_file)},
                                 "net:weights": {"path": str(weights), "sha256": digest(weights)}}
    assert written["attack"] == {"eps": 0.1}
    assert (written["status"], written["exit_code"], written["error"]) == ("ok", 0, None)
    assert written["seconds"] >= 0 and written["device"]["device"] == "cpu"
    assert run.models == {"net": None}  # no licli metadata: reports keep its display label


def test_commands_cannot_overwrite_what_run_records(tmp_path):
    run = Run(tmp_path / "r", "cmd")
    with pytest.raises(ValueError, match="recorded by Run"):
        run.note("files", {})
    with pytest.raises(TypeError):
        run.manifest["status"] = "ok"  # type: ignore[index]


def test_a_checkpoint_written_into_the_run_is_listed_with_the_hashes_its_writer_computed(tmp_path):
    run = Run(tmp_path / "r", "train")
    checkpoint = save_checkpoint(run.file("model.safetensors"), build_model(SPEC), SPEC, extra={"config": {"seed": 7}})
    run.record_checkpoint(checkpoint)
    run.finish()
    files = manifest(run)["files"]
    assert files["model.safetensors"]["sha256"] == digest(run.path / "model.safetensors")
    assert files["model.json"]["sha256"] == digest(run.path / "model.json")


def test_every_input_file_is_hashed_exactly_once(runner, tmp_path, monkeypatch):
    """A checkpoint is hashed when its weights are checked; the run records that hash instead of reading the
    file again (each file's count is 1, and the recorded hashes equal hashlib's)."""
    import licli.checkpoints
    import licli.data.cifar10
    import licli.models.foreign
    import licli.sources
    import licli.runs
    import licli.runtime

    torch.manual_seed(0)
    path = tmp_path / "ckpt" / "tiny.safetensors"
    save_checkpoint(path, build_model(SPEC), SPEC, extra={"dataset": "mnist-mini", "config": {"seed": 5}})
    counts: Counter[str] = Counter()
    original = licli.runtime.sha256_file

    def counting(file, *args, **kwargs):
        counts[str(Path(file).resolve())] += 1
        return original(file, *args, **kwargs)

    for module in (licli.runtime, licli.checkpoints, licli.sources, licli.models.foreign, licli.data.cifar10):
        monkeypatch.setattr(module, "sha256_file", counting)
    result = runner.invoke(app, ["evaluate", "accuracy", "-c", str(path), "--out", str(tmp_path / "out"),
                                 "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    (folder,) = (tmp_path / "out" / "evaluate-accuracy").iterdir()
    inputs = json.loads((folder / "manifest.json").read_text())["inputs"]
    assert set(inputs) == {"tiny:weights", "tiny:metadata", "data:mnist-mini"}
    for entry in inputs.values():
        assert entry["sha256"] == digest(entry["path"])
    assert counts, "nothing was hashed through sha256_file"
    assert max(counts.values()) == 1, counts
    assert str(path.with_suffix(".json").resolve()) not in counts  # its hash comes from the bytes read once
    summary = pd.read_csv(folder / "accuracy.csv")
    assert list(summary["model"]) == ["tiny"]


def test_a_failed_write_leaves_the_previous_file_and_no_temp_file(tmp_path, monkeypatch):
    run = Run(tmp_path / "r", "cmd")
    run.write_csv("table.csv", pd.DataFrame({"a": [1]}))
    before = (run.path / "table.csv").read_bytes()

    def full_disk(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(LicliError, match="cannot write .*table.csv.*No space left"):
        run.write_csv("table.csv", pd.DataFrame({"a": [1, 2, 3]}))
    assert (run.path / "table.csv").read_bytes() == before
    assert [p.name for p in run.path.iterdir()] == ["table.csv"]
    assert manifest_files_rows(run) == 1  # the manifest still describes the file on disk


def manifest_files_rows(run: Run) -> int:
    return run.manifest["files"]["table.csv"]["rows"]


def test_bad_input_removes_the_folder_and_the_parents_it_created(tmp_path):
    run = Run(tmp_path / "out" / "cmd" / "r", "cmd")
    with pytest.raises(LicliError, match="bad"):
        with run.ended():
            run.write_csv("a.csv", pd.DataFrame({"a": [1]}))
            raise LicliError("bad", "fix")
    assert not (tmp_path / "out").exists()


def test_an_internal_error_is_recorded_as_failed_with_exit_3(tmp_path):
    run = Run(tmp_path / "r", "cmd")
    with pytest.raises(RuntimeError, match="boom"):
        with run.ended():
            run.write_csv("a.csv", pd.DataFrame({"a": [1]}))
            raise RuntimeError("boom")
    written = manifest(run)
    assert (written["status"], written["exit_code"], written["error"]) == ("failed", 3, "RuntimeError: boom")


def test_an_interrupt_keeps_partial_results_and_names_the_resume_command(tmp_path):
    run = Run(tmp_path / "r", "train")
    with pytest.raises(Interrupted, match=r"resume with `licli train --resume .*r`") as stop:
        with run.ended("licli train --resume {path}"):
            run.write_csv("metrics.csv", pd.DataFrame({"a": [1]}))
            raise KeyboardInterrupt
    assert stop.value.exit_code == 130
    assert (manifest(run)["status"], manifest(run)["exit_code"]) == ("interrupted", 130)


def test_an_interrupt_before_any_result_leaves_nothing(tmp_path):
    run = Run(tmp_path / "out" / "r", "cmd")
    with pytest.raises(Interrupted, match="nothing was written"):
        with run.ended():
            raise KeyboardInterrupt
    empty = Run(tmp_path / "out" / "r2", "cmd")
    with pytest.raises(Interrupted, match="nothing was kept"):
        with empty.ended():
            empty.folder()
            raise KeyboardInterrupt
    assert not (tmp_path / "out").exists()
