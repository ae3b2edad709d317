"""The cascading-randomisation check fails a method that ignores the weights and passes Grad-CAM."""

import torch

from licli.saliency import GradCAM
from licli.saliency.layers import resolve_layers
from licli.evaluations.saliency.sanity import cascading_randomization, randomizable_layers


def test_layers_are_randomised_from_the_top(conv_net):
    names = [name for name, _ in randomizable_layers(conv_net)]
    assert names == ["11", "6", "3", "0"]


def test_a_method_that_ignores_the_weights_fails(conv_net, batch):
    x, _ = batch
    result = cascading_randomization(conv_net, lambda model: x[:, 0].clone())
    assert (result["mean_spearman"] > 0.999).all()
    assert not result["passed"].iloc[0]


def test_gradcam_passes_and_the_model_is_untouched(conv_net, batch):
    x, classes = batch
    before = {k: v.clone() for k, v in conv_net.state_dict().items()}
    result = cascading_randomization(
        conv_net, lambda model: GradCAM(model, resolve_layers(model, ["a2"]))(x, classes), seed=0)
    assert len(result) == 4 and result["passed"].iloc[0]
    assert result["mean_spearman"].iloc[-1] < 0.5
    assert all(torch.equal(before[k], v) for k, v in conv_net.state_dict().items())
