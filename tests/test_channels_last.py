"""channels_last (on by default on CUDA only) computes what the contiguous layout computes: every conv model,
with mechanisms in its slots, gives the same logits and gradients within fp32 rounding when forced on the CPU."""

from __future__ import annotations

import pytest
import torch

from licli.errors import LicliError
from licli.models import ModelSpec, build_model
from licli.models.slots import MechanismSpec
from licli.runs import start_manifest
from licli.runtime import channels_last_for, in_memory_format

CPU = torch.device("cpu")
MASK = MechanismSpec("gradient-mask", {"sigma": 2.0, "sets": 4, "quantile": 0.5})
CASES = {
    "small-cnn": (ModelSpec("small-cnn", 10, 1, (28, 28), {"filters": 4, "hidden": 16},
                            {"conv": MASK, "hidden": MechanismSpec("normout")})),
    "gap-cnn": ModelSpec("gap-cnn", 10, 3, (32, 32), {"filters": 4},
                         {"conv1": MechanismSpec("local-inhibition", {"calibration": "online"}), "conv2": MASK}),
    "resnet18": ModelSpec("resnet18", 10, 3, (32, 32), {}, {"layer1.0": MASK, "layer2.1": MASK}),
    "vgg16": ModelSpec("vgg16", 10, 3, (32, 32), {"channels": 8, "width": 32}, {"fc1": MechanismSpec("normout")}),
}


def _logits_and_gradients(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, channels_last: bool):
    x = x.clone().requires_grad_(True)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    logits = model(x)
    loss = torch.nn.functional.cross_entropy(logits, y)
    gradients = torch.autograd.grad(loss, [x, *model.parameters()])
    return [logits.detach(), *(g.contiguous() for g in gradients)]


@pytest.mark.parametrize("name", sorted(CASES))
def test_channels_last_equals_contiguous_within_fp32_rounding(name, monkeypatch):
    spec = CASES[name]
    torch.manual_seed(0)
    model = build_model(spec).eval()
    x = torch.rand(3, spec.in_channels, *spec.image_size, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 3, 7])
    expected = _logits_and_gradients(model, x, y, channels_last=False)
    monkeypatch.setenv("LICLI_CHANNELS_LAST", "1")
    in_memory_format(model, CPU)
    convolutions = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convolutions and all(w.is_contiguous(memory_format=torch.channels_last) for w in convolutions)
    found = _logits_and_gradients(model, x, y, channels_last=True)
    for got, want in zip(found, expected):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5 * float(want.abs().max()) + 1e-7)


def test_the_default_is_channels_last_on_cuda_only_and_the_manifest_says_which(monkeypatch):
    monkeypatch.delenv("LICLI_CHANNELS_LAST", raising=False)
    assert not channels_last_for(CPU) and channels_last_for(torch.device("cuda", 0))
    assert start_manifest("x", {}, CPU, 0)["memory_format"] == "contiguous"
    monkeypatch.setenv("LICLI_CHANNELS_LAST", "0")
    assert not channels_last_for(torch.device("cuda", 0))
    monkeypatch.setenv("LICLI_CHANNELS_LAST", "1")
    assert start_manifest("x", {}, CPU, 0)["memory_format"] == "channels_last"
    monkeypatch.setenv("LICLI_CHANNELS_LAST", "yes")
    with pytest.raises(LicliError, match="LICLI_CHANNELS_LAST='yes' is neither 0 nor 1"):
        channels_last_for(CPU)
