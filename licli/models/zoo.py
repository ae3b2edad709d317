"""The built-in architectures. Each builder takes ``num_classes``, ``in_channels``, ``image_size``
and keyword options, and returns a module with named ``Slot``s for mechanisms."""

from __future__ import annotations

import torch
from torch import nn
from torchvision.models import resnet18 as tv_resnet18
from torchvision.models import vgg16_bn as tv_vgg16_bn
from torchvision.models.vgg import cfgs as vgg_layouts
from torchvision.models.vgg import make_layers as make_vgg_layers

from licli.errors import LicliError
from licli.models.normalize import default_normalize
from licli.models.slots import Slot
from licli.registry import pick

ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def pooling_matrix(out: int, size: int, *, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The (out × size) matrix averaging adaptive pooling's bins: row i averages positions
    ⌊i·size/out⌋ … ⌈(i+1)·size/out⌉ − 1 (PyTorch's AdaptiveAvgPool bins)."""
    rows = torch.arange(out, device=device).view(-1, 1)
    start, end = (rows * size) // out, ((rows + 1) * size + out - 1) // out
    positions = torch.arange(size, device=device).view(1, -1)
    return ((positions >= start) & (positions < end)).to(dtype) / (end - start).to(dtype)


class StaticAdaptiveAvgPool2d(nn.Module):
    """``nn.AdaptiveAvgPool2d`` by deterministic operations: a mean for a 1×1 output, else two matrix
    products with ``pooling_matrix`` (cached per input size, device and dtype).

    The same values (up to float rounding of the sums) and gradients, but its backward pass has a
    deterministic CUDA kernel: AdaptiveAvgPool2d's backward has none, so
    ``torch.use_deterministic_algorithms(True)`` (``--deterministic``) raises on it."""

    def __init__(self, output_size: int | tuple[int, int]) -> None:
        super().__init__()
        self.output_size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
        self._matrices: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.output_size == (1, 1):
            return x.mean(dim=(-2, -1), keepdim=True)
        key = (x.shape[-2], x.shape[-1], x.device, x.dtype)
        if key not in self._matrices:
            with torch.inference_mode(False):  # cached: must stay usable by later autograd forwards
                self._matrices[key] = (pooling_matrix(self.output_size[0], x.shape[-2], device=x.device,
                                                      dtype=x.dtype),
                                       pooling_matrix(self.output_size[1], x.shape[-1], device=x.device,
                                                      dtype=x.dtype).T)
        rows, columns = self._matrices[key]
        return rows @ x @ columns

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


def _activation(name: str) -> nn.Module:
    return pick(ACTIVATIONS, name, "activation")()


def mlp(num_classes: int, in_channels: int, image_size: tuple[int, int], *, hidden: int = 256,
        depth: int = 2, activation: str = "relu") -> nn.Module:
    """``depth`` hidden layers of ``hidden`` units; slots ``hidden1`` … after each activation."""
    layers: list[nn.Module] = [default_normalize(in_channels), nn.Flatten()]
    width = in_channels * image_size[0] * image_size[1]
    for i in range(1, depth + 1):
        layers += [nn.Linear(width, hidden), _activation(activation), Slot(f"hidden{i}")]
        width = hidden
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def small_cnn(num_classes: int, in_channels: int, image_size: tuple[int, int], *, filters: int = 32,
              hidden: int = 728, activation: str = "relu") -> nn.Module:
    """Conv (32 filters, 3×3) + one hidden fully connected layer of 728 units (LI paper §4.1.1).

    Slots: ``conv`` (after the conv activation), ``hidden`` (after the 728-unit activation).
    """
    flat = filters * (image_size[0] - 2) * (image_size[1] - 2)
    return nn.Sequential(
        default_normalize(in_channels),
        nn.Conv2d(in_channels, filters, 3), _activation(activation), Slot("conv"),
        nn.Flatten(),
        nn.Linear(flat, hidden), _activation(activation), Slot("hidden"),
        nn.Linear(hidden, num_classes),
    )


def vgg16(num_classes: int, in_channels: int, image_size: tuple[int, int], *, width: int = 4096,
          channels: int = 64) -> nn.Module:
    """torchvision VGG-16 with batch norm, as in NormOut §2.3.1 (classifier 25088→4096→4096→classes).

    The two classifier Dropouts (the paper's layers 48 and 51) are the slots ``fc1`` and ``fc2``:
    identity unless a mechanism (``dropout``, ``normout``…) is inserted. ``channels`` < 64 scales every
    convolution's width by ``channels / 64`` (same 13 conv + 3 linear layers; for quick smoke runs). The adaptive
    pool is the deterministic ``StaticAdaptiveAvgPool2d`` (same values; the 1×1 CIFAR feature map is repeated 7×7).
    """
    if not isinstance(channels, int) or not 1 <= channels <= 64:
        raise LicliError(f"vgg16 channels must be an integer in [1, 64] (got {channels!r})",
                         'pass e.g. model_options={"channels": 8}', field="model_options")
    layout = [v if v == "M" else v * channels // 64 for v in vgg_layouts["D"]]
    model = tv_vgg16_bn(weights=None, num_classes=num_classes)
    model.features = make_vgg_layers(layout, batch_norm=True)
    model.avgpool = StaticAdaptiveAvgPool2d((7, 7))
    if in_channels != 3:
        model.features[0] = nn.Conv2d(in_channels, layout[0], kernel_size=3, padding=1)
    model.classifier = nn.Sequential(
        nn.Linear(layout[-2] * 7 * 7, width), nn.ReLU(inplace=True), Slot("fc1"),
        nn.Linear(width, width), nn.ReLU(inplace=True), Slot("fc2"),
        nn.Linear(width, num_classes),
    )
    return nn.Sequential(default_normalize(in_channels), model)


class _SlottedBlock(nn.Module):
    def __init__(self, block: nn.Module, slot: Slot) -> None:
        super().__init__()
        self.block = block
        self.slot = slot

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.slot(self.block(x))


def resnet18(num_classes: int, in_channels: int, image_size: tuple[int, int]) -> nn.Module:
    """torchvision ResNet-18, CIFAR variant (3×3 stem, stride 1, no max-pool).

    Slots ``layer1.0`` … ``layer4.1`` sit on the output of each of the 8 residual blocks
    (Gradient Mask §3.1 masks all but the last two).
    """
    model = tv_resnet18(weights=None, num_classes=num_classes)
    model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    model.avgpool = StaticAdaptiveAvgPool2d(1)
    for stage in ("layer1", "layer2", "layer3", "layer4"):
        layer = getattr(model, stage)
        for i in range(len(layer)):
            layer[i] = _SlottedBlock(layer[i], Slot(f"{stage}.{i}"))
    return nn.Sequential(default_normalize(in_channels), model)


def gap_cnn(num_classes: int, in_channels: int, image_size: tuple[int, int], *, filters: int = 16,
            activation: str = "relu") -> nn.Module:
    """Three 3×3 conv blocks (``filters``, 2×, 4× channels; 2×2 max-pool between) + global average pool.

    A small all-convolutional classifier for localisation (``mnist-loc``): its cost does not grow with
    the image size. Slots ``conv1``, ``conv2``, ``conv3`` after each conv activation (full, ½ and ¼ size).
    """
    widths = (filters, 2 * filters, 4 * filters)
    layers: list[nn.Module] = [default_normalize(in_channels)]
    previous = in_channels
    for i, width in enumerate(widths, start=1):
        if i > 1:
            layers.append(nn.MaxPool2d(2))
        layers += [nn.Conv2d(previous, width, 3, padding=1), _activation(activation), Slot(f"conv{i}")]
        previous = width
    layers += [StaticAdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(previous, num_classes)]
    return nn.Sequential(*layers)
