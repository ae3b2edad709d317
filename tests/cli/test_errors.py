"""Every bad input ends in one stderr line, exit code 2, no traceback and no run folder."""

import json

import pytest

from licli.cli import app

BAD = [
    (["train", "--epochs", "-1"], "--epochs must be a positive integer"),
    (["train", "--lr", "0"], "--lr must be > 0"),
    (["train", "--model", "nope"], "'nope' is not one of 'mlp', 'small-cnn'"),  # typed choices: typer lists them
    (["train", "--dataset", "nope"], "'nope' is not one of 'mnist', 'mnist-mini'"),
    (["train", "--device", "cuda:7"], "cuda"),
    (["train", "--device", "tpu"], "device"),
    (["train", "--bogus"], "No such option"),
    (["evaluate", "accuracy", "--checkpoint", "missing.safetensors"], "checkpoint weights not found"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line(runner, tmp_path, argv, message):
    result = runner.invoke(app, [*argv, "--out", str(tmp_path / "reports")] if argv[-1] != "--bogus" else argv)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("licli: error:") and message in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "reports").exists()


def assert_one_line_failure(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("licli: error:"), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def checkpoint(tmp_path):
    """A small mlp checkpoint on mnist-mini (weights + metadata)."""
    from licli.checkpoints import save_checkpoint
    from licli.models import ModelSpec, build_model

    spec = ModelSpec("mlp", num_classes=10, in_channels=1, image_size=(28, 28), options={"hidden": 16})
    return save_checkpoint(tmp_path / "ckpt" / "m.safetensors", build_model(spec), spec,
                           extra={"dataset": "mnist-mini"})


def test_unwritable_out(runner, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = runner.invoke(app, ["train", "--model", "mlp", "--out", str(blocker / "reports")])
    assert_one_line_failure(result, "cannot write to output folder", "--out")
    assert blocker.read_text() == ""


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_checkpoint(runner, tmp_path, checkpoint, damage):
    blob = checkpoint.weights.read_bytes()
    checkpoint.weights.write_bytes(blob[: len(blob) // 2] if damage == "truncate" else b"\0" * len(blob))
    result = runner.invoke(app, ["evaluate", "accuracy", "-c", str(checkpoint.weights), "--out", str(tmp_path / "r")])
    assert_one_line_failure(result, "corrupt, truncated or replaced")
    assert not (tmp_path / "r").exists()


def test_checkpoint_of_another_architecture_names_the_tensor(runner, tmp_path, checkpoint):
    from licli.checkpoints import save_checkpoint
    from licli.models import ModelSpec, build_model
    from licli.runtime import sha256_file

    other = ModelSpec("small-cnn", num_classes=10, in_channels=1, image_size=(28, 28))
    foreign = save_checkpoint(tmp_path / "other", build_model(other), other)
    checkpoint.weights.write_bytes(foreign.weights.read_bytes())
    meta = json.loads(checkpoint.metadata.read_text())
    meta["weights_sha256"] = sha256_file(checkpoint.weights)  # a consistent pair: only the shapes are wrong
    checkpoint.metadata.write_text(json.dumps(meta))
    result = runner.invoke(app, ["evaluate", "accuracy", "-c", str(checkpoint.weights), "--out", str(tmp_path / "r")])
    assert_one_line_failure(result, "do not fit the model", "missing (2): 2.{weight,bias}", "unexpected (2): 1.",
                            "5.weight (728, 21632) vs model (16, 16)")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("command", [["train", "--model", "mlp"], ["evaluate", "accuracy", "-c", "CKPT"]])
def test_missing_mnist_names_the_expected_files(runner, tmp_path, checkpoint, command):
    argv = [str(checkpoint.weights) if a == "CKPT" else a for a in command]
    bogus = tmp_path / "no-data-here"
    result = runner.invoke(app, [*argv, "--dataset", "mnist", "--data-dir", str(bogus), "--out", str(tmp_path / "r")])
    assert_one_line_failure(result, "train-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                            str(bogus / "MNIST" / "raw"), "--data-dir")
    assert not (tmp_path / "r").exists() and not bogus.exists()
