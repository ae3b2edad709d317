"""Every registered model builds, maps a [0, 1] batch to logits and exposes its slots; the CIFAR
architectures match the papers (NormOut §2.3.1 VGG-16 layer indices; ResNet-18 CIFAR variant)."""

import pytest
import torch
from torch import nn

from licli.models import MODELS, ModelSpec, Slot, build_model, model_slots

EXPECTED_SLOTS = {
    "mlp": ["hidden1", "hidden2"],
    "small-cnn": ["conv", "hidden"],
    "vgg16": ["fc1", "fc2"],
    "resnet18": [f"layer{stage}.{block}" for stage in range(1, 5) for block in range(2)],
    "gap-cnn": ["conv1", "conv2", "conv3"],
    "oracle-net": ["inhibition"],
}
INPUT_SHAPES = {"oracle-net": (2, 28, 28)}  # image plane + oracle plane (licli.data.oracle)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_maps_a_batch_to_logits_and_exposes_slots(name):
    torch.manual_seed(0)
    channels, height, width = INPUT_SHAPES.get(name, (3, 32, 32))
    model = build_model(ModelSpec(name, num_classes=10, in_channels=channels, image_size=(height, width))).eval()
    x = torch.rand(2, channels, height, width)
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()
    assert list(model_slots(model)) == EXPECTED_SLOTS[name]
    assert all(isinstance(slot.mechanism, nn.Identity) for slot in model_slots(model).values())


@pytest.mark.parametrize("name", ["mlp", "small-cnn"])
def test_mnist_models_take_one_channel(name):
    model = build_model(ModelSpec(name, num_classes=10, in_channels=1, image_size=(28, 28)))
    assert model(torch.rand(3, 1, 28, 28)).shape == (3, 10)


def test_small_cnn_is_the_li_paper_architecture():
    """LI paper §4.1.1: Conv 32 filters 3×3, one hidden fully connected layer of 728 units."""
    model = build_model(ModelSpec("small-cnn", num_classes=10, in_channels=1, image_size=(28, 28)))
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(c.out_channels, c.kernel_size) for c in convs] == [(32, (3, 3))]
    assert [(l.in_features, l.out_features) for l in linears] == [(32 * 26 * 26, 728), (728, 10)]


def structure(name, **spec):
    """The model built on the meta device: its layers and shapes, without allocating or initialising weights."""
    with torch.device("meta"):
        return build_model(ModelSpec(name, **spec))


def test_vgg16_classifier_has_the_normout_layer_indices():
    """NormOut §2.3.1 lists the classifier as (46) Linear 25088→4096, (47) ReLU, (48) Dropout,
    (49) Linear 4096→4096, (50) ReLU, (51) Dropout, (52) Linear 4096→10 in the flattened VGG-16-BN."""
    vgg = structure("vgg16", num_classes=10, in_channels=3, image_size=(32, 32))[1]
    layers = [*vgg.features, vgg.avgpool, nn.Flatten(), *vgg.classifier]
    assert isinstance(layers[46], nn.Linear) and (layers[46].in_features, layers[46].out_features) == (25088, 4096)
    assert isinstance(layers[47], nn.ReLU) and isinstance(layers[50], nn.ReLU)
    assert isinstance(layers[48], Slot) and layers[48].slot_name == "fc1"
    assert isinstance(layers[51], Slot) and layers[51].slot_name == "fc2"
    assert (layers[52].in_features, layers[52].out_features) == (4096, 10) and len(layers) == 53
    assert sum(isinstance(m, nn.BatchNorm2d) for m in vgg.features) == 13
    assert sum(p.numel() for p in vgg.parameters()) == 134_309_962


def test_resnet18_is_the_cifar_variant():
    model = build_model(ModelSpec("resnet18", num_classes=10, in_channels=3, image_size=(32, 32))).eval()
    net = model[1]
    assert net.conv1.kernel_size == (3, 3) and net.conv1.stride == (1, 1) and isinstance(net.maxpool, nn.Identity)
    shapes = {}
    hooks = [slot.register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, tuple(o.shape)))
             for n, slot in model_slots(model).items()]
    with torch.no_grad():
        model(torch.rand(1, 3, 32, 32))
    for hook in hooks:
        hook.remove()
    assert shapes["layer1.0"] == (1, 64, 32, 32) and shapes["layer4.1"] == (1, 512, 4, 4)
    assert sum(p.numel() for p in model.parameters()) == 11_173_962
