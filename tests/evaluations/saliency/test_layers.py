"""Layer names and defaults for models without slots (a torchvision ResNet brought with --model)."""

import pytest
import torch
from torch import nn

from licli.errors import LicliError
from licli.saliency.layers import default_layers, resolve_layers
from licli.evaluations.saliency.scoring import SaliencyConfig, build_method, check_label_space
from licli.models.foreign import ForeignSpec, build_foreign

SHAPE = (3, 64, 64)


@pytest.fixture(scope="module")
def resnet18():
    torch.manual_seed(0)
    return build_foreign(ForeignSpec("torchvision", "resnet18", input_shape=SHAPE)).eval()


def test_torchvision_resnet_defaults_are_its_residual_blocks(resnet18):
    blocks = [f"layer{stage}.{i}" for stage in range(1, 5) for i in range(2)]
    assert default_layers(resnet18, SHAPE, last_only=False) == blocks
    assert default_layers(resnet18, SHAPE, last_only=True) == ["layer4.1"]
    with torch.device("meta"):  # shapes only: no weights to initialise
        resnet50 = build_foreign(ForeignSpec("torchvision", "resnet50", input_shape=SHAPE))
        assert len(default_layers(resnet50, SHAPE, last_only=False)) == 3 + 4 + 6 + 3  # ResNet-50's bottlenecks


def test_paths_inside_the_foreign_network_need_no_net_prefix(resnet18):
    assert resolve_layers(resnet18, ["layer4", "layer4.1"]) == [resnet18.net.layer4, resnet18.net.layer4[1]]
    assert resolve_layers(resnet18, ["net.layer4"]) == [resnet18.net.layer4]
    with pytest.raises(LicliError, match="model has no layer 'layer5'"):
        resolve_layers(resnet18, ["layer5"])


def test_default_layers_give_maps_and_equal_naming_the_stage(resnet18):
    """layer4.1 is the last block of layer4: both names hook the same output, so the Grad-CAM maps are equal."""
    g = torch.Generator().manual_seed(0)
    x, classes = torch.rand(2, *SHAPE, generator=g), torch.tensor([3, 997])
    for method in ("li-map", "gradcam"):
        maps = build_method(resnet18, method, SaliencyConfig(methods=(method,)), SHAPE)(x, classes)
        assert maps.shape == (2, 64, 64) and torch.isfinite(maps).all() and maps.std() > 0
    stage = build_method(resnet18, "gradcam", SaliencyConfig(methods=("gradcam",), layers=("layer4",)), SHAPE)
    assert torch.equal(maps, stage(x, classes))


def test_a_model_without_slots_or_known_defaults_asks_for_layers():
    with torch.device("meta"):
        net = build_foreign(ForeignSpec("torchvision", "vgg11", input_shape=SHAPE))
        with pytest.raises(LicliError, match="no default layers for VGG.*layers="):
            default_layers(net, SHAPE, last_only=True)
    plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    assert resolve_layers(plain, ["1"]) == [plain[1]]


def test_label_space_check():
    assert check_label_space(20, 20, target="label", needs_labels=True, model="m", dataset="voc2007")
    assert not check_label_space(1000, 20, target="pred", needs_labels=False, model="m", dataset="voc2007")
    with pytest.raises(LicliError, match=r"scores 1000 classes but voc2007 has 20.*pass target=pred"):
        check_label_space(1000, 20, target="label", needs_labels=False, model="m", dataset="voc2007")
    with pytest.raises(LicliError, match="cannot be compared with the dataset's labels"):
        check_label_space(1000, 20, target="pred", needs_labels=True, model="m", dataset="voc2007")
