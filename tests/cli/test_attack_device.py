"""``licli attack`` on the device path: --batch-size auto backs off on out-of-memory, an explicit batch
size that does not fit is one line naming --batch-size, --precision/--backend are recorded."""

from __future__ import annotations

import json

import pandas as pd
import torch
from torch import nn

import licli.cli.attack as attack_command
from licli.cli import app
from tests.cli.test_attack import _checkpoint, _folder, _run

LARGEST_FITTING = 6


class OutOfMemoryAbove(nn.Module):
    """A model whose forward raises torch.OutOfMemoryError for batches above LARGEST_FITTING images."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x):
        if x.shape[0] > LARGEST_FITTING:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return self.model(x)


def _patch(monkeypatch):
    real = attack_command.at_precision
    monkeypatch.setattr(attack_command, "at_precision", lambda model, precision: OutOfMemoryAbove(real(model, precision)))


def test_batch_size_auto_backs_off_until_the_batch_fits(runner, tmp_path, monkeypatch):
    _patch(monkeypatch)
    checkpoint = _checkpoint(tmp_path / "mlp.safetensors")
    result = _run(runner, tmp_path, checkpoint, "--batch-size", "auto")
    assert result.exit_code == 0, result.output
    manifest = json.loads((_folder(tmp_path) / "manifest.json").read_text())
    assert manifest["attack"]["batch_size"] == 3  # 250 → 125 → 62 → 31 → 15 → 7 → 3 (≤ 6)
    assert manifest["config"]["batch_size_auto"] is True
    # the same rows as a run asked for that batch size directly
    auto = pd.read_csv(_folder(tmp_path) / "samples.csv")
    fixed = _run(runner, tmp_path / "fixed", checkpoint, "--batch-size", "3")
    assert fixed.exit_code == 0, fixed.output
    assert auto.equals(pd.read_csv(sorted((tmp_path / "fixed" / "reports" / "attack").iterdir())[-1] / "samples.csv"))


def test_an_explicit_batch_size_that_does_not_fit_is_one_line_naming_it(runner, tmp_path, monkeypatch):
    _patch(monkeypatch)
    checkpoint = _checkpoint(tmp_path / "mlp.safetensors")
    result = _run(runner, tmp_path, checkpoint, "--batch-size", "20")
    assert result.exit_code == 2
    assert "out of device memory" in result.stderr and "--batch-size" in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1


def test_precision_and_backend_are_recorded_and_the_backends_agree(runner, tmp_path):
    """Without a random start: the native start is drawn per image (licli.attacks.keyed), cleverhans's per batch."""
    checkpoint = _checkpoint(tmp_path / "mlp.safetensors")
    rows = {}
    for backend in ("native", "cleverhans"):
        out = tmp_path / backend
        result = _run(runner, out, checkpoint, "--backend", backend, "--precision", "bf16", "--no-random-start")
        assert result.exit_code == 0, result.output
        folder = sorted((out / "reports" / "attack").iterdir())[-1]
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["numerics"]["precision"] == "bf16" and manifest["config"]["precision"] == "bf16"
        assert manifest["config"]["settings"]["backend"] == backend
        rows[backend] = pd.read_csv(folder / "samples.csv")
    assert rows["native"].equals(rows["cleverhans"])


def test_unknown_precision_and_backend_are_one_line_errors(runner, tmp_path):
    checkpoint = _checkpoint(tmp_path / "mlp.safetensors")
    for flag, value, message in (("--precision", "fp16", "Invalid value for '--precision'"),
                                 ("--backend", "art", "Invalid value for '--backend'")):
        result = runner.invoke(app, ["attack", "-c", str(checkpoint), flag, value, "--device", "cpu",
                                     "--out", str(tmp_path / "reports")])
        assert result.exit_code == 2 and message in result.stderr, result.output
