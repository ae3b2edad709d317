"""Process setup recorded in manifests: the CPU allocator tuning the licli command applies."""

import platform

import pytest
import torch

from licli import runtime
from licli.runs import start_manifest


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_allocator_tuning_applies_on_glibc_and_is_recorded(monkeypatch):
    monkeypatch.setattr(runtime, "CPU_ALLOCATOR", "default")
    assert runtime.tune_cpu_allocator() is True
    manifest = start_manifest("test", {}, torch.device("cpu"), seed=0, argv=["licli"])
    assert manifest["cpu_allocator"].startswith("glibc heap only")
    big = torch.ones(64, 1024, 1024)  # 256 MiB: served from the heap now; values are unaffected
    assert float(big.sum()) == 64 * 1024 * 1024


def test_allocator_tuning_is_a_recorded_no_op_elsewhere(monkeypatch):
    monkeypatch.setattr(runtime, "CPU_ALLOCATOR", "default")
    monkeypatch.setattr(runtime.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert runtime.tune_cpu_allocator() is False
    assert start_manifest("test", {}, torch.device("cpu"), seed=0, argv=["licli"])["cpu_allocator"] == "default"
