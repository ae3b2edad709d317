import pytest
import torch

from licli.training.config import TrainConfig
from licli.models import build_model
from licli.training.loop import fit, model_spec_for, train
from licli.training.optimizers import OPTIMIZERS, fusable


def test_resume_equals_uninterrupted_run(tiny_data, tmp_path):
    config = TrainConfig(model="mlp", dataset="mnist-mini", epochs=3, batch_size=16, lr=0.05,
                         model_options={"hidden": 16})
    device = torch.device("cpu")
    full_model, _, full = fit(config, tiny_data, device=device)

    torch.manual_seed(config.seed)
    model = build_model(model_spec_for(config, tiny_data))
    train(model, tiny_data, config, device=device, state_dir=tmp_path, stop_after_epoch=1)
    torch.manual_seed(1234)  # disturb the global RNG: resume must restore it
    resumed_model = build_model(model_spec_for(config, tiny_data))
    resumed = train(resumed_model, tiny_data, config, device=device, state_dir=tmp_path, resume=True)

    assert resumed.drop(columns=["seconds", "images_per_second"]).equals(
        full.drop(columns=["seconds", "images_per_second"]))
    for a, b in zip(full_model.state_dict().values(), resumed_model.state_dict().values()):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_registered_optimizers_take_the_same_steps_as_torchs_default_loop(name):
    """licli builds fused optimizers where torch offers them; the parameters after three steps equal those
    of torch's default (for-each) implementation with the same settings."""
    config = TrainConfig(optimizer=name, lr=0.01, momentum=0.9, weight_decay=1e-3)
    reference_class = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD}[name]
    reference_settings = {"adam": {}, "sgd": {"momentum": 0.9}}[name]
    torch.manual_seed(0)
    ours, theirs = torch.nn.Linear(30, 7), torch.nn.Linear(30, 7)
    theirs.load_state_dict(ours.state_dict())
    optimizer = OPTIMIZERS[name](list(ours.parameters()), config)
    reference = reference_class(theirs.parameters(), lr=0.01, weight_decay=1e-3, foreach=True, **reference_settings)
    assert fusable(list(ours.parameters())) and optimizer.defaults.get("fused") is True
    for step in range(3):
        x = torch.randn(16, 30, generator=torch.Generator().manual_seed(step))
        for model, opt in ((ours, optimizer), (theirs, reference)):
            opt.zero_grad()
            model(x).square().mean().backward()
            opt.step()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
