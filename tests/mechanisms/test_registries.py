"""Every MECHANISMS and REGULARIZERS entry trains, and a checkpoint with mechanisms rebuilds exactly."""

import json

import pytest
import torch

from licli.checkpoints import load_checkpoint, save_checkpoint
from licli.cli import app
from licli.training.config import TrainConfig
from licli.mechanisms import MECHANISMS
from licli.objectives import REGULARIZERS
from licli.models import build_model
from licli.training.loop import evaluate, fit, model_spec_for, train

# Where each mechanism goes in the test model and with which parameters (default: "hidden", {}).
PLACEMENT = {
    "gradient-mask": ("conv", {"sigma": 1.0, "kernel_size": 5}),
    "local-inhibition": ("hidden", {"p_update": 0.5, "calibration_batch": 32}),
}
MODEL_OPTIONS = {"filters": 16, "hidden": 24, "activation": "sigmoid"}


def _config(**overrides) -> TrainConfig:
    settings = dict(model="small-cnn", dataset="mnist-mini", epochs=2, batch_size=16, lr=0.05,
                    model_options=MODEL_OPTIONS)
    return TrainConfig(**(settings | overrides))


@pytest.mark.parametrize("name", sorted(MECHANISMS))
def test_mechanism_trains_and_its_checkpoint_rebuilds_exactly(name, tiny_data, tmp_path):
    slot, params = PLACEMENT.get(name, ("hidden", {}))
    config = _config(mechanisms={slot: {"name": name, "params": params}})
    device = torch.device("cpu")
    model, spec, history = fit(config, tiny_data, device=device)
    assert history["train_loss"].notna().all()
    save_checkpoint(tmp_path / "model.safetensors", model, spec)
    loaded, checkpoint = load_checkpoint(tmp_path / "model.safetensors")
    assert checkpoint.meta["model"]["mechanisms"] == {slot: {"name": name, "params": params}}
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    x = tiny_data.test.images.float() / 255
    assert torch.equal(loaded(x), model.eval()(x))
    assert evaluate(loaded, tiny_data.test, device=device) == evaluate(model, tiny_data.test, device=device)


def test_local_inhibition_online_checkpoint_keeps_running_statistics(tiny_data, tmp_path):
    config = _config(mechanisms={"hidden": {"name": "local-inhibition",
                                            "params": {"calibration": "online", "p_update": 1.0, "p_eye": 0.0}}})
    model, spec, _ = fit(config, tiny_data, device=torch.device("cpu"))
    layer = model[7].mechanism
    assert int(layer.num_batches_tracked) == 8 and not torch.equal(layer.correlation_map, torch.eye(24))
    save_checkpoint(tmp_path / "m", model, spec)
    loaded = load_checkpoint(tmp_path / "m")[0][7].mechanism
    for buffer in ("correlation_map", "running_mean", "running_outer", "num_batches_tracked"):
        assert torch.equal(getattr(loaded, buffer), getattr(layer, buffer))


@pytest.mark.parametrize("name", ["normout", "dropout", "activation-statistics", "local-inhibition"])
def test_statistics_land_in_the_history_with_the_slot_prefix(name, tiny_data):
    config = _config(epochs=1, mechanisms={"hidden": {"name": name, "params": PLACEMENT.get(name, ("", {}))[1]}})
    history = fit(config, tiny_data, device=torch.device("cpu"))[2]
    for stat in ("mean", "max", "std", "variance", "sparsity"):
        assert f"hidden.activation_{stat}" in history.columns


def test_training_with_local_inhibition_is_reproducible(tiny_data):
    config = _config(mechanisms={"hidden": {"name": "local-inhibition", "params": PLACEMENT["local-inhibition"][1]}})
    runs = [fit(config, tiny_data, device=torch.device("cpu")) for _ in range(2)]
    assert torch.equal(runs[0][0][7].mechanism.correlation_map, runs[1][0][7].mechanism.correlation_map)
    columns = ["train_loss", "test_accuracy", "hidden.activation_mean"]
    assert runs[0][2][columns].equals(runs[1][2][columns])


@pytest.mark.parametrize("calibration", ["paper", "online"])
def test_resume_with_local_inhibition_equals_an_uninterrupted_run(calibration, tiny_data, tmp_path):
    config = _config(epochs=3, mechanisms={"hidden": {"name": "local-inhibition", "params": {
        "calibration": calibration, "p_update": 0.5, "calibration_batch": 32}}})
    device = torch.device("cpu")
    full_model, _, full = fit(config, tiny_data, device=device)
    torch.manual_seed(config.seed)
    model = build_model(model_spec_for(config, tiny_data))
    train(model, tiny_data, config, device=device, state_dir=tmp_path, stop_after_epoch=1)
    torch.manual_seed(config.seed)
    resumed_model = build_model(model_spec_for(config, tiny_data))
    resumed = train(resumed_model, tiny_data, config, device=device, state_dir=tmp_path, resume=True)
    timing = ["seconds", "images_per_second"]
    assert resumed.drop(columns=timing).equals(full.drop(columns=timing))
    for key, value in full_model.state_dict().items():
        assert torch.equal(resumed_model.state_dict()[key], value), key


@pytest.mark.parametrize("name", sorted(REGULARIZERS))
def test_regularizer_trains(name, tiny_data):
    history = fit(_config(epochs=1, regularizer=name), tiny_data, device=torch.device("cpu"))[2]
    assert history["train_loss"].notna().all()


def test_glob_slot_fills_every_matching_slot(tiny_data):
    model = fit(_config(epochs=1, model="mlp", model_options={"hidden": 8, "depth": 3},
                        mechanisms={"hidden[12]": {"name": "dropout", "params": {"p": 0.1}}}),
                tiny_data, device=torch.device("cpu"))[0]
    kinds = {m.slot_name: type(m.mechanism).__name__ for m in model.modules() if hasattr(m, "mechanism")}
    assert kinds == {"hidden1": "Dropout", "hidden2": "Dropout", "hidden3": "Identity"}


def test_cli_records_mechanisms_and_regularizer_in_the_checkpoint(runner, tmp_path):
    result = runner.invoke(app, ["train", "--model", "mlp", "--model-options", '{"hidden": 16}', "--epochs", "1",
                                 "--mechanism", "hidden1=normout", "--mechanism", "hidden2=dropout",
                                 "--mechanism-params", 'hidden1={"variant": "temporal-exp", "temperature": 50}',
                                 "--regularizer", "vrex", "--regularizer-params", '{"environments": 3}',
                                 "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "train").iterdir())
    meta = json.loads((run / "model.json").read_text())
    assert meta["model"]["mechanisms"] == {"hidden1": {"name": "normout",
                                                       "params": {"variant": "temporal-exp", "temperature": 50}},
                                           "hidden2": {"name": "dropout", "params": {}}}
    assert meta["config"]["regularizer"] == "vrex" and meta["config"]["regularizer_params"] == {"environments": 3}
    assert "hidden1.activation_sparsity" in (run / "metrics.csv").read_text()


def test_mechanisms_and_regularizer_from_a_toml_config(runner, tmp_path):
    config = tmp_path / "train.toml"
    config.write_text('model = "mlp"\nepochs = 1\nregularizer = "mma"\n[model_options]\nhidden = 16\n'
                      '[mechanisms.hidden1]\nname = "dropout"\nparams = { p = 0.2 }\n')
    result = runner.invoke(app, ["train", "--config", str(config), "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    meta = json.loads(next((tmp_path / "r" / "train").iterdir()).joinpath("model.json").read_text())
    assert meta["model"]["mechanisms"] == {"hidden1": {"name": "dropout", "params": {"p": 0.2}}}
    assert meta["config"]["regularizer"] == "mma"


BAD = [
    (["--mechanism", "hidden1"], "is not SLOT=NAME"),
    (["--mechanism", "nowhere=normout"], "no slot 'nowhere'"),
    (["--mechanism", "hidden1=magic"], "unknown mechanism 'magic'"),
    (["--mechanism", "hidden1=normout", "--mechanism-params", '{"variant": "x"}'], "unknown NormOut variant"),
    (["--mechanism", "hidden1=normout", "--mechanism-params", '{"tau": 1}'], "bad parameters for mechanism"),
    (["--mechanism", "hidden1=normout", "--mechanism-params", "{oops"], "not valid JSON"),
    (["--mechanism-params", '{"p": 0.5}'], "without --mechanism"),
    (["--regularizer", "weight-decay"], "'weight-decay' is not one of"),
    (["--regularizer", "irm", "--regularizer-params", '{"environments": 0}'], "environments must be"),
]


@pytest.mark.parametrize("argv,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_mechanism_flags_are_one_line_errors(runner, tmp_path, argv, message):
    result = runner.invoke(app, ["train", "--model", "mlp", "--epochs", "1", *argv, "--out", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not list((tmp_path / "r").glob("train/*"))  # no run folder left behind
