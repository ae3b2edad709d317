"""GSNR moments from hooks and closed forms equal torch.func.vmap(grad) per-sample gradients."""

import pandas as pd
import pytest
import torch
from torch import nn

from tests.conftest import tiny_dataset
from licli.errors import LicliError
from licli.evaluations import gsnr

DATA = tiny_dataset(n_train=48)


class TwoInputLinear(nn.Module):
    """A Linear applied to (B, T, in) inputs (the per-sample path of the Linear closed form)."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 5)

    def forward(self, x):
        return self.linear(x.flatten(1, 2)).flatten(1)


def models() -> dict[str, nn.Module]:
    torch.manual_seed(3)
    return {
        "linear": nn.Sequential(nn.Flatten(), nn.Linear(64, 6), nn.Tanh(), nn.Linear(6, 3)),
        "conv": nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 2, dilation=2),
                              nn.Flatten(), nn.Linear(8, 3)),
        "fallback": nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3, groups=2),
                                  nn.Flatten(), nn.Linear(64, 3)),
        "sequence": nn.Sequential(TwoInputLinear(), nn.Linear(40, 3)),
    }


@pytest.mark.parametrize("name", sorted(models()))
def test_moments_equal_vmap_reference(name):
    model = models()[name].eval()
    x, y = DATA.train.floats(), DATA.train.labels
    moments = gsnr.Moments()
    for start in (0, 20):  # two batches, accumulated
        gsnr.accumulate_moments(model, x[start:start + 20 + 8 * (start > 0)], y[start:start + 20 + 8 * (start > 0)],
                                moments, chunk=7)
    params = {k: p.detach() for k, p in model.named_parameters()}
    reference = gsnr._vmap_gradients(model, params, x, y)
    assert moments.count == 48 and set(moments.first) == set(reference)
    for key, g in reference.items():
        torch.testing.assert_close(moments.first[key].double(), g.double().sum(0), rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(moments.second[key].double(), g.double().square().sum(0), rtol=1e-5, atol=1e-9)
    if name == "fallback":
        assert moments.method["1.weight"] == "vmap" and moments.method["3.weight"] == "vmap"
        assert moments.method["0.weight"] == "closed-form conv2d"


def test_summary_matches_numpy_definition():
    model = models()["linear"].eval()
    frame = gsnr.run(model, DATA, device=torch.device("cpu"), config=gsnr.GSNRConfig(n=48, batch_size=16))
    g = gsnr._vmap_gradients(model, {k: p.detach() for k, p in model.named_parameters()},
                             DATA.train.floats(), DATA.train.labels)
    ratio = torch.cat([(t.double().mean(0).square() / t.double().var(0)).flatten() for k, t in g.items()
                       if k.startswith("1.")])
    row = frame.set_index("layer").loc["1"]
    assert row["parameters"] == 64 * 6 + 6
    assert row["gsnr_mean"] == pytest.approx(ratio.mean().item(), rel=1e-4)
    assert row["gsnr_median"] == pytest.approx(ratio.median().item(), rel=1e-4)


def test_parameter_gradients_are_untouched():
    model = models()["conv"]
    gsnr.run(model, DATA, device=torch.device("cpu"), config=gsnr.GSNRConfig(n=16))
    assert all(p.grad is None for p in model.parameters()) and model.training


def test_bad_config():
    with pytest.raises(LicliError, match="n must be ≥ 2"):
        gsnr.GSNRConfig(n=1)


def test_tracking_does_not_change_training():
    from licli.training.config import TrainConfig
    from licli.training.loop import fit

    config = TrainConfig(model="mlp", dataset="mnist-mini", epochs=2, batch_size=16,
                         model_options={"hidden": 8})
    plain = fit(config, DATA, device=torch.device("cpu"))
    tracker = gsnr.GSNRTracker(DATA, every=2, n=16, device=torch.device("cpu"))
    tracked = fit(config, DATA, device=torch.device("cpu"), observers=[tracker])
    pd.testing.assert_frame_equal(plain[2].drop(columns=["seconds", "images_per_second"]),
                                  tracked[2].drop(columns=["seconds", "images_per_second"]))
    for a, b in zip(plain[0].parameters(), tracked[0].parameters()):
        assert torch.equal(a, b)
    frame = tracker.frame()
    assert sorted(set(frame["step"])) == [0, 2, 4]  # 48 images, 3 steps per epoch and set(frame["epoch"]) == {1, 2}


def _brute_force_moments(model, x, y):
    """Σᵢ gᵢ and Σᵢ gᵢ² by one backward pass per sample (no hooks, no torch.func): the reference."""
    first, second = {}, {}
    params = {k: p for k, p in model.named_parameters() if p.requires_grad}
    for xi, yi in zip(x, y):
        loss = torch.nn.functional.cross_entropy(model(xi.unsqueeze(0)), yi.unsqueeze(0))
        for (name, _), g in zip(params.items(), torch.autograd.grad(loss, list(params.values()))):
            g = g.double()
            first[name] = first.get(name, 0) + g
            second[name] = second.get(name, 0) + g.square()
    return first, second


def _inplace_models():
    torch.manual_seed(5)
    return {
        "linear-relu-inplace": nn.Sequential(nn.Flatten(), nn.Linear(64, 12), nn.ReLU(inplace=True),
                                             nn.Linear(12, 3)),
        "conv-relu-inplace": nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(inplace=True),
                                           nn.Conv2d(4, 3, 3, stride=2), nn.ReLU(inplace=True), nn.Flatten(),
                                           nn.Linear(27, 3)),
        "residual-add-inplace": _ResidualInplace(),
    }


class _ResidualInplace(nn.Module):
    """``out += identity`` after a convolution (torchvision's ResNet block pattern)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1)
        self.head = nn.Linear(64, 3)

    def forward(self, x):
        out = self.conv(x)
        out += x
        return self.head(torch.relu_(out).flatten(1))


@pytest.mark.parametrize("name", sorted(_inplace_models()))
def test_moments_after_inplace_operations_equal_brute_force(name):
    """Issue 14: with nn.ReLU(inplace=True) after a layer, the hooked output held the post-ReLU value."""
    model = _inplace_models()[name].eval()
    x, y = DATA.train.floats()[:24], DATA.train.labels[:24]
    moments = gsnr.Moments()
    gsnr.accumulate_moments(model, x, y, moments, chunk=5)
    first, second = _brute_force_moments(model, x, y)
    for key in first:
        torch.testing.assert_close(moments.first[key].double(), first[key], rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(moments.second[key].double(), second[key], rtol=1e-5, atol=1e-9)


def test_vgg16_classifier_head_equals_brute_force():
    """licli's vgg16 (Linear → ReLU(inplace=True) in the classifier), small width and input."""
    from licli.models import ModelSpec, build_model

    torch.manual_seed(0)
    model = build_model(ModelSpec("vgg16", 3, 1, (32, 32), {"width": 16})).eval()
    for parameter in model[1].features.parameters():  # the head only: keeps the test fast
        parameter.requires_grad_(False)
    x, y = torch.rand(4, 1, 32, 32), torch.tensor([0, 1, 2, 1])
    moments = gsnr.Moments()
    gsnr.accumulate_moments(model, x, y, moments, chunk=4)
    first, second = _brute_force_moments(model, x, y)
    linear = [key for key in first if key in moments.method and moments.method[key] == "closed-form linear"]
    assert len(linear) == 6 == len(first) == len(moments.first)
    for key in first:
        torch.testing.assert_close(moments.first[key].double(), first[key], rtol=1e-4, atol=1e-7)
        torch.testing.assert_close(moments.second[key].double(), second[key], rtol=1e-4, atol=1e-9)
