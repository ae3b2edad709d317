"""LI data enhancement blurs exactly the inhibited pixels of r% of the batch (Algorithm 2)."""

import math

import pytest
import torch
from torch import nn
from torchvision.transforms.functional import gaussian_blur

from licli.training.config import TrainConfig
from licli.errors import LicliError
from licli.saliency.li_map import LI_MAP_RESPONSES, li_importance
from licli.objectives.enhancement import SCORES, LIBlur, inhibition_mask
from licli.models.slots import Slot
from licli.training.loop import cross_entropy, objective_for, with_enhancement


def model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), Slot("a1"), nn.MaxPool2d(2),
                         nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), Slot("a2"), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, 3), nn.Dropout(0.5))


@pytest.mark.parametrize("ratio", [0.25, 0.5, 1.0])
def test_blurs_exactly_the_masked_pixels_of_ratio_of_the_batch(ratio):
    net = model().train()
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(8, 1, 16, 16, generator=g), torch.randint(3, (8,), generator=g)
    enhancement = LIBlur(cross_entropy, quantile=0.6, ratio=ratio, sigma=1.0, blur_sigma=1.5, seed=0)
    enhanced, chosen = enhancement.enhance(net, x, y)
    assert len(chosen) == round(ratio * 8) and net.training
    unchosen = torch.ones(8, dtype=torch.bool)
    unchosen[chosen] = False
    assert torch.equal(enhanced[unchosen], x[unchosen])
    net.eval()
    importance, _ = li_importance(net, [net[2], net[6]], x[chosen], lambda logits: SCORES["loss"](logits, y[chosen]),
                                  1.0, enhancement.size)
    keep = inhibition_mask(LI_MAP_RESPONSES["abs"](importance), 0.6)
    assert abs(keep.float().mean().item() - 0.4) < 0.02
    size = 2 * math.ceil(3 * 1.5) + 1
    blurred = gaussian_blur(x[chosen], [size, size], [1.5, 1.5])
    keep = keep.unsqueeze(1)
    assert torch.equal(enhanced[chosen][keep], x[chosen][keep])
    assert torch.equal(enhanced[chosen][~keep], blurred[~keep])
    assert all(p.grad is None for p in net.parameters())


def test_training_wraps_the_loss_with_the_enhancement():
    config = TrainConfig(model="mlp", dataset="mnist-mini", enhance="li-blur",
                         enhance_params={"ratio": 0.5, "layers": ["a1"]})
    objective = with_enhancement(config, objective_for(config))
    assert isinstance(objective, LIBlur) and objective.objective is cross_entropy
    net = model()
    loss, logits = objective(net, torch.rand(4, 1, 16, 16), torch.tensor([0, 1, 2, 0]), torch.arange(4))
    assert logits.shape == (4, 3) and loss.requires_grad


@pytest.mark.parametrize("params", [{"quantile": 1.5}, {"ratio": -0.1}, {"sigma": 0}, {"bogus": 1}])
def test_bad_enhancement_parameters_are_refused_by_the_config(params):
    with pytest.raises(LicliError):
        TrainConfig(enhance="li-blur", enhance_params=params)
