"""The device-facing runtime: precision and determinism scopes, the manifest's numerics, the CPU
allocator switch, out-of-memory handling and --batch-size auto (CPU-testable parts of the CUDA path)."""

from __future__ import annotations

import os

import pytest
import torch

from licli import runtime
from licli.attacks.runner import AtPrecision, at_precision
from licli.errors import LicliError
from licli.runs import start_manifest

CPU = torch.device("cpu")


def test_precision_scope_sets_cuda_flags_only_on_cuda_and_restores_them():
    before = runtime.numerics()
    with runtime.precision_scope("bf16", torch.device("cuda", 0)) as flags:
        assert flags["tf32_matmul"] and flags["tf32_cudnn"] and flags["cudnn_benchmark"]
        assert flags["precision"] == "bf16" and flags["autocast"] == "bfloat16"
    assert runtime.numerics() == before
    with runtime.precision_scope("tf32", CPU) as flags:
        assert not flags["tf32_matmul"] and not flags["cudnn_benchmark"]
    with runtime.deterministic_scope(True), runtime.precision_scope("tf32", torch.device("cuda", 0)) as flags:
        assert flags["tf32_matmul"] and not flags["cudnn_benchmark"] and flags["deterministic_algorithms"]
    assert runtime.numerics() == before


def test_deterministic_scope_sets_and_restores_every_flag(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    with runtime.deterministic_scope(True):
        flags = runtime.numerics()
        assert flags["deterministic_algorithms"] and flags["cudnn_deterministic"] and not flags["cudnn_benchmark"]
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert not torch.are_deterministic_algorithms_enabled() and "CUBLAS_WORKSPACE_CONFIG" not in os.environ


def test_an_operation_without_a_deterministic_kernel_is_a_one_line_error():
    with pytest.raises(LicliError, match="deterministic: .*deterministic implementation"):
        with runtime.nondeterminism_explained():
            raise RuntimeError("adaptive_avg_pool2d_backward_cuda does not have a deterministic implementation, "
                               "but you set 'torch.use_deterministic_algorithms(True)'")


def test_manifest_records_numerics_and_cudnn():
    manifest = start_manifest("test", {}, CPU, seed=0, argv=["licli"])
    assert set(manifest["numerics"]) >= {"tf32_matmul", "cudnn_benchmark", "deterministic_algorithms",
                                         "cublas_workspace_config", "cudnn_version"}
    assert "cudnn" in manifest["device"]


@pytest.mark.parametrize("device, env, applies", [("cpu", None, True), ("cpu", "0", False), ("cuda", None, False)])
def test_cpu_allocator_is_tuned_for_cpu_runs_unless_switched_off(monkeypatch, device, env, applies):
    calls = []
    monkeypatch.setattr(runtime, "tune_cpu_allocator", lambda: calls.append(1) or True)
    if env is None:
        monkeypatch.delenv(runtime.CPU_ALLOCATOR_ENV, raising=False)
    else:
        monkeypatch.setenv(runtime.CPU_ALLOCATOR_ENV, env)
    assert runtime.tune_cpu_allocator_for(torch.device(device)) is applies
    assert len(calls) == int(applies)


def test_use_device_is_a_no_op_on_cpu_and_sets_the_current_cuda_device(monkeypatch):
    chosen = []
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    runtime.use_device(CPU)
    runtime.use_device(torch.device("cuda", 1))
    assert chosen == [torch.device("cuda", 1)]


def test_bf16_forward_gives_float32_logits_close_to_fp32():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(16, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    x = torch.rand(4, 16)
    assert at_precision(model, "fp32") is model and at_precision(model, "tf32") is model
    wrapped = at_precision(model, "bf16")
    assert isinstance(wrapped, AtPrecision)
    logits = wrapped(x)
    assert logits.dtype == torch.float32
    assert torch.allclose(logits, model(x), atol=0.05) and not torch.equal(logits, model(x))


@pytest.mark.parametrize("text, value", [("250", 250), ("auto", None), (" AUTO ", None)])
def test_batch_size_parses_numbers_and_auto(text, value):
    assert runtime.parse_batch_size(text) == value


@pytest.mark.parametrize("text", ["0", "-3", "many"])
def test_bad_batch_sizes_are_one_line_errors(text):
    with pytest.raises(LicliError, match="batch_size"):
        runtime.parse_batch_size(text)


def test_largest_batch_that_fits_halves_after_out_of_memory():
    tried = []

    def work(size):
        tried.append(size)
        if size > 300:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return size * 2

    assert runtime.largest_batch_that_fits(work, 10_000) == (2 * 156, 156)
    assert tried == [10_000, 5_000, 2_500, 1_250, 625, 312, 156]
    with pytest.raises(torch.OutOfMemoryError):
        runtime.largest_batch_that_fits(work, 1_000, back_off=False)
    assert runtime.first_batch_size(torch.device("cuda", 0), 10_000, 250) == 10_000
    assert runtime.first_batch_size(CPU, 10_000, 250) == 250
