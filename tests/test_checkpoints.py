import json

import pytest
import torch

from licli.checkpoints import load_checkpoint, save_checkpoint
from licli.errors import LicliError
from licli.models import ModelSpec, build_model

SPEC = ModelSpec("mlp", num_classes=3, in_channels=1, image_size=(8, 8), options={"hidden": 16})


def test_round_trip_is_exact(tmp_path):
    model = build_model(SPEC)
    save_checkpoint(tmp_path / "m.safetensors", model, SPEC)
    loaded, checkpoint = load_checkpoint(tmp_path / "m.safetensors")
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    assert checkpoint.spec == SPEC
    x = torch.rand(4, 1, 8, 8)
    assert torch.equal(model.eval()(x), loaded(x))


def test_truncated_weights_are_refused(tmp_path):
    save_checkpoint(tmp_path / "m", build_model(SPEC), SPEC)
    weights = tmp_path / "m.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(LicliError, match="corrupt, truncated or replaced"):
        load_checkpoint(weights)


def test_other_architecture_names_the_tensors(tmp_path):
    save_checkpoint(tmp_path / "m", build_model(SPEC), SPEC)
    meta = json.loads((tmp_path / "m.json").read_text())
    meta["model"]["options"]["hidden"] = 32
    (tmp_path / "m.json").write_text(json.dumps(meta))
    with pytest.raises(LicliError, match=r"mis-shaped .*2\.weight"):
        load_checkpoint(tmp_path / "m.safetensors")
