"""Start-up: `--help` imports no torch, the lazy command table equals what the modules register, the typed
choices equal the registries, `--version` and shell completion work."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from licli.cli import app
from licli.cli.choices import (DATASET_NAMES, ENHANCE_NAMES, MECHANISM_NAMES, MODEL_NAMES, OPTIMIZER_NAMES,
                               PRECISION_NAMES, REGULARIZER_NAMES, TRACKER_NAMES)
from licli.cli.lazy import COMMANDS, load_all

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, **env})


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["evaluate", "--help"], ["--version"]])
def test_help_imports_no_torch(argv):
    probe = _run(f"""
import sys
from licli.cli import app
try:
    app({argv!r}, prog_name="licli")
except SystemExit as stop:
    assert stop.code == 0, stop.code
print("HEAVY", sorted(m for m in ("torch", "torchvision", "pandas", "matplotlib", "scipy") if m in sys.modules))
""")
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip().splitlines()[-1] == "HEAVY []"


def _registered(group, path=()):
    """(path, module, first help paragraph) of every command the imported modules registered."""
    for name in dict.keys(group.commands):
        command = dict.__getitem__(group.commands, name)
        if hasattr(command, "commands"):
            yield from _registered(command, (*path, name))
        else:
            first = re.sub(r"\s+", " ", (command.help or "").split("\n\n")[0]).strip()
            yield (*path, name), command.callback.__module__, first


def test_lazy_table_equals_the_registered_commands():
    load_all()
    registered = {path: (module, first) for path, module, first in _registered(typer.main.get_command(app))}
    listed = {((group,) if group else ()) + (name,): entry
              for group, commands in COMMANDS.items() for name, entry in commands.items()}
    assert listed == registered


def test_listing_then_running_a_command(runner):
    listing = runner.invoke(app, ["evaluate", "--help"])
    assert listing.exit_code == 0 and "hessian-trace" in listing.output
    accuracy_help = runner.invoke(app, ["evaluate", "accuracy", "--help"])
    assert accuracy_help.exit_code == 0 and "--checkpoint" in accuracy_help.output  # the real command, not the listing


def test_choices_equal_the_registries():
    from licli.data import DATASETS
    from licli.evaluations import TRACKERS
    from licli.mechanisms import MECHANISMS
    from licli.objectives import REGULARIZERS
    from licli.objectives.enhancement import ENHANCEMENTS
    from licli.models import MODELS
    from licli.runtime import PRECISIONS
    from licli.training.optimizers import OPTIMIZERS

    assert MODEL_NAMES == tuple(MODELS)
    assert DATASET_NAMES == tuple(DATASETS)
    assert OPTIMIZER_NAMES == tuple(OPTIMIZERS)
    assert MECHANISM_NAMES == tuple(MECHANISMS)
    assert REGULARIZER_NAMES == tuple(REGULARIZERS)
    assert TRACKER_NAMES == tuple(TRACKERS)
    assert PRECISION_NAMES == PRECISIONS
    assert ENHANCE_NAMES == tuple(ENHANCEMENTS)


def test_train_help_shows_choices_and_defaults(runner):
    from dataclasses import fields

    from licli.training.config import TrainConfig

    result = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    text = re.sub(r"\s+", " ", result.output)
    assert "mlp|small-cnn|vgg16|resnet18|gap-cnn|oracle-net" in text
    assert "sgd|adam" in text
    for field in fields(TrainConfig):
        option = "--" + field.name.replace("_", "-")
        if option in text and isinstance(field.default, (int, float, str)) and not isinstance(field.default, bool):
            after = text[text.index(option + " "):]
            assert f"[default: ({field.default})]" in after.split(" --")[0], option


def test_version_is_the_installed_distribution(runner):
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"licli {importlib.metadata.version('licli')}"


def test_shell_completion_completes_commands_and_choices():
    complete = "from licli.cli import main; main()"
    commands = _run(complete, _LICLI_COMPLETE="complete_bash", COMP_WORDS="licli tr", COMP_CWORD="1")
    assert commands.stdout.split() == ["train"]
    models = _run(complete, _LICLI_COMPLETE="complete_bash", COMP_WORDS="licli train --model ", COMP_CWORD="3")
    assert models.stdout.split() == list(MODEL_NAMES)
