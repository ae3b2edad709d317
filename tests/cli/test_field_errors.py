"""Library errors name the config field a Python caller passes; the CLI names the running command's flag.

Each case raises one error twice: in Python (the message names the field, ``LicliError.field`` is set) and
through the command line (the one stderr line names the flag, also where the option's name differs from the
field: ``every`` → ``--track-every``, ``copies`` → ``--oracle-copies``, ``absolute`` → ``--tolerance``)."""

import json

import pytest
import torch

from licli.cli import app
from licli.errors import LicliError
from licli.evaluations.gsnr import GSNRTracker
from licli.evaluations.hessian import HessianConfig
from licli.evaluations.oracle import OracleConfig
from licli.evaluations.pruning import PruneConfig
from licli.models import ModelSpec, build_model
from licli.checkpoints import save_checkpoint
from licli.reporting.baseline import Tolerance
from licli.reporting.files import exact_run_path
from licli.runtime import resolve_device


def _finished_run(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "manifest.json").write_text(json.dumps({"status": "ok"}))
    return folder


# (id, Python call, field, Python texts, argv ({ckpt}, {tmp} filled in), CLI texts)
CASES = [
    ("prune levels", lambda tmp: PruneConfig(levels=(0.0, 1.0)), "levels",
     ["levels must be in [0, 1) (got 1.0)", "pass e.g. levels=0,0.5,0.9"],
     ["evaluate", "prune", "-c", "{ckpt}", "--levels", "0,1.0"],
     ["--levels must be in [0, 1) (got 1.0)", "pass e.g. --levels 0,0.5,0.9"]),
    ("hessian power iterations", lambda tmp: HessianConfig(power_iterations=-1), "power_iterations",
     ["power_iterations must be ≥ 0 (got -1)", "pass e.g. power_iterations=20"],
     ["evaluate", "hessian-trace", "-c", "{ckpt}", "--power-iterations", "-1"],
     ["--power-iterations must be ≥ 0 (got -1)", "pass e.g. --power-iterations 20"]),
    ("gsnr tracker every", lambda tmp: GSNRTracker(None, every=0, device=torch.device("cpu")), "every",
     ["every must be > 0 optimizer steps (got 0)", "pass e.g. every=50"],
     ["train", "--model", "mlp", "--epochs", "1", "--track", "gsnr", "--track-every", "0"],
     ["--track-every must be > 0 optimizer steps (got 0)", "pass e.g. --track-every 50"]),
    ("oracle copies", lambda tmp: OracleConfig(copies=0), "copies",
     ["copies must be ≥ 1 (got 0)", "pass e.g. copies=10"],
     ["evaluate", "oracle", "--oracle-copies", "0"],
     ["--oracle-copies must be ≥ 1 (got 0)", "pass e.g. --oracle-copies 10"]),
    ("device", lambda tmp: resolve_device("tpu"), "device",
     ["device 'tpu' is unknown", "pass device=auto, cpu, cuda or cuda:N"],
     ["train", "--device", "tpu"],
     ["--device 'tpu' is unknown", "pass --device auto, cpu, cuda or cuda:N"]),
    ("tolerance", lambda tmp: Tolerance(absolute=-1.0), "absolute",
     ["absolute must be a finite number ≥ 0 (got -1.0)", "pass e.g. absolute=0.02"],
     ["report", "{tmp}", "--tolerance", "-1"],
     ["--tolerance must be a finite number ≥ 0 (got -1.0)", "pass e.g. --tolerance 0.02"]),
    ("finished run_dir and force", lambda tmp: exact_run_path(_finished_run(tmp / "done")), "run_dir",
     ["run_dir '", "already holds a finished run", "pass another run_dir=…, or force=True to replace it"],
     ["train", "--model", "mlp", "--epochs", "1", "--run-dir", "{tmp}/done"],
     ["--run-dir '", "already holds a finished run", "pass another --run-dir …, or --force to replace it"]),
]


@pytest.fixture
def ckpt(tmp_path):
    torch.manual_seed(0)
    spec = ModelSpec("mlp", 10, 1, (28, 28), {"hidden": 8})
    path = tmp_path / "mlp.safetensors"
    save_checkpoint(path, build_model(spec), spec, extra={"dataset": "mnist-mini"})
    return path


@pytest.mark.parametrize("call,field,python_texts,argv,cli_texts", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_the_library_names_the_field_and_the_cli_the_flag(runner, tmp_path, ckpt, call, field, python_texts, argv,
                                                          cli_texts):
    with pytest.raises(LicliError) as raised:
        call(tmp_path)
    assert raised.value.field == field
    for text in python_texts:
        assert text in str(raised.value), str(raised.value)
    assert not str(raised.value).startswith("-") and f"--{field.replace('_', '-')} " not in str(raised.value)

    _finished_run(tmp_path / "done")
    filled = [part.format(ckpt=ckpt, tmp=tmp_path) for part in argv]
    if argv[0] != "report":
        filled += ["--out", str(tmp_path / "reports"), *(["--device", "cpu"] if "--device" not in argv else [])]
    result = runner.invoke(app, filled)
    assert result.exit_code == 2, result.output
    line, = result.stderr.strip().splitlines()
    assert line.startswith("licli: error: ") and "Traceback" not in result.output
    for text in cli_texts:
        assert text in line, line
    assert f"{field}=" not in line, line
