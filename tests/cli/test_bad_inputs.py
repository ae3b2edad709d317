"""The bad-input corpus (issue 19): what a hostile or careless user can pass, and what licli must answer.

Every case asserts exit code 2, exactly one stderr line naming the problem, no traceback, no file left
behind anywhere under the test's folder (so nothing inside or outside --out), and no marker file from a
malicious payload. Add a case whenever a command or an option is added.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from licli.checkpoints import save_checkpoint
from licli.cli import app
from licli.models import ModelSpec, build_model
from licli.runtime import sha256_file

ROOT = Path(__file__).resolve().parents[2]
MARKER = "PWNED"
EVIL = f"from pathlib import Path\nPath(__file__).resolve().parent.parent.joinpath({MARKER!r}).write_text('x')\n"
BENIGN = ("import torch\n\nclass Net(torch.nn.Module):\n    def __init__(self):\n        super().__init__()\n"
          "        self.fc = torch.nn.Linear(784, 10)\n\n    def forward(self, x):\n"
          "        return self.fc(x.flatten(1))\n")


def mlp_checkpoint(path: Path, classes: int = 10, **meta_changes) -> Path:
    """An (untrained) mlp checkpoint for mnist-mini at ``path``; ``meta_changes`` edit its model entry."""
    spec = ModelSpec("mlp", num_classes=classes, in_channels=1, image_size=(28, 28), options={"hidden": 16})
    checkpoint = save_checkpoint(path, build_model(spec), spec, extra={"dataset": "mnist-mini"})
    if meta_changes:
        meta = json.loads(checkpoint.metadata.read_text())
        meta["model"].update(meta_changes)
        checkpoint.metadata.write_text(json.dumps(meta))
    return checkpoint.weights


def nan_checkpoint(path: Path) -> Path:
    spec = ModelSpec("mlp", num_classes=10, in_channels=1, image_size=(28, 28), options={"hidden": 16})
    model = build_model(spec)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.fill_(float("nan"))
    return save_checkpoint(path, model, spec, extra={"dataset": "mnist-mini"}).weights


def imported_checkpoint(inputs: Path, name: str, **model_changes) -> Path:
    """A checkpoint as `licli import` writes it (definition copied beside it), then tampered with."""
    from licli.models.foreign import ForeignSpec
    from licli.sources import ModelSource, import_model

    definition = inputs / f"{name}-src.py"
    definition.write_text(BENIGN)
    spec = ForeignSpec(kind="definition", target=f"{definition}:Net", input_shape=(1, 28, 28))
    checkpoint, _ = import_model(ModelSource(foreign=spec), inputs / f"{name}.safetensors", dataset="mnist-mini")
    meta = json.loads(checkpoint.metadata.read_text())
    meta["model"].update({key: value.format(inputs=inputs) if isinstance(value, str) else value
                          for key, value in model_changes.items()})
    checkpoint.metadata.write_text(json.dumps(meta))
    return checkpoint.weights


class CodeRunningPickle:
    """Unpickling this runs ``os.system`` (a classic malicious checkpoint)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """Every bad input file the corpus refers to as ``{inputs}/NAME`` (shared by the module's tests: a payload
    that ran would leave ``MARKER`` beside this folder)."""
    folder = tmp_path_factory.mktemp("corpus") / "inputs"
    folder.mkdir()
    for name, text in {"lr-string": 'lr = "0.05"\n', "mechanisms-int": "mechanisms = 3\n",
                       "options-string": 'model_options = "x"\n', "epochs-bool": "epochs = true\n",
                       "broken": "lr = \n", "unknown": "learning_rate = 0.1\n"}.items():
        (folder / f"{name}.toml").write_text(text)
    mlp_checkpoint(folder / "mlp.safetensors")
    mlp_checkpoint(folder / "three.safetensors", classes=3)
    mlp_checkpoint(folder / "negative.safetensors", num_classes=-3)
    mlp_checkpoint(folder / "flat.safetensors", image_size=[0, 28])
    nan_checkpoint(folder / "nan.safetensors")
    weights = mlp_checkpoint(folder / "zero.safetensors")
    weights.write_bytes(b"")
    weights = mlp_checkpoint(folder / "random.safetensors")
    weights.write_bytes(os.urandom(4096))
    mlp_checkpoint(folder / "badjson.safetensors").with_suffix(".json").write_text("{not json")
    torch.save(build_model(ModelSpec("mlp", 10, 1, (28, 28))).state_dict(), folder / "pickled.pt")
    (folder / "evil.pt").write_bytes(pickle.dumps(CodeRunningPickle(folder.parent / MARKER)))
    (folder / "evil.py").write_text(EVIL + BENIGN)
    (folder / "net.py").write_text(BENIGN)
    (folder / "exits.py").write_text("import sys\nsys.exit(3)\n")
    imported_checkpoint(folder, "untrusted")
    imported_checkpoint(folder, "unpinned", definition_sha256=None)
    imported_checkpoint(folder, "abspath", target="{inputs}/evil.py:Net")
    imported_checkpoint(folder, "escape", target="../evil.py:Net")
    swapped = imported_checkpoint(folder, "swapped")
    swapped.with_name("swapped.def.py").write_text(EVIL + BENIGN)
    (folder / "blocker").write_text("")
    return folder


def _mlp_train(*extra: str) -> list[str]:
    return ["train", "--model", "mlp", "--model-options", '{"hidden": 8}', "--epochs", "1", *extra]


CORPUS = [
    # unknown names
    (["train", "--model", "nope"], "Invalid value for '--model': Value error, 'nope' is not one of"),
    (["train", "--dataset", "nope"], "Invalid value for '--dataset'"),
    (["train", "--optimizer", "nope"], "Invalid value for '--optimizer'"),
    (["train", "--mechanism", "hidden=nope"], "unknown mechanism 'nope'"),
    (["attack", "-c", "{mlp}", "--attacks", "nope"], "nope"),
    # nonsense numbers
    (["train", "--seed", str(2**70)], "--seed must be an integer in [0, 4294967295]"),
    (["train", "--seed", "-1"], "--seed must be an integer"),
    (["train", "--lr", "inf"], "--lr must be > 0 and finite (got inf)"),
    (["train", "--lr", "nan"], "--lr must be > 0 and finite (got nan)"),
    (["train", "--weight-decay", "nan"], "--weight-decay must be a finite number ≥ 0 (got nan)"),
    (["train", "--batch-size", "0"], "--batch-size must be a positive integer"),
    (_mlp_train("--model-options", '{"hidden": -3}'), "bad options for model 'mlp'"),
    (["train", "--model-options", "[1]"], "--model-options must be a JSON object"),
    (["evaluate", "oracle", "--pool", "0"], "--pool must be ≥ 1 (got 0)"),
    (["evaluate", "oracle", "--li-calibration", "nope"], "Invalid value for '--li-calibration'"),
    (["evaluate", "oracle", "--seeds", f"0,{2**40}"], "--seeds must be an integer in [0, 4294967295]"),
    (["attack", "-c", "{mlp}", "--seed", str(2**70)], "--seed must be an integer"),
    # config files
    (["train", "--config", "{inputs}/lr-string.toml"], "lr in the config file must be a number (got str '0.05')"),
    (["train", "--config", "{inputs}/mechanisms-int.toml"], "mechanisms in the config file must be a table"),
    (["train", "--config", "{inputs}/options-string.toml"], "model_options in the config file must be a table"),
    (["train", "--config", "{inputs}/epochs-bool.toml"], "epochs in the config file must be an integer (got bool"),
    (["train", "--config", "{inputs}/broken.toml"], "is not valid TOML"),
    (["train", "--config", "{inputs}/unknown.toml"], "unknown key 'learning_rate' in config file"),
    (["train", "--config", "{inputs}"], "cannot read config file"),
    (["train", "--config", "{inputs}/missing.toml"], "not found"),
    # run names and output places
    (["train", "--name", "x/../../../escaped"], "is not a plain name"),
    (["train", "--name", ".."], "is not a plain name"),
    (["train", "--name", ""], "is not a plain name"),
    (["evaluate", "accuracy", "-c", "{mlp}", "--name", "/etc"], "is not a plain name"),
    (["train", "--out", "{inputs}/blocker/reports"], "cannot write to output folder"),
    # damaged checkpoints
    (["evaluate", "accuracy", "-c", "{inputs}/zero.safetensors"], "corrupt, truncated or replaced"),
    (["evaluate", "accuracy", "-c", "{inputs}/random.safetensors"], "corrupt, truncated or replaced"),
    (["evaluate", "accuracy", "-c", "{inputs}/badjson.safetensors"], "is not valid JSON"),
    (["evaluate", "accuracy", "-c", "{inputs}/pickled.pt"], "checkpoint weights not found"),
    (["evaluate", "accuracy", "-c", "{inputs}/negative.safetensors"], "impossible sizes (num_classes=-3)"),
    (["evaluate", "accuracy", "-c", "{inputs}/flat.safetensors"], "impossible sizes (image_size[0]=0)"),
    (["evaluate", "accuracy", "-c", "{inputs}/nan.safetensors"], "hold NaN or infinite values in 6 of 6 tensors"),
    # a checkpoint on data it cannot take
    (["evaluate", "accuracy", "-c", "{mlp}", "--dataset", "mnist-loc"],
     "model mlp cannot take mnist-loc's 1×64×64 images (it was trained on mnist-mini)"),
    (["attack", "-c", "{mlp}", "--dataset", "mnist-loc", "--attacks", "fgsm", "--n", "4"],
     "cannot take mnist-loc's 1×64×64 images"),
    (["evaluate", "saliency", "-c", "{mlp}", "--dataset", "mnist-loc", "--n", "2"],
     "cannot take mnist-loc's 1×64×64 images"),
    (["evaluate", "accuracy", "-c", "{inputs}/three.safetensors"], "scores 3 classes but mnist-mini's labels go up to 9"),
    # code from data: never run without the user's word
    (["evaluate", "accuracy", "-c", "{inputs}/untrusted.safetensors"], "if you trust that file, pass --trust-definition"),
    (["evaluate", "accuracy", "-c", "{inputs}/unpinned.safetensors", "--trust-definition"],
     "does not pin its model definition unpinned.def.py by sha256"),
    (["evaluate", "accuracy", "-c", "{inputs}/abspath.safetensors", "--trust-definition"],
     "names its model definition by a path"),
    (["evaluate", "accuracy", "-c", "{inputs}/escape.safetensors", "--trust-definition"],
     "names its model definition by a path ('../evil.py')"),
    (["evaluate", "accuracy", "-c", "{inputs}/swapped.safetensors", "--trust-definition"],
     "changed since the checkpoint was imported"),
    (["evaluate", "accuracy", "--model-def", "{inputs}/net.py:Net", "--input-size", "1x28x28",
      "--weights", "{inputs}/evil.pt"], "needs unpickling arbitrary Python objects"),
    (["import", "--model-def", "{inputs}/exits.py:Net", "--input-size", "1x28x28", "--out", "{out}/m.safetensors"],
     "exits.py called sys.exit(3) while licli loaded it"),
]


def fill(argv: list[str], **values: Path) -> list[str]:
    """Replace the ``{name}`` placeholders of ``argv`` (JSON braces stay as they are)."""
    for name, value in values.items():
        argv = [part.replace(f"{{{name}}}", str(value)) for part in argv]
    return argv


def _ids(case) -> str:
    return " ".join(case[0])[:70]


def _files(root: Path) -> set[Path]:
    return {path for path in root.rglob("*")}


def assert_one_line(result, fragment: str) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert len(lines) == 1 and lines[0].startswith("licli: error:"), lines
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("argv,fragment", CORPUS, ids=[_ids(case) for case in CORPUS])
def test_bad_input(runner, tmp_path, inputs, monkeypatch, argv, fragment):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    out = tmp_path / "reports"
    argv = fill(argv, inputs=inputs, out=out, mlp=inputs / "mlp.safetensors")
    if "--out" not in argv:
        argv += ["--out", str(out)]
    before = _files(tmp_path) | _files(inputs.parent)
    assert_one_line(runner.invoke(app, argv), fragment)
    assert _files(tmp_path) | _files(inputs.parent) == before, "a bad input left files behind"
    assert not (inputs.parent / MARKER).exists(), "a payload ran"


@pytest.mark.parametrize("argv", [
    _mlp_train("--name", "same"),
    ["evaluate", "accuracy", "-c", "{mlp}"],
    ["import", "--model-def", "{inputs}/net.py:Net", "--input-size", "1x28x28", "--out", "{out}/net.safetensors"],
], ids=["train", "evaluate accuracy", "import"])
def test_full_disk_is_one_line_and_leaves_nothing(runner, tmp_path, inputs, monkeypatch, argv):
    out = tmp_path / "reports"
    argv = fill(argv, inputs=inputs, out=out, mlp=inputs / "mlp.safetensors")
    argv += [] if "--out" in argv else ["--out", str(out)]

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    assert_one_line(runner.invoke(app, argv), "(No space left on device); free some space there or pass another --out")
    assert not out.exists()


def test_report_and_check_skip_garbage_with_one_notice_each(runner, tmp_path, inputs):
    out = tmp_path / "reports"
    result = runner.invoke(app, ["evaluate", "accuracy", "-c", str(inputs / "mlp.safetensors"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    valid, = (out / "evaluate-accuracy").iterdir()
    garbage = out / "evaluate-accuracy" / "garbage"
    garbage.mkdir()
    (garbage / "manifest.json").write_text((valid / "manifest.json").read_text())
    (garbage / "summary.csv").write_bytes(os.urandom(300))
    (out / "stray").mkdir()
    (out / "stray" / "accuracy.csv").write_text("\0\0garbage")
    baseline = tmp_path / "baseline.json"
    result = runner.invoke(app, ["report", str(out), "--write-baseline", str(baseline)])
    assert result.exit_code == 0, result.output
    notices = [line for line in result.stderr.splitlines() if line.startswith("skipped")]
    assert sorted(line.split(":")[0] for line in notices) == [f"skipped {garbage}", f"skipped {out / 'stray'}"]
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["check", str(baseline), str(out)])
    assert result.exit_code == 0, result.output
    assert len([line for line in result.stderr.splitlines() if line.startswith("skipped")]) == 2


def test_a_definition_parsing_argv_imports_silently(runner, tmp_path):
    """argparse at import time sees only the file's own name, not licli's flags: no noise, exit 0."""
    definition = tmp_path / "cli_net.py"
    definition.write_text("import argparse\nARGS = argparse.ArgumentParser().parse_args()\n" + BENIGN)
    result = runner.invoke(app, ["import", "--model-def", f"{definition}:Net", "--input-size", "1x28x28",
                                 "--out", str(tmp_path / "m.safetensors")])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert sys.argv[0] != str(definition)


def test_an_imported_checkpoint_moves_with_its_definition(runner, tmp_path):
    """issue 16: the checkpoint keeps its definition beside it, so the folder can be moved and the original deleted."""
    source = tmp_path / "src" / "net.py"
    source.parent.mkdir()
    source.write_text(BENIGN)
    first = tmp_path / "a" / "net.safetensors"
    result = runner.invoke(app, ["import", "--model-def", f"{source}:Net", "--input-size", "1x28x28",
                                 "--dataset", "mnist-mini", "--out", str(first)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in first.parent.iterdir()) == ["net.def.py", "net.json", "net.safetensors"]
    meta = json.loads(first.with_suffix(".json").read_text())
    assert meta["model"]["target"] == "net.def.py:Net"
    assert meta["model"]["definition_sha256"] == sha256_file(source) == sha256_file(first.with_name("net.def.py"))
    moved = tmp_path / "b"
    first.parent.rename(moved)
    source.unlink()
    argv = ["evaluate", "accuracy", "-c", str(moved / "net.safetensors"), "--trust-definition", "--json",
            "--out", str(tmp_path / "r")]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output


def test_files_respect_the_umask(tmp_path):
    """Reference: the mode ``open()`` gives a new file under the same umask."""
    from licli.io import atomic_write_text

    for umask in (0o022, 0o077, 0o002):
        previous = os.umask(umask)
        try:
            atomic_write_text(tmp_path / f"licli-{umask:o}.txt", "x")
            (tmp_path / f"open-{umask:o}.txt").write_text("x")
        finally:
            os.umask(previous)
        assert (tmp_path / f"licli-{umask:o}.txt").stat().st_mode == (tmp_path / f"open-{umask:o}.txt").stat().st_mode
    assert not list(tmp_path.glob(".*.tmp"))


def test_run_folders_are_exclusive_across_threads(tmp_path, monkeypatch):
    """Sixteen runs with the same name in the same second (time frozen) get sixteen folders."""
    from licli.reporting.files import new_run_path
    from licli.runs import Run

    monkeypatch.setattr(time, "strftime", lambda fmt, *args: "20260101-000000")
    barrier = threading.Barrier(16)
    folders: list[Path] = []

    def run(index: int) -> None:
        folder = Run(new_run_path(tmp_path / "out", "train", "same"), "train")
        barrier.wait()
        folder.write_json("who.json", {"index": index})
        folders.append(folder.path)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    names = sorted(path.name for path in folders)
    assert names == sorted(["20260101-000000-same", *[f"20260101-000000-same-{i}" for i in range(2, 17)]])
    assert sorted(json.loads((p / "who.json").read_text())["index"] for p in folders) == list(range(16))


def test_run_folders_are_exclusive_across_processes(tmp_path):
    """Four processes released at the same instant, each naming the same folder, each get their own."""
    script = ("import os, sys, time\nfrom licli.runs import Run\n"
              "start = float(sys.argv[2])\nfolder = Run(sys.argv[1], 'train')\n"
              "time.sleep(max(0.0, start - time.time()))\nfolder.write_json('who.json', {'pid': os.getpid()})\n"
              "print(folder.path)\n")
    start = time.time() + 8
    target = tmp_path / "out" / "train" / "20260101-000000-same"
    processes = [subprocess.Popen([sys.executable, "-c", script, str(target), str(start)], cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True) for _ in range(4)]
    paths = [process.communicate(timeout=120)[0].strip() for process in processes]
    assert all(process.returncode == 0 for process in processes)
    assert len(set(paths)) == 4
    pids = {json.loads((Path(path) / "who.json").read_text())["pid"] for path in paths}
    assert pids == {process.pid for process in processes}


def test_batch_norm_refuses_a_batch_of_one_and_mlp_trains_on_it():
    from licli.training.config import TrainConfig
    from licli.data import load_dataset
    from licli.data.core import Split
    from licli.errors import LicliError
    from licli.training.loop import check_batch_size, fit

    with pytest.raises(LicliError, match="batch of one image, which this model's batch normalisation cannot"):
        check_batch_size(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2)), 1, 100)
    with pytest.raises(LicliError, match="batch_size 10 gives a batch of one"):
        check_batch_size(torch.nn.BatchNorm1d(2), 10, 101)
    check_batch_size(torch.nn.Linear(2, 2), 1, 101)
    data = load_dataset("mnist-mini")
    small = dataclasses.replace(data, train=Split(data.train.images[:100], data.train.labels[:100]),
                                test=Split(data.test.images[:100], data.test.labels[:100]))
    config = TrainConfig(model="mlp", model_options={"hidden": 16}, batch_size=1, lr=0.01, momentum=0.0, epochs=2)
    _, _, history = fit(config, small, device=torch.device("cpu"))
    assert history["train_loss"].iloc[1] < history["train_loss"].iloc[0]  # it learns, one image per step
    with pytest.raises(LicliError, match=r"loss is nan at lr=1e\+30, batch size 1\); pass a lower lr=… \(small batches"):
        fit(dataclasses.replace(config, lr=1e30, epochs=1), small, device=torch.device("cpu"))


def _licli(*argv: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "licli", *argv], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(condition, process: subprocess.Popen, timeout: float = 240) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.time() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_sigint_keeps_a_resumable_run_and_says_how_to_resume(tmp_path):
    out = tmp_path / "reports"
    process = _licli(*_mlp_train("--epochs", "200"), "--out", str(out), cwd=tmp_path)
    _wait_for(lambda: any(out.glob("train/*/training_state.json")), process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    folder, = (out / "train").iterdir()
    assert process.returncode == 130
    assert stderr.strip().splitlines() == [f"licli: interrupted: kept {folder}; resume with "
                                           f"`licli train --resume {folder}`"]
    assert json.loads((folder / "manifest.json").read_text())["status"] == "interrupted"


@pytest.mark.slow
def test_sigint_before_anything_resumable_removes_the_folder(tmp_path):
    out = tmp_path / "reports"
    process = _licli("train", "--model", "mlp", "--epochs", "1", "--batch-size", "1", "--lr", "0.001",
                     "--out", str(out), cwd=tmp_path)
    _wait_for(lambda: any(out.glob("train/*")), process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert stderr.strip().splitlines() == ["licli: interrupted: nothing was kept (the run had no results yet)"]
    assert not out.exists()


@pytest.mark.parametrize("epoch", [1, 2], ids=["in the first epoch", "in the second epoch"])
def test_ctrl_c_says_what_was_kept(runner, tmp_path, monkeypatch, epoch):
    """In process: Ctrl-C as epoch ``epoch`` starts. After a finished epoch the run is resumable and kept;
    before, the folder holds nothing worth keeping and is removed (with the --out folder it created)."""
    from tests.cli.test_train import TINY, InterruptAtEpoch

    out = tmp_path / "reports"
    monkeypatch.setattr("licli.cli.train.EpochProgress", InterruptAtEpoch(epoch))
    result = runner.invoke(app, [*TINY, "--epochs", "3", "--out", str(out)])
    assert result.exit_code == 130
    lines = result.stderr.strip().splitlines()
    if epoch == 1:
        assert lines == ["licli: interrupted: nothing was kept (the run had no results yet)"]
        assert not out.exists()
        return
    folder, = (out / "train").iterdir()
    assert lines == [f"licli: interrupted: kept {folder}; resume with `licli train --resume {folder}`"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (manifest["status"], manifest["exit_code"]) == ("interrupted", 130)
    assert (folder / "training_state.json").exists()
