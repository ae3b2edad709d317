import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist
from torch import nn

from licli.data import Split
from licli.errors import LicliError
from licli.mechanisms import training_hooks
from licli.mechanisms.correlation import CORRELATIONS, correlation_map
from licli.mechanisms.inhibition import LocalInhibition, proportional_inhibition, weighted_inhibition
from licli.hooks import StepContext
from licli.training.config import TrainConfig
from licli.training.loop import train


def test_identity_map_leaves_activations_unchanged():
    z = torch.rand(7, 5, dtype=torch.float64)
    z[0] = 0  # 0/0 = 0 keeps the zero row
    assert torch.allclose(weighted_inhibition(z, torch.eye(5, dtype=torch.float64)), z, rtol=0, atol=1e-15)


def test_all_ones_map_is_proportional_inhibition():
    z = torch.rand(4, 6, dtype=torch.float64)
    expected = z ** 2 / z.sum(1, keepdim=True)
    assert torch.allclose(weighted_inhibition(z, torch.ones(6, 6, dtype=torch.float64)), expected)
    assert torch.allclose(proportional_inhibition(z), expected)


def test_weighted_inhibition_follows_eq_336_elementwise():
    z, c = torch.rand(3, 4, dtype=torch.float64), torch.rand(4, 4, dtype=torch.float64)
    for n in range(3):
        for j in range(4):  # activation i inhibits j by c_ij
            denominator = sum(z[n, i] * c[i, j] for i in range(4))
            assert torch.isclose(weighted_inhibition(z, c)[n, j], z[n, j] ** 2 / denominator)


def test_zero_over_zero_is_zero_with_finite_gradient():
    x = torch.zeros(2, 3, requires_grad=True)
    out = proportional_inhibition(x)
    out.sum().backward()
    assert torch.equal(out, torch.zeros(2, 3)) and torch.isfinite(x.grad).all()
    z = torch.tensor([[0.0, 0.5]], requires_grad=True)
    out = weighted_inhibition(z, torch.tensor([[0.0, 0.0], [0.0, 0.0]]))  # silent-in-calibration unit: 0, not inf
    out.sum().backward()
    assert torch.equal(out, torch.zeros(1, 2)) and torch.isfinite(z.grad).all()


@pytest.mark.parametrize("kind", ["pearson", "cosine"])
def test_perfectly_correlated_units_sum_to_at_most_their_max(kind):
    # eq. 2.3.1: scaled copies of one signal are perfectly correlated; their inhibited sum ≤ their maximum
    base = torch.rand(50, 1, dtype=torch.float64)
    activations = base * torch.tensor([[0.2, 0.5, 1.0, 0.7]], dtype=torch.float64)
    c = correlation_map(activations, kind)
    assert torch.allclose(c, torch.ones(4, 4, dtype=torch.float64))
    x = torch.rand(20, 4, dtype=torch.float64)
    assert (weighted_inhibition(x, c).sum(1) <= x.amax(1) + 1e-12).all()


def test_cmap_of_identical_binary_units_is_all_ones():
    bits = (torch.rand(40, 1) > 0.5).double()
    bits[0] = 1
    assert torch.allclose(correlation_map(bits.repeat(1, 3), "cmap"), torch.ones(3, 3, dtype=torch.float64))


def test_cmap_equals_an_explicit_loop():
    a = torch.rand(30, 5, dtype=torch.float64)
    a[:, 2] = 0  # a silent unit: its row is 0 (0/0 = 0)
    expected = torch.zeros(5, 5, dtype=torch.float64)
    for i in range(5):
        for j in range(5):
            total = sum(a[k, i] for k in range(30))
            expected[i, j] = sum(a[k, i] * a[k, j] for k in range(30)) / total if total else 0.0
    assert torch.allclose(correlation_map(a, "cmap"), expected)


def test_pearson_and_cosine_equal_numpy_and_scipy():
    rng = np.random.default_rng(0)
    a = rng.random((200, 6))
    a[:, 3] = a[:, 1] * 0.5 + rng.random(200) * 0.1
    a[:, 4] = 1 - a[:, 0]  # negatively correlated → clipped to 0
    pearson = correlation_map(torch.from_numpy(a), "pearson").numpy()
    np.testing.assert_allclose(pearson, np.clip(np.corrcoef(a, rowvar=False), 0, None), atol=1e-10)
    cosine = correlation_map(torch.from_numpy(a), "cosine").numpy()
    np.testing.assert_allclose(cosine, np.clip(1 - cdist(a.T, a.T, "cosine"), 0, None), atol=1e-10)


def _model(**params) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 6), nn.Sigmoid(), LocalInhibition(**params),
                         nn.Linear(6, 5), nn.Sigmoid(), LocalInhibition(**params), nn.Linear(5, 3))


def _context(model: nn.Module, seed: int = 0) -> StepContext:
    images = torch.randint(0, 256, (40, 1, 4, 4), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    split = Split(images, torch.zeros(40, dtype=torch.long))
    return StepContext(model, 0, 0, split, torch.Generator().manual_seed(seed))


def _step(model: nn.Module, context: StepContext) -> None:
    for hook in training_hooks(model):
        hook.after_optimizer_step(context)


@pytest.mark.parametrize("kind", sorted(CORRELATIONS))
def test_paper_calibration_recomputes_every_layer_once_from_uninhibited_activations(kind):
    model = _model(correlation=kind, p_update=1.0, p_eye=0.0, calibration_batch=32)
    model(torch.rand(2, 1, 4, 4))  # sizes the lazy maps
    assert torch.equal(model[3].correlation_map, torch.eye(6))  # C = I before the first calibration
    context = _context(model)
    replay = torch.Generator().set_state(context.generator.get_state())
    calls = []
    model[1].register_forward_hook(lambda *args: calls.append(1))
    _step(model, context)
    assert len(calls) == 1  # one calibration pass for both LI layers
    torch.rand(2, generator=replay)
    images = StepContext(model, 0, 0, context.train, replay).sample_images(32)
    with torch.no_grad():
        first = torch.sigmoid(model[1](images.flatten(1)))
        second = torch.sigmoid(model[4](first))  # no inhibition in the first layer either
    assert torch.allclose(model[3].correlation_map, correlation_map(first.double(), kind).float(), atol=1e-6)
    assert torch.allclose(model[6].correlation_map, correlation_map(second.double(), kind).float(), atol=1e-6)
    assert model.training


def test_flashing_identity_is_for_training_forwards_only_and_ends_at_the_next_calibration():
    """A flash makes training forwards uninhibited (ι(z, I) = z) until the next refresh; eval mode keeps
    inhibiting with the last calibrated map, which the layer still holds."""
    model = _model(p_update=1.0, p_eye=1.0)
    model(torch.rand(2, 1, 4, 4))
    model[3].correlation_map.fill_(0.5)
    _step(model, _context(model))
    layer, z = model[3], torch.rand(5, 6)
    assert layer.flashing and model[6].flashing and torch.equal(layer.correlation_map, torch.full((6, 6), 0.5))
    assert torch.equal(layer.train()(z), z)
    assert torch.allclose(layer.eval()(z), z.square() / (z @ torch.full((6, 6), 0.5)))
    model.train()
    layer.p_eye = 0.0
    _step(model, _context(model))
    assert not layer.flashing and not torch.equal(layer.correlation_map, torch.full((6, 6), 0.5))
    assert torch.allclose(layer(z), weighted_inhibition(z, layer.correlation_map))


def test_skipped_updates_keep_the_map():
    model = _model(p_update=0.0)
    model(torch.rand(2, 1, 4, 4))
    _step(model, _context(model))
    assert torch.equal(model[3].correlation_map, torch.eye(6))


def test_update_frequency_matches_p_update_and_is_reproducible():
    def refreshes(seed: int) -> list[bool]:
        model = _model(p_update=0.3, p_eye=0.0, calibration_batch=8)
        model(torch.rand(2, 1, 4, 4))
        context, seen = _context(model, seed), []
        for _ in range(200):
            model[3].correlation_map.copy_(torch.eye(6))
            _step(model, context)
            seen.append(not torch.equal(model[3].correlation_map, torch.eye(6)))
        return seen

    first = refreshes(3)
    assert first == refreshes(3)
    assert 0.2 < np.mean(first) < 0.4


def test_online_statistics_are_running_averages_of_training_batches():
    layer = LocalInhibition(calibration="online", momentum=0.25, p_update=1.0, p_eye=0.0)
    model = nn.Sequential(layer)
    a, b = torch.rand(8, 4), torch.rand(8, 4)
    layer(a)
    layer(b)
    mean = torch.lerp(a.double().mean(0), b.double().mean(0), 0.25)
    outer = torch.lerp(a.double().T @ a.double() / 8, b.double().T @ b.double() / 8, 0.25)
    assert torch.allclose(layer.running_mean, mean) and torch.allclose(layer.running_outer, outer)
    _step(model, _context(model))
    assert torch.allclose(layer.correlation_map.double(), CORRELATIONS["cmap"](mean, outer), atol=1e-6)
    layer.eval()
    layer(torch.rand(8, 4))
    assert int(layer.num_batches_tracked) == 2  # eval mode does not update the statistics


def test_eval_mode_keeps_inhibition_on():
    layer = LocalInhibition()
    z = torch.rand(3, 4)
    layer(z)
    layer.correlation_map.fill_(1.0)
    layer.eval()
    assert torch.allclose(layer(z), proportional_inhibition(z))


def test_groups_inhibit_separately():
    layer = LocalInhibition(calibration="online", groups=[3, 2], p_update=1.0, p_eye=0.0)
    z = torch.rand(64, 5)
    layer(z)
    _step(nn.Sequential(layer), _context(nn.Sequential(layer)))
    c = layer.correlation_map
    assert torch.equal(c[:3, 3:], torch.zeros(3, 2)) and torch.equal(c[3:, :3], torch.zeros(2, 3))
    separate = torch.cat([weighted_inhibition(z[:, :3], c[:3, :3]), weighted_inhibition(z[:, 3:], c[3:, 3:])], 1)
    layer.eval()
    assert torch.allclose(layer(z), separate)
    with pytest.raises(LicliError, match="sum to 6 but the layer has 5 units"):
        LocalInhibition(groups=[3, 3])(z)


def test_conv_activations_are_inhibited_across_channels_per_pixel():
    layer = LocalInhibition()
    x = torch.rand(2, 3, 4, 5)
    layer(x)
    c = torch.rand(3, 3)
    layer.correlation_map.copy_(c)
    out = layer(x)
    assert torch.allclose(out[1, :, 2, 3], weighted_inhibition(x[1, :, 2, 3].view(1, 3), c).view(3))


@pytest.mark.parametrize("params", [{"correlation": "mutual-information"}, {"calibration": "sometimes"},
                                    {"p_update": 1.5}, {"calibration_batch": 0}, {"groups": [0, 3]},
                                    {"momentum": 0.0}])
def test_bad_parameters_are_one_line_errors(params):
    with pytest.raises(LicliError):
        LocalInhibition(**params)


def test_mixed_calibrations_switch_off_every_layer_during_the_calibration_pass():
    torch.manual_seed(0)
    online = LocalInhibition(calibration="online", p_update=1.0, p_eye=0.0, calibration_batch=16)  # coordinates
    paper = LocalInhibition(calibration="paper", calibration_batch=16)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 6), nn.Sigmoid(), online, nn.Linear(6, 5), nn.Sigmoid(), paper)
    model(torch.rand(4, 1, 4, 4))
    online.correlation_map.fill_(1.0)  # would change the second layer's input if it inhibited
    context = _context(model)
    replay = torch.Generator().set_state(context.generator.get_state())
    _step(model, context)
    torch.rand(2, generator=replay)
    images = StepContext(model, 0, 0, context.train, replay).sample_images(16)
    with torch.no_grad():
        second = torch.sigmoid(model[4](torch.sigmoid(model[1](images.flatten(1)))))
    assert torch.allclose(paper.correlation_map, correlation_map(second.double()).float(), atol=1e-6)
    expected = CORRELATIONS["cmap"](online.running_mean, online.running_outer)
    assert torch.allclose(online.correlation_map.double(), expected)


def test_then_whole_inhibits_each_group_then_the_whole_with_one_calibration():
    """Fig. 4.5's second reading: ι(ι(z, C ⊙ blocks), C), both maps from the same uninhibited calibration batch
    (checked against the correlation map computed directly from the activations)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 6), nn.Sigmoid(),
                          LocalInhibition(groups=[4, 2], then_whole=True, p_update=1.0, p_eye=0.0, calibration_batch=40))
    model(torch.rand(2, 1, 4, 4))
    context = _context(model)
    replay = torch.Generator().set_state(context.generator.get_state())
    _step(model, context)
    torch.rand(2, generator=replay)
    images = StepContext(model, 0, 0, context.train, replay).sample_images(40)
    with torch.no_grad():
        z = torch.sigmoid(model[1](images.flatten(1)))
    full = correlation_map(z.double()).float()
    blocks = torch.block_diag(torch.ones(4, 4), torch.ones(2, 2))
    layer = model[3]
    assert torch.allclose(layer.whole_map, full, atol=1e-6)
    assert torch.allclose(layer.correlation_map, full * blocks, atol=1e-6)
    expected = weighted_inhibition(weighted_inhibition(z, full * blocks), full)
    assert torch.allclose(layer.eval()(z), expected, atol=1e-6)


def test_then_whole_needs_groups():
    with pytest.raises(LicliError, match="then_whole"):
        LocalInhibition(then_whole=True)


def test_identity_maps_scores_without_inhibition_and_keeps_the_calibrated_maps():
    from licli.mechanisms.inhibition import identity_maps

    model = _model()
    model(torch.rand(2, 1, 4, 4))
    model[3].correlation_map.fill_(0.5)
    model.eval()
    x = torch.rand(3, 1, 4, 4)
    with identity_maps(model) as layers, torch.no_grad():
        plain = model[7](model[5](model[4](model[2](model[1](x.flatten(1))))))  # the same net with C = I
        assert layers == 2 and torch.allclose(model(x), plain)
    assert torch.equal(model[3].correlation_map, torch.full((6, 6), 0.5))
    assert not torch.allclose(model(x), plain)


class _LayerCalibration:
    """The calibration as the LI layer ran it before it moved into ``InhibitionCalibration`` (a verbatim copy of
    ``LocalInhibition.after_optimizer_step``, called from the first LI layer's place in ``model.modules()``)."""

    def __init__(self, layer: LocalInhibition) -> None:
        self.layer = layer

    def after_optimizer_step(self, context: StepContext) -> None:
        from licli.mechanisms.inhibition import calibration_moments

        self = self.layer
        layers = [m for m in context.model.modules() if isinstance(m, LocalInhibition)]
        if layers[0] is not self or any(layer.has_uninitialized_params() for layer in layers):
            return
        update, identity = (torch.rand(2, generator=context.generator)
                            < torch.tensor([self.p_update, self.p_eye])).tolist()
        if not update:
            return
        if identity:
            for layer in layers:
                layer.set_map(None, None)
            return
        if any(layer.calibration == "paper" for layer in layers):
            moments = calibration_moments(context.model, layers, context.sample_images(self.calibration_batch))
        for index, layer in enumerate(layers):
            if layer.calibration == "paper":
                layer.set_map(*moments[index].means())
            else:
                layer.set_map(layer.running_mean, layer.running_outer)


@pytest.mark.parametrize("params", [{"p_update": 0.5, "p_eye": 0.3, "calibration_batch": 16},
                                    {"calibration": "online", "p_update": 0.5, "p_eye": 0.3}])
def test_calibration_hook_trains_bit_identically_to_the_layer_hook(params, monkeypatch):
    """Training with the model-wide hook gives the weights, maps and history of the former per-layer hook."""
    from tests.conftest import tiny_dataset

    import licli.training.loop

    data = tiny_dataset(n_train=96, n_test=16, size=4)
    config = TrainConfig(model="mlp", dataset="mnist-mini", epochs=2, batch_size=8, lr=0.1, seed=3)
    runs = []
    for hooks in (training_hooks, lambda model: [_LayerCalibration(model[3])]):
        monkeypatch.setattr(licli.training.loop, "training_hooks", hooks)
        model = _model(**params)
        history = train(model, data, config, device=torch.device("cpu"))
        runs.append((model.state_dict(), history.drop(columns=["seconds", "images_per_second"])))
    (new, new_history), (old, old_history) = runs
    assert new.keys() == old.keys() and all(torch.equal(new[key], old[key]) for key in new)
    assert new_history.equals(old_history)
    assert not torch.equal(new["3.correlation_map"], torch.eye(6))  # calibration did run
