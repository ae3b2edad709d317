"""``--config FILE.toml`` on every command (licli.cli.options): flag > file > default, one-line errors (exit 2),
and library errors that name a config field, shown as its flag on the command line."""

import json

import pytest
import typer

from licli.cli import app
from licli.cli.lazy import COMMANDS
from licli.errors import LicliError
from licli.evaluations.robustness import AttackSettings

def _manifest(root):
    (command,) = root.iterdir()
    (folder,) = command.iterdir()
    return json.loads((folder / "manifest.json").read_text())


def test_every_command_takes_config():
    root = typer.main.get_command(app)
    for group, commands in COMMANDS.items():
        parent = root.commands[group] if group else root
        for name in commands:
            options = {opt for param in parent.commands[name].params for opt in getattr(param, "opts", [])}
            assert "--config" in options, f"licli {group} {name}".replace("  ", " ")


def test_flag_over_file_over_default(runner, tmp_path, checkpoint):
    config = tmp_path / "accuracy.toml"
    config.write_text(f'checkpoint = ["{checkpoint}"]\nsplit = "train"\nbatch_size = 7\nname = "from-file"\n'
                      f'device = "cpu"\nout = "{tmp_path / "a"}"\n')
    result = runner.invoke(app, ["evaluate", "accuracy", "--config", str(config), "--batch-size", "9"])
    assert result.exit_code == 0, result.output
    manifest = _manifest(tmp_path / "a")
    assert manifest["config"]["split"] == "train"           # file over default (test)
    assert manifest["config"]["batch_size"] == 9            # flag over file
    assert manifest["run_options"]["name"] == "from-file"   # run options come from the file too
    plain = runner.invoke(app, ["evaluate", "accuracy", "-c", str(checkpoint), "--device", "cpu",
                                "--out", str(tmp_path / "b")])
    assert plain.exit_code == 0, plain.output
    assert _manifest(tmp_path / "b")["config"]["split"] == "test"  # the default without a file


def test_run_options_in_a_file_yield_to_the_environment(runner, tmp_path, checkpoint, monkeypatch):
    """As for train's settings: defaults < file < LICLI_* < flags."""
    config = tmp_path / "c.toml"
    config.write_text(f'checkpoint = ["{checkpoint}"]\nout = "{tmp_path / "file"}"\ndevice = "cpu"\n')
    monkeypatch.setenv("LICLI_OUT", str(tmp_path / "env"))
    result = runner.invoke(app, ["evaluate", "accuracy", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env").is_dir() and not (tmp_path / "file").exists()


def test_attack_reads_its_settings_from_the_file(runner, tmp_path, checkpoint):
    config = tmp_path / "attack.toml"
    config.write_text(f'checkpoint = ["{checkpoint}"]\nattacks = ["fgsm"]\neps = "2/255"\nn = 4\n'
                      f'device = "cpu"\nout = "{tmp_path / "r"}"\n')
    result = runner.invoke(app, ["attack", "--config", str(config), "--n", "3"])
    assert result.exit_code == 0, result.output
    manifest = _manifest(tmp_path / "r")
    assert manifest["config"]["settings"]["attacks"] == ["fgsm"]
    assert manifest["config"]["settings"]["eps"] == pytest.approx(2 / 255)
    assert manifest["config"]["n"] == 3


@pytest.mark.parametrize("command", [["attack"], ["evaluate", "prune"], ["verdict"], ["report"],
                                     ["sweep", "plan"], ["evaluate", "gsnr"]])
def test_unknown_key_is_one_line(runner, tmp_path, command):
    config = tmp_path / "c.toml"
    config.write_text("epz = 1\n")
    result = runner.invoke(app, [*command, "--config", str(config)])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "unknown key 'epz'" in result.stderr
    assert "long option names" in result.stderr


@pytest.mark.parametrize("command,body,message", [
    (["attack"], 'steps = "5"', "steps in {path} must be an integer (got the string '5'); write steps = 5 without quotes"),
    (["evaluate", "prune"], 'batch_size = "128"', "batch_size in {path} must be an integer (got the string '128')"),
    (["evaluate", "hessian-trace"], 'samples = "3"', "samples in {path} must be an integer"),
    (["attack"], "steps = true", "steps in {path} must be an integer (got True)"),
    (["attack"], "masking_check = 1", "masking_check in {path} must be true or false"),
    (["attack"], "steps = 2.5", "steps = 2.5 in {path} is not valid"),
    (["train"], 'lr = "0.05"', "lr in the config file must be a number (got str '0.05'); write lr as a number"),
    (["train"], 'track_every = "5"', "track_every in {path} must be an integer (got the string '5')"),
])
def test_wrong_types_are_one_line(runner, tmp_path, command, body, message):
    config = tmp_path / "c.toml"
    config.write_text(body + "\n")
    result = runner.invoke(app, [*command, "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1 and message.format(path=config) in result.stderr


def test_train_keeps_its_file_format_and_takes_other_options(runner, tmp_path):
    config = tmp_path / "train.toml"
    config.write_text('model = "mlp"\nepochs = 1\nbatch_size = 1000\nmodel_options = { hidden = 8 }\n'
                      f'device = "cpu"\nout = "{tmp_path / "r"}"\nname = "filed"\ntrack_every = 7\n'
                      '[mechanisms.hidden1]\nname = "normout"\n')
    result = runner.invoke(app, ["train", "--config", str(config), "--dataset", "mnist-mini"])
    assert result.exit_code == 0, result.output
    manifest = _manifest(tmp_path / "r")
    assert manifest["config"]["model_options"] == {"hidden": 8}
    assert manifest["config"]["mechanisms"] == {"hidden1": {"name": "normout"}}
    assert manifest["run_options"]["name"] == "filed" and manifest["tracking"]["every"] == 7


def test_library_errors_name_fields_and_the_cli_names_flags(runner, tmp_path, checkpoint):
    with pytest.raises(LicliError) as error:
        AttackSettings(eot_samples=-1)
    assert error.value.field == "eot_samples" and "eot_samples must be ≥ 0" in str(error.value)
    assert "--" not in str(error.value)
    result = runner.invoke(app, ["attack", "-c", str(checkpoint), "--eot", "-1", "--device", "cpu",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--eot must be ≥ 0 (got -1); pass --eot 0" in result.stderr, result.stderr
    result = runner.invoke(app, ["attack", "-c", str(checkpoint), "--steps", "0", "--device", "cpu",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--steps must be ≥ 1 (got 0)" in result.stderr, result.stderr


def test_with_flags_replaces_only_the_field():
    error = LicliError("n must be ≥ 1 (got 0), not n", "pass e.g. n=1000 (an n-gram is not n_queries)", field="n")
    assert error.with_flags({"n": "--n"}) == "--n must be ≥ 1 (got 0), not n; pass e.g. --n 1000 (an n-gram is not n_queries)"
    assert error.with_flags({}) == str(error)
