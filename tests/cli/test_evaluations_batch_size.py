"""``--batch-size auto`` for the second-order evaluations (Fisher-Rao, GSNR, Hessian trace): out-of-memory is
simulated on the CPU by batches that raise torch.OutOfMemoryError above a size; the result equals the run
asked for the size auto settled on, and an explicit size that does not fit is one line naming --batch-size."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

import licli.cli.per_model as per_model
import licli.data as data_package
from licli.cli import app
from licli.evaluations import fisher_rao, gsnr, hessian

LARGEST_FITTING = 12
N = 40
COMMANDS = [
    (fisher_rao, ["fisher-rao", "--fisher", "model"], "fisher_rao.csv"),
    (gsnr, ["gsnr"], "gsnr.csv"),
    (hessian, ["hessian-trace", "--samples", "2", "--power-iterations", "2"], "hessian_trace.csv"),
]


@pytest.fixture
def out_of_memory_above(monkeypatch):
    """Batches above LARGEST_FITTING images fail as a full GPU would; auto starts from all --n images."""
    def batches(split, batch_size, *args, **kwargs):
        if batch_size > LARGEST_FITTING:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return data_package.batches(split, batch_size, *args, **kwargs)

    for module, _, _ in COMMANDS:
        monkeypatch.setattr(module, "batches", batches)
    monkeypatch.setattr(per_model, "first_batch_size", lambda device, items, cpu_default: items)


def _run(runner, out, checkpoint, args, batch_size):
    return runner.invoke(app, ["evaluate", *args, "-c", str(checkpoint), "--n", str(N), "--batch-size", batch_size,
                               "--device", "cpu", "--out", str(out)])


@pytest.mark.parametrize("module, args, csv", COMMANDS, ids=[c[1][0] for c in COMMANDS])
def test_auto_halves_until_it_fits_and_equals_that_fixed_size(runner, tmp_path, checkpoint,
                                                               out_of_memory_above, module, args, csv):
    folders = {}
    for batch_size in ("auto", "10"):
        result = _run(runner, tmp_path / batch_size, checkpoint, args, batch_size)
        assert result.exit_code == 0, result.output
        (folders[batch_size],) = (tmp_path / batch_size / f"evaluate-{args[0]}").iterdir()
    manifest = json.loads((folders["auto"] / "manifest.json").read_text())
    assert manifest["batch_size"] == {"tiny": 10}  # 40 → 20 → 10 (≤ 12)
    assert manifest["config"]["batch_size_auto"] is True
    pd.testing.assert_frame_equal(pd.read_csv(folders["auto"] / csv), pd.read_csv(folders["10"] / csv))


@pytest.mark.parametrize("module, args, csv", COMMANDS[:1], ids=["fisher-rao"])
def test_an_explicit_batch_size_that_does_not_fit_is_one_line_naming_it(runner, tmp_path, checkpoint,
                                                                        out_of_memory_above, module, args, csv):
    result = _run(runner, tmp_path, checkpoint, args, "20")
    assert result.exit_code == 2
    assert "out of device memory" in result.stderr and "--batch-size" in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1
    result = _run(runner, tmp_path, checkpoint, args, "many")
    assert result.exit_code == 2 and "--batch-size 'many' is neither a number nor auto" in result.stderr
