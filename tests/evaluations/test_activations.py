"""Activation statistics at slots equal the same statistics computed on the captured tensors."""

import pytest
import torch

from tests.conftest import tiny_dataset
from licli.errors import LicliError
from licli.evaluations import activations
from licli.models import ModelSpec, build_model

DATA = tiny_dataset(n_test=30, size=8)


@pytest.mark.parametrize("name", ["mlp", "small-cnn"])
def test_statistics_match_direct_computation(name):
    torch.manual_seed(0)
    model = build_model(ModelSpec(name, 3, 1, (8, 8), {"hidden": 16})).eval()
    captured = {}
    handles = [slot.register_forward_hook(lambda m, i, o, key=key: captured.setdefault(key, []).append(o))
               for key, slot in activations.model_slots(model).items()]
    frame = activations.run(model, DATA, device=torch.device("cpu"),
                            config=activations.ActivationConfig(n=30, batch_size=7)).set_index("slot")
    for handle in handles:
        handle.remove()
    for slot, outputs in captured.items():
        x = torch.cat(outputs).double()
        row = frame.loc[slot]
        assert row["mean"] == pytest.approx(x.mean().item(), rel=1e-9)
        assert row["max"] == pytest.approx(x.max().item())
        assert row["variance"] == pytest.approx(x.var(unbiased=False).item(), rel=1e-6)
        assert row["sparsity"] == pytest.approx((x == 0).double().mean().item())
        assert row["elements"] == x.numel()
    assert 0 < frame["sparsity"].min() < 1


def test_model_without_slots_is_refused():
    with pytest.raises(LicliError, match="no slots"):
        activations.run(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3)), DATA,
                        device=torch.device("cpu"))
