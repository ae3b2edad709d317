"""L1 pruning: exact sparsity, the same masks as torch.nn.utils.prune, weights restored afterwards."""

import copy

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

from tests.conftest import tiny_dataset
from licli.errors import LicliError
from licli.evaluations import pruning
from licli.models import ModelSpec, build_model
from licli.training.loop import evaluate

DATA = tiny_dataset(n_test=40)
CPU = torch.device("cpu")
LEVELS = (0.0, 0.1, 0.33, 0.5, 0.9, 0.99)


def model() -> nn.Module:
    torch.manual_seed(0)
    return build_model(ModelSpec("small-cnn", 3, 1, (8, 8), {"filters": 4, "hidden": 10})).eval()


def reference_masks(net: nn.Module, level: float, scope: str) -> dict[str, torch.Tensor]:
    """Masks from torch.nn.utils.prune (continuous random weights: no ties, so the masks are unique)."""
    net = copy.deepcopy(net)
    layers = [(m, "weight") for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    if scope == "global":
        prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=level)
    else:
        for module, name in layers:
            prune.l1_unstructured(module, name, amount=level)
    return {n: m.weight_mask.bool() for n, m in net.named_modules() if hasattr(m, "weight_mask")}


@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
@pytest.mark.parametrize("scope", sorted(pruning.SCOPES))
def test_masks_and_counts_match_torch_prune(scope, channels_last):
    net = model()
    if channels_last:  # conv weights as licli.runtime.in_memory_format leaves them on CUDA
        net.to(memory_format=torch.channels_last)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    seen = []
    with pruning.pruned(net, LEVELS[::-1], scope) as levels:
        for level, _ in levels:
            seen.append(level)
            for name, mask in reference_masks(_restored(net, before), level, scope).items():
                kept = dict(net.named_modules())[name].weight != 0
                assert torch.equal(kept, mask), (scope, level, name)
    assert seen == sorted(LEVELS)
    for key, value in net.state_dict().items():
        assert torch.equal(value, before[key])


def _restored(net, state):
    copy_ = copy.deepcopy(net)
    copy_.load_state_dict(state)
    return copy_


@pytest.mark.parametrize("scope", sorted(pruning.SCOPES))
def test_run_reports_exact_sparsity_and_accuracy(scope):
    net = model()
    frame = pruning.run(net, DATA, device=CPU, config=pruning.PruneConfig(scope=scope, levels=LEVELS))
    layers = frame[frame.layer != "all"]
    whole = frame[frame.layer == "all"].set_index("level")
    for level, row in whole.iterrows():
        assert row["zeros"] == round(level * row["size"]) or scope == "layerwise"
        rows = layers[layers.level == level]
        if scope == "layerwise":
            assert (rows["zeros"] == [round(level * s) for s in rows["size"]]).all()
        assert rows["zeros"].sum() == row["zeros"]
    assert whole.loc[0.0, "accuracy"] == pytest.approx(evaluate(net, DATA.test, device=CPU)["accuracy"])


def test_existing_zeros_are_pruned_first():
    net = model()
    with torch.no_grad():
        net[1].weight[0, 0] = 0  # 9 zeros already
    frame = pruning.run(net, DATA, device=CPU, config=pruning.PruneConfig(scope="layerwise", levels=(0.0, 0.1)))
    conv = frame[frame.layer == "1.weight"].set_index("level")["zeros"]
    assert conv[0.0] == 9 and conv[0.1] == max(round(0.1 * 36), 9)


def test_curve_area():
    frame = pruning.run(model(), DATA, device=CPU, config=pruning.PruneConfig(levels=(0.0, 0.5)))
    curve = frame[frame.layer == "all"]
    assert pruning.curve_area(curve) == pytest.approx(0.5 * curve["accuracy"].sum() / 2)


def test_robust_accuracy_hook_sees_the_pruned_model():
    sparsities = []
    hook = lambda net, split: sparsities.append(float((net[-1].weight == 0).double().mean())) or 0.25
    frame = pruning.run(model(), DATA, device=CPU, config=pruning.PruneConfig(scope="layerwise", levels=(0.0, 0.5)),
                        robust_accuracy=hook)
    assert sparsities == [0.0, 0.5] and (frame.dropna(subset=["robust_accuracy"])["robust_accuracy"] == 0.25).all()


@pytest.mark.parametrize("bad", [{"levels": (1.0,)}, {"levels": (-0.1,)}, {"levels": ()}, {"scope": "nope"}])
def test_bad_config(bad):
    with pytest.raises(LicliError):
        pruning.PruneConfig(**bad)


@pytest.mark.parametrize("scope", sorted(pruning.SCOPES))
def test_ties_are_broken_by_position(scope):
    net = nn.Sequential(nn.Flatten(), nn.Linear(4, 3, bias=False))
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[1.0, -1.0, 1.0, 2.0]] * 3))
    with pruning.pruned(net, (0.5,), scope) as levels:
        next(levels)
        assert net[1].weight.flatten().tolist() == [0, 0, 0, 2, 0, 0, 0, 2, 1, -1, 1, 2]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
def test_magnitude_order_equals_a_stable_float_argsort(dtype):
    """Sorting bit patterns gives the float order exactly, ties (and zeros, and infinities) by position."""
    values = torch.randn(5000, generator=torch.Generator().manual_seed(0)).to(dtype)
    values[::7] = values[3]  # many ties
    values[::11] = 0.0
    values[5] = float("inf")
    magnitudes = values.abs()
    assert torch.equal(pruning.magnitude_order(magnitudes), torch.argsort(magnitudes, stable=True))
