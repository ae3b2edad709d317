"""Configuration precedence: defaults < TOML file < LICLI_* environment < flags."""

import pytest

from licli.config import load_toml, resolve
from licli.training.config import TrainConfig
from licli.errors import LicliError


def test_precedence(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('epochs = 5\nlr = 0.2\nbatch_size = 64\nmodel = "mlp"\n')
    file = load_toml(path)
    env = {"LICLI_LR": "0.3", "LICLI_BATCH_SIZE": "32"}
    config = resolve(TrainConfig, file=file, env=env, flags={"batch_size": 16, "epochs": None})
    assert config.model == "mlp"            # TOML over default
    assert config.epochs == 5               # TOML (flag None = not given)
    assert config.lr == 0.3                 # environment over TOML
    assert config.batch_size == 16          # flag over environment
    assert config.momentum == TrainConfig().momentum  # default
    assert resolve(TrainConfig, env={}) == TrainConfig()


@pytest.mark.parametrize("file,env,message", [
    ({"epochs": 1, "nope": 2}, {}, "unknown key(s) in config file: nope"),
    ({}, {"LICLI_EPOCHS": "three"}, "LICLI_EPOCHS='three'"),
    ({"lr": -1.0}, {}, "lr must be > 0"),
])
def test_bad_settings_are_refused(file, env, message):
    with pytest.raises(LicliError) as error:
        resolve(TrainConfig, file=file, env=env)
    assert message in str(error.value)


def test_invalid_toml_is_refused(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text("epochs = = 1")
    with pytest.raises(LicliError, match="not valid TOML"):
        load_toml(path)


@pytest.mark.parametrize("file,message", [
    ({"mechanisms": {"hidden1": {"name": "normout", "params": {"temperature": "5"}}}},
     "mechanisms.hidden1.params.temperature is the string '5', not a number; write temperature = 5 without quotes"),
    ({"model_options": {"hidden": "12"}}, "model_options.hidden is the string '12', not a number"),
    ({"regularizer": "spectral-decoupling", "regularizer_params": {"weight": " 1e-3"}},
     "regularizer_params.weight is the string ' 1e-3', not a number"),
])
def test_quoted_numbers_in_parameter_tables_are_refused(file, message):
    with pytest.raises(LicliError) as error:
        resolve(TrainConfig, file=file, env={})
    assert message in str(error.value)
    text = {"calibration": "online", "activation": "sigmoid", "layers": ["1x1"]}
    resolve(TrainConfig, file={"model_options": text}, env={})  # text that is not a number stays text
