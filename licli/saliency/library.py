"""The ``pytorch-grad-cam`` backend: the library's GradCAM / GradCAM++ behind licli's method interface.

The library copies activations and gradients to the host in its hooks and backpropagates into every
parameter; licli's native methods do neither. It is kept as the reference and a selectable backend.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from licli.errors import LicliError


class LibraryCAM:
    """``pytorch_grad_cam.<library_name>(model, target_layers)`` called with ``ClassifierOutputTarget``
    per image (the library, and OpenCV with it, is imported only when a library method runs; it is the
    optional extra ``licli[gradcam]``)."""

    library_name: str

    def __init__(self, model: nn.Module, layers: Sequence[nn.Module]) -> None:
        self.model = model
        self.layers = list(layers)

    def __call__(self, x: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
        try:
            import pytorch_grad_cam
            from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
        except ImportError:
            raise LicliError("the pytorch-grad-cam backend needs the grad-cam package, which is not installed",
                             "pip install 'licli[gradcam]' (or pip install grad-cam), or pass backend=native",
                             field="backend") from None

        targets = [ClassifierOutputTarget(int(c)) for c in classes.tolist()]
        library_class = getattr(pytorch_grad_cam, self.library_name)
        with library_class(model=self.model, target_layers=self.layers) as cam:
            maps = cam(input_tensor=x, targets=targets)
        return torch.from_numpy(maps).to(x.device)


class LibraryGradCAM(LibraryCAM):
    library_name = "GradCAM"


class LibraryGradCAMPlusPlus(LibraryCAM):
    library_name = "GradCAMPlusPlus"
