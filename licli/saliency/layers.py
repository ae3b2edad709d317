"""Which activations a saliency method looks at, and the context-managed hooks that capture them.

Layers are named by slot (``conv``, ``layer3.1`` …, see ``licli.models.model_slots``) or by module path
(``1.layer3``, as in ``model.named_modules()``); in a foreign model (``--model``/``--model-def``) also by
the path inside the user's network, without the wrapper's ``net.`` (``layer4`` for ``net.layer4``).
Models without slots get their default layers from ``FOREIGN_DEFAULT_LAYERS`` (a torchvision ResNet:
the output of every residual block, as licli's own ResNet slots), else ``--layers`` must name them.
One forward hook per module records its output tensor; a module that runs twice in one forward pass
(a reused ReLU, as in torchvision's Bottleneck) is an error, because its two outputs are different
tensors (the released LI-Map code hooked such modules and summed ~49 gradients per backward on
ResNet-50). Gradients are then taken with ``torch.autograd.grad`` with respect to exactly these
tensors: no backward hooks, no weight gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn
from torchvision.models import ResNet

from licli.errors import LicliError
from licli.models.foreign import ForeignModel
from licli.models.slots import model_slots


def _resnet_blocks(net: nn.Module) -> list[str]:
    return [f"{stage}.{i}" for stage in ("layer1", "layer2", "layer3", "layer4")
            for i in range(len(getattr(net, stage)))]


FOREIGN_DEFAULT_LAYERS: dict[type, Callable[[nn.Module], list[str]]] = {ResNet: _resnet_blocks}
"""Network class → its default saliency layers (paths inside the network), for models without slots."""


def module_paths(model: nn.Module) -> dict[str, nn.Module]:
    """The model's modules by path; a foreign model's also by their path inside its network (no ``net.``)."""
    modules = {name: module for name, module in model.named_modules() if name}
    if isinstance(model, ForeignModel):
        modules.update({name: module for name, module in model.net.named_modules() if name and name not in modules})
    return modules


def resolve_layers(model: nn.Module, names: Sequence[str]) -> list[nn.Module]:
    """The modules ``names`` refer to (slot names first, then module paths), in the given order."""
    slots = model_slots(model)
    modules = module_paths(model)
    layers = []
    for name in names:
        if name in slots:
            layers.append(slots[name])
        elif name in modules:
            layers.append(modules[name])
        else:
            raise LicliError(f"model has no layer {name!r}",
                             f"name a slot ({', '.join(slots) or 'none'}) or a module path from model.named_modules()")
    return layers


def spatial_slots(model: nn.Module, image_shape: tuple[int, int, int]) -> list[str]:
    """The names of the slots whose output is a 4-D (N, C, h, w) feature map, in forward order."""
    slots = model_slots(model)
    device = next(model.parameters()).device
    with capture(list(slots.values())) as captured, torch.no_grad():
        model(torch.zeros(1, *image_shape, device=device))
    return [name for name, output in zip(slots, captured.outputs) if output.dim() == 4]


def foreign_default_layers(model: nn.Module) -> list[str]:
    """The ``FOREIGN_DEFAULT_LAYERS`` of a foreign model's network, or [] when its class has none."""
    net = model.net if isinstance(model, ForeignModel) else model
    rule = next((rule for kind, rule in FOREIGN_DEFAULT_LAYERS.items() if isinstance(net, kind)), None)
    return rule(net) if rule is not None else []


def default_layers(model: nn.Module, image_shape: tuple[int, int, int], last_only: bool) -> list[str]:
    """All spatial slots (LI-Map sums over layers, eq. 20) or the last one (Grad-CAM's convention);
    without slots, the same from ``FOREIGN_DEFAULT_LAYERS``."""
    names = spatial_slots(model, image_shape) or foreign_default_layers(model)
    if not names:
        raise LicliError("the model has no slot with a spatial (N, C, h, w) output and licli knows no default "
                         f"layers for {type(getattr(model, 'net', model)).__name__}",
                         "name the activation layers as layers=… (module paths from model.named_modules(), "
                         "e.g. layers=layer4 for a torchvision ResNet)", field="layers")
    return names[-1:] if last_only else names


class Captured:
    """Outputs of the hooked modules of the latest forward pass, in the order the modules were given."""

    def __init__(self, modules: Sequence[nn.Module]) -> None:
        self._order = {id(module): i for i, module in enumerate(modules)}
        self._outputs: list[torch.Tensor | None] = [None] * len(modules)

    def record(self, module: nn.Module, output: torch.Tensor) -> None:
        index = self._order[id(module)]
        if self._outputs[index] is not None:
            raise LicliError(f"layer {type(module).__name__} ran twice in one forward pass (a reused module)",
                             "choose a module that runs once, e.g. a slot or a block's output")
        self._outputs[index] = output

    def reset(self) -> None:
        self._outputs = [None] * len(self._outputs)

    @property
    def outputs(self) -> list[torch.Tensor]:
        missing = [i for i, output in enumerate(self._outputs) if output is None]
        if missing:
            raise LicliError("a chosen layer did not run in the forward pass", "check the layers=… chosen", field="layers")
        return list(self._outputs)  # type: ignore[arg-type]


@contextmanager
def capture(modules: Sequence[nn.Module]) -> Iterator[Captured]:
    """Record the output tensor of each module on every forward pass; the hooks are removed on exit."""
    captured = Captured(modules)
    handles = [module.register_forward_hook(lambda m, _, output: captured.record(m, output)) for module in modules]
    try:
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def forward_with_activations(model: nn.Module, layers: Sequence[nn.Module], x: torch.Tensor
                             ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Logits and the chosen layers' outputs (still in the autograd graph) for one batch."""
    with capture(layers) as captured:
        logits = model(x)
        return logits, captured.outputs


def class_scores(logits: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """P of §3.2: the logit of the class of interest, one per image."""
    return logits.gather(1, classes.view(-1, 1)).squeeze(1)
