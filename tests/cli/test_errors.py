"""Every bad input ends in one stderr line, exit code 2, no traceback and no run folder."""

import pytest

from licli.cli import app

BAD = [
    (["train", "--epochs", "-1"], "--epochs must be a positive integer"),
    (["train", "--lr", "0"], "--lr must be > 0"),
    (["train", "--model", "nope"], "unknown model 'nope'"),
    (["train", "--dataset", "nope"], "unknown dataset 'nope'"),
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
