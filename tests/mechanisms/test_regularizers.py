import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from licli.training.config import TrainConfig
from licli.errors import LicliError
from licli.objectives import REGULARIZERS
from licli.objectives.regularizers import IRM, MMA, VREx, Fishr, SpectralDecoupling, environment_of


def _case(n: int = 12):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 4)).double()
    x = torch.randn(n, 3, dtype=torch.float64)
    y = torch.randint(4, (n,))
    indices = torch.arange(100, 100 + n)
    return model, x, y, indices


def _ce(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    return -log_p[np.arange(len(y)), y]


def test_environments_are_a_fixed_seeded_balanced_split():
    indices = torch.arange(20000)
    env = environment_of(indices, 3, seed=0)
    assert torch.equal(env, environment_of(indices.flip(0), 3, seed=0).flip(0))  # order-free
    assert set(env.tolist()) == {0, 1, 2}
    assert (torch.bincount(env) / 20000 - 1 / 3).abs().max() < 0.02
    assert (env != environment_of(indices, 3, seed=1)).float().mean() > 0.5


def test_spectral_decoupling_penalty():
    model, x, y, indices = _case()
    loss, logits = SpectralDecoupling(weight=0.3)(model, x, y, indices)
    z = logits.detach().numpy()
    assert loss.item() == pytest.approx(_ce(z, y.numpy()).mean() + 0.3 * (z ** 2).sum(1).mean())


def test_irm_penalty_is_the_squared_gradient_at_scale_one():
    model, x, y, indices = _case()
    objective = IRM(weight=2.0, environments=2)
    loss, logits = objective(model, x, y, indices)
    z, labels, env = logits.detach().numpy(), y.numpy(), objective.split(indices).numpy()
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    d_scale = ((p - np.eye(4)[labels]) * z).sum(1)  # d CE(s·z)/ds at s = 1, per sample
    risks = [_ce(z, labels)[env == e].mean() for e in (0, 1)]
    penalties = [d_scale[env == e].mean() ** 2 for e in (0, 1)]
    assert loss.item() == pytest.approx(np.mean(risks) + 2.0 * np.mean(penalties))


def test_vrex_penalty_is_the_variance_of_environment_risks():
    model, x, y, indices = _case(30)
    objective = VREx(weight=5.0, environments=3)
    loss, logits = objective(model, x, y, indices)
    losses, env = _ce(logits.detach().numpy(), y.numpy()), objective.split(indices).numpy()
    risks = np.array([losses[env == e].mean() for e in range(3)])
    assert loss.item() == pytest.approx(risks.mean() + 5.0 * risks.var())


def test_fishr_penalty_matches_per_sample_gradients_from_torch_func():
    model, x, y, indices = _case(20)
    objective = Fishr(weight=3.0, environments=2)
    loss, logits = objective(model, x, y, indices)
    head = model[2]
    features = model[1](model[0](x)).detach()

    def sample_loss(params, h, label):
        return F.cross_entropy(functional_call(head, params, (h.unsqueeze(0),)), label.unsqueeze(0))

    params = {k: v.detach() for k, v in head.named_parameters()}
    per_sample = vmap(grad(sample_loss), in_dims=(None, 0, 0))(params, features, y)
    g = torch.cat([per_sample["weight"].flatten(1), per_sample["bias"]], 1).numpy()
    env = objective.split(indices).numpy()
    variances = np.stack([g[env == e].var(0) for e in (0, 1)])
    penalty = ((variances - variances.mean(0)) ** 2).mean(1).mean()
    ce = _ce(logits.detach().numpy(), y.numpy()).mean()
    assert loss.item() == pytest.approx(ce + 3.0 * penalty, rel=1e-9)


def test_mma_penalty_is_the_mean_minimal_angle_over_layers():
    model, x, y, indices = _case()
    loss, logits = MMA(weight=0.5)(model, x, y, indices)
    total = 0.0
    for layer in (model[0], model[2]):
        w = layer.weight.detach().numpy()
        angles = [min(math.acos(np.dot(w[i], w[j]) / np.linalg.norm(w[i]) / np.linalg.norm(w[j]))
                      for j in range(len(w)) if j != i) for i in range(len(w))]
        total += -np.mean(angles)
    assert loss.item() == pytest.approx(_ce(logits.detach().numpy(), y.numpy()).mean() + 0.5 * total, rel=1e-6)


@pytest.mark.parametrize("name", sorted(REGULARIZERS))
def test_every_regularizer_gives_a_finite_differentiable_loss_and_rejects_negative_weights(name):
    model, x, y, indices = _case()
    loss, logits = REGULARIZERS[name]()(model, x, y, indices)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters())
    assert logits.shape == (12, 4)
    with pytest.raises(LicliError):
        REGULARIZERS[name](weight=-1.0)


def test_weight_decay_points_to_the_optimizer_flag():
    with pytest.raises(LicliError, match="pass weight_decay=5e-4"):
        TrainConfig(regularizer="weight-decay")
    with pytest.raises(LicliError, match="unknown regularizer"):
        TrainConfig(regularizer="dropconnect")


def test_irm_uses_the_given_environments_by_hand(tmp_path):
    """A hand-computed IRMv1 penalty: logits z, labels y; d CE(s·z)/ds at s = 1 is Σ_k z_k (p_k − onehot_k)."""
    z = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0], [3.0, -1.0]], dtype=torch.float64)
    y = torch.tensor([0, 0, 1, 1])
    labels = tmp_path / "environments.txt"
    labels.write_text("red\ngreen\nred\ngreen\n")  # → environments green = 0, red = 1 (sorted names)
    objective = IRM(weight=1.0, environment_file=str(labels))
    objective.bind_environments(None, 4)
    sigmoid = lambda t: 1 / (1 + math.exp(-t))  # noqa: E731 - p_1 of two logits is σ(z_1 − z_0)
    slopes = []
    for (z0, z1), label in zip(z.tolist(), y.tolist()):
        p1 = sigmoid(z1 - z0)
        slopes.append(z0 * ((1 - p1) - (label == 0)) + z1 * (p1 - (label == 1)))
    ce = [math.log(1 + math.exp(-(z1 - z0) if label == 1 else (z1 - z0))) for (z0, z1), label in zip(z.tolist(), y.tolist())]
    red, green = (0, 2), (1, 3)
    risk = lambda idx: sum(ce[i] for i in idx) / 2  # noqa: E731
    penalty = lambda idx: (sum(slopes[i] for i in idx) / 2) ** 2  # noqa: E731
    expected = (risk(red) + risk(green)) / 2 + (penalty(red) + penalty(green)) / 2
    loss, _ = objective(lambda x: x, z, y, torch.arange(4))
    assert loss.item() == pytest.approx(expected, rel=1e-6)  # the IRM scale is float32
    assert torch.equal(objective.split(torch.arange(4)), torch.tensor([1, 0, 1, 0]))
    hashed = IRM(weight=1.0)
    hashed.bind_environments(None, 4)
    assert hashed(lambda x: x, z, y, torch.arange(4))[0].item() != pytest.approx(expected)  # not the hash split


def test_environment_objectives_bind_the_datasets_environments_and_check_counts(tmp_path):
    objective = VREx(weight=1.0)
    objective.bind_environments(torch.tensor([1, 1, 0, 2]), 4)
    assert objective.environments == 3 and torch.equal(objective.split(torch.tensor([3, 0])), torch.tensor([2, 1]))
    labels = tmp_path / "env.txt"
    labels.write_text("0\n1\n")
    with pytest.raises(LicliError, match="2 environment labels for 4 training images"):
        Fishr(environment_file=str(labels)).bind_environments(None, 4)
    with pytest.raises(LicliError, match="environments=3 but"):
        IRM(environments=3, environment_file=str(labels))
    with pytest.raises(LicliError, match="cannot read the environment labels"):
        IRM(environment_file=str(tmp_path / "missing.txt"))


def test_training_on_colored_mnist_uses_its_environments():
    from licli.data import load_dataset
    from licli.training.loop import objective_for

    data = load_dataset("colored-mnist-mini")
    objective = objective_for(TrainConfig(dataset="colored-mnist-mini", regularizer="irm"), data)
    assert torch.equal(objective.split(torch.arange(10)), torch.arange(10) % 2)
