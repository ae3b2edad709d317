"""Start-up: `--help` imports no torch, the lazy command table equals what the modules register, the typed
choices equal the registries, `--version` and shell completion work."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import typer

from licli.cli import app, choices
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
    from licli.attacks import BACKENDS as ATTACK_BACKENDS
    from licli.attacks.targets import TARGETS
    from licli.attacks.threat import NORMS
    from licli.data import DATASETS, Dataset, Split
    from licli.data.oracle import ORACLE_BASES
    from licli.evaluations import TRACKERS
    from licli.evaluations.fisher_rao import FISHER_LABELS
    from licli.evaluations.functional import PARAMETER_SETS
    from licli.evaluations.pruning import SCOPES
    from licli.evaluations.robustness import SUBSETS
    from licli.saliency import BACKENDS as SALIENCY_BACKENDS
    from licli.saliency.li_map import LI_MAP_RESPONSES, LOG_PADDINGS
    from licli.evaluations.saliency.scoring import TARGETS as SALIENCY_TARGETS
    from licli.evaluations.verdict import DECISIONS
    from licli.mechanisms.inhibition import CALIBRATIONS
    from licli.models.oracle_net import ORACLE_PATHS
    from licli.models.zoo import ACTIVATIONS
    from licli.reproduction import SCALES
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
    assert set(choices.SPLIT_NAMES) == {f.name for f in fields(Dataset) if f.type in ("Split", Split)}
    assert choices.NORM_NAMES == NORMS
    assert choices.ATTACK_BACKEND_NAMES == ATTACK_BACKENDS
    assert choices.TARGET_RULE_NAMES == tuple(TARGETS)
    assert choices.SUBSET_NAMES == SUBSETS
    assert choices.PRUNE_SCOPE_NAMES == tuple(SCOPES)
    assert choices.FISHER_NAMES == tuple(FISHER_LABELS)
    assert choices.PARAMETER_SET_NAMES == tuple(PARAMETER_SETS)
    assert choices.SALIENCY_TARGET_NAMES == SALIENCY_TARGETS
    assert choices.SALIENCY_BACKEND_NAMES == tuple(SALIENCY_BACKENDS)
    assert choices.LI_MAP_RESPONSE_NAMES == tuple(LI_MAP_RESPONSES)
    assert choices.LOG_PADDING_NAMES == tuple(LOG_PADDINGS)
    assert choices.DECISION_NAMES == tuple(DECISIONS)
    assert choices.ORACLE_DATASET_NAMES == tuple(ORACLE_BASES)
    assert choices.ACTIVATION_NAMES == tuple(ACTIVATIONS)
    assert choices.ORACLE_PATH_NAMES == ORACLE_PATHS
    assert choices.CALIBRATION_NAMES == CALIBRATIONS
    assert choices.SCALE_NAMES == SCALES


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
