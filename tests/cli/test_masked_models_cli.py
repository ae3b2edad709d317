"""``licli attack --model-def … --masking-check --fail-on-masking`` on deliberately masked models (issue 14):
each masked model exits 1, naming the checks that caught it; the same weights in the plain model exit 0.

The models (tests/models/assets/masked_nets.py) share one trained state dict, so their decisions are
the plain model's and only what the attacks see of the gradients differs. Settings are reduced (100
images, PGD-10, 200 Square queries, ε = 0.1) but every check runs. The FAIL sets are those measured at
these settings (a test asks for at least these); each is also explained by the model (e.g. a step function has exactly zero gradients).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from licli.cli import app
from licli.training.config import TrainConfig
from licli.data import load_dataset
from licli.training.loop import train
from tests.cli.test_foreign_cli import import_file

ASSET = Path(__file__).parents[1] / "models" / "assets" / "masked_nets.py"
SETTINGS = ["--input-size", "1x28x28", "--dataset", "mnist-mini", "--attacks", "fgsm,pgd", "--eps", "0.1",
            "--step-size", "0.025", "--steps", "10", "--n", "100", "--n-queries", "200", "--device", "cpu",
            "--masking-check", "--fail-on-masking"]
MASKED = {
    # zero input gradients: PGD cannot move (3), Square can (2), AutoAttack's zero-gradient flag (7)
    "QuantisedInput": {"black-box-beats-white-box", "unbounded-attack-incomplete", "shattered-gradients",
                       "autoattack-flags"},
    # a new draw each forward: finite differences disagree with autograd (6), AutoAttack's randomness flag (7)
    "NoisyForward": {"shattered-gradients", "autoattack-flags"},
    # the gradient points away: white-box attacks fail where Square does not (2, 3), cosine −1 (6)
    "ShatteredGradient": {"black-box-beats-white-box", "unbounded-attack-incomplete", "shattered-gradients"},
    # a saturated softmax output: exactly zero gradients on confident images (3, 6, 7)
    "SaturatedSoftmax": {"unbounded-attack-incomplete", "shattered-gradients", "autoattack-flags"},
}


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    """A TinyNet (16 hidden units) trained one epoch on 1,000 mnist-mini images (≈ 70% test accuracy)."""
    data = load_dataset("mnist-mini")
    data = replace(data, train=data.train.subset(torch.arange(1000)))
    torch.manual_seed(0)
    net = import_file(ASSET, "TinyNet")()
    train(net, data, TrainConfig(model="mlp", epochs=1, batch_size=32), device=torch.device("cpu"))
    path = tmp_path_factory.mktemp("masked") / "tiny.safetensors"
    save_file(net.state_dict(), str(path))
    return path


def _attack(runner, tmp_path, weights, name):
    result = runner.invoke(app, ["attack", "--model-def", f"{ASSET}:{name}", "--weights", str(weights), *SETTINGS,
                                 "--out", str(tmp_path / "reports")])
    folders = sorted((tmp_path / "reports" / "attack").glob("*")) if (tmp_path / "reports").exists() else []
    masking = pd.read_csv(folders[-1] / "masking.csv") if folders else None
    return result, masking


def test_the_plain_model_exits_0_with_every_check_passing(runner, tmp_path, weights):
    result, masking = _attack(runner, tmp_path, weights, "TinyNet")
    assert result.exit_code == 0, result.output
    assert len(masking) == 8 and (masking["verdict"] == "PASS").all(), masking.to_string()


@pytest.mark.parametrize("name", sorted(MASKED))
def test_each_masked_model_exits_1_naming_the_checks(runner, tmp_path, weights, name):
    result, masking = _attack(runner, tmp_path, weights, name)
    failed = set(masking.loc[masking["verdict"] == "FAIL", "check"])
    assert MASKED[name] <= failed, masking[["check", "verdict", "evidence"]].to_string()
    assert result.exit_code == 1
    line, = result.stderr.strip().splitlines()
    assert all(f"tiny:{check}" in line for check in failed)
    assert "degenerate-model" not in failed  # the same decisions as the plain model: masked, not collapsed


def test_the_step_function_gradient_is_exactly_zero(weights):
    """Check 7's evidence for QuantisedInput, independently: autograd gives a zero input gradient on every image."""
    from safetensors.torch import load_file

    model = import_file(ASSET, "QuantisedInput")()
    model.load_state_dict(load_file(str(weights)))
    x = (load_dataset("mnist-mini").test.images[:100].float() / 255).requires_grad_(True)
    gradient, = torch.autograd.grad(model(x).logsumexp(1).sum(), x)
    assert (gradient == 0).all()


def test_a_softmax_output_is_refused_before_any_attack(runner, tmp_path, weights):
    """Plain probabilities never reach the masking checks: loading refuses them (exit 2, nothing written)."""
    result, masking = _attack(runner, tmp_path, weights, "SoftmaxOutput")
    assert result.exit_code == 2 and "returns probabilities" in result.stderr and masking is None
