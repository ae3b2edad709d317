"""Native Grad-CAM and Grad-CAM++ equal pytorch-grad-cam 1.5.7 on the same model and layers."""

import pytest
import torch

from licli.saliency import BACKENDS, SALIENCY_METHODS
from licli.saliency.layers import capture, resolve_layers

LIBRARY_METHODS = [name for name, factory in BACKENDS["pytorch-grad-cam"].items()
                   if factory is not SALIENCY_METHODS[name]]


def test_library_backend_covers_the_cam_methods():
    assert sorted(LIBRARY_METHODS) == ["gradcam", "gradcam++"]


@pytest.mark.parametrize("layers", [["a3"], ["a2"], ["a1", "a3"]], ids=str)
@pytest.mark.parametrize("method", LIBRARY_METHODS)
def test_native_equals_pytorch_grad_cam(conv_net, batch, method, layers):
    x, classes = batch
    modules = resolve_layers(conv_net, layers)
    native = BACKENDS["native"][method](conv_net, modules)(x, classes)
    library = BACKENDS["pytorch-grad-cam"][method](conv_net, modules)(x, classes)
    assert native.shape == library.shape == (6, 30, 30)
    assert torch.allclose(native, library, atol=1e-5)
    assert native.std() > 0


def test_native_methods_leave_no_hooks_and_no_parameter_gradients(conv_net, batch):
    x, classes = batch
    for name, factory in SALIENCY_METHODS.items():
        factory(conv_net, resolve_layers(conv_net, ["a2", "a3"]))(x, classes)
    assert all(not m._forward_hooks and not m._backward_hooks for m in conv_net.modules())
    assert all(p.grad is None for p in conv_net.parameters())


def test_a_module_that_runs_twice_is_refused():
    from licli.errors import LicliError

    relu = torch.nn.ReLU()
    model = torch.nn.Sequential(relu, relu)
    with pytest.raises(LicliError, match="ran twice"):
        with capture([relu]):
            model(torch.zeros(1, 2))
