"""scripts/gpu_smoke.py at toy sizes on the CPU, so the GPU smoke script cannot rot between GPU sessions.

The whole toy run is marked slow (``-m slow``); the default suite runs the script's step machinery
(a probe and a failing step) on every change."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gpu_smoke.py"


def smoke(out: Path, *extra: str) -> tuple[int, dict]:
    # generous time boxes: a shared CI machine may be slow; the GPU run keeps the real ones
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--toy", "--timeout-scale", "20",
                           "--out", str(out), *extra], cwd=ROOT, capture_output=True, text=True, timeout=3600)
    return done.returncode, json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> tuple[int, dict, Path]:
    out = tmp_path_factory.mktemp("smoke")
    code, results = smoke(out)
    return code, results, out


@pytest.mark.slow  # ~17 subprocesses (a few minutes on an idle 2-core machine)
def test_every_step_passes_at_toy_sizes(results):
    code, found, out = results
    failed = {s["step"]: (s["status"], s["last_line"]) for s in found["steps"] if s["status"] != "ok"}
    assert code == 0 and not failed, failed
    names = [s["step"] for s in found["steps"]]
    assert names[:7] == ["device", "train", "attack", "fisher-rao", "gsnr", "hessian-trace", "prune"]
    assert {f"mechanism-{m}" for m in ("local-inhibition", "normout", "dropout", "gradient-mask")} <= set(names)
    assert (out / "results.md").exists() and (out / "train.log").exists()


@pytest.mark.slow
def test_probes_measure_what_they_claim(results):
    _, found, _ = results
    measured = {s["step"]: s["measured"] for s in found["steps"]}
    assert measured["device"]["resolved"] == "cpu"
    assert measured["syncs"]["training_step_syncs"] and not any(measured["syncs"]["training_step_syncs"])
    assert measured["syncs"]["native_pgd_syncs_per_step"] == {}
    assert measured["resume"]["weights_equal"] and measured["resume"]["history_equal"]
    assert measured["parity"]["logits_max_abs_diff"] == 0.0  # cpu against cpu: the same kernels
    assert all(ratio > 0 for ratio in measured["throughput"]["ratio_licli_over_bare"].values())


def test_a_failing_step_is_recorded_and_the_script_goes_on(tmp_path):
    code, found = smoke(tmp_path, "--only", "attack", "device")  # no train step: attack has no checkpoint
    statuses = {s["step"]: s["status"] for s in found["steps"]}
    assert code == 1 and statuses["attack"].startswith("failed") and statuses["device"] == "ok"
