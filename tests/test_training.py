import torch

from licli.config import TrainConfig
from licli.models import build_model
from licli.training import fit, model_spec_for, train


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
