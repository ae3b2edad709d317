"""Foreign models through the CLI: the real AutoAttack example checkpoint, `licli import`, bad inputs."""

import argparse
import importlib.util
import json
import os
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from licli.cli import app
from licli.data import load_dataset
from licli.models.foreign import ForeignSpec
from licli.sources import ModelSource, load_models
from licli.runtime import sha256_file

TINY = Path(__file__).parents[1] / "models" / "assets" / "tiny_net.py"
TINY_FLAGS = ["--model-def", f"{TINY}:TinyNet", "--input-size", "1x28x28", "--dataset", "mnist-mini"]


def import_file(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(f"reference_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


@pytest.fixture(scope="module")
def autoattack_example() -> tuple[Path, Path]:
    """The CIFAR-10 ResNet-18 definition and state dict that the pyautoattack package installs."""
    examples = resources.files("pyautoattack") / "examples"
    definition, weights = Path(str(examples / "resnet.py")), Path(str(examples / "model_test.pt"))
    if not (definition.exists() and weights.exists()):
        pytest.skip("pyautoattack's examples are not installed")
    return definition, weights


@pytest.fixture(scope="module")
def cifar_mini():
    """cifar10-mini from LICLI_DATA_DIR's archive (decoded into the session's temporary cache)."""
    root = os.environ.get("LICLI_DATA_DIR")
    if not root or not (Path(root) / "cifar10-jpeg.tar.gz").exists():
        pytest.skip("LICLI_DATA_DIR with cifar10-jpeg.tar.gz is not set")
    return load_dataset("cifar10-mini", root)


def run_json(runner, argv):
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_autoattack_checkpoint_accuracy_equals_a_hand_loop(runner, tmp_path, autoattack_example, cifar_mini):
    definition, weights = autoattack_example
    report = run_json(runner, ["evaluate", "accuracy", "--model-def", f"{definition}:ResNet18", "--weights",
                               str(weights), "--dataset", "cifar10-mini", "--batch-size", "250",
                               "--out", str(tmp_path), "--json"])
    row, = report["rows"]

    net = import_file(definition, "ResNet18")()
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    net.eval()
    correct, loss = 0, 0.0
    with torch.no_grad():
        for start in range(0, len(cifar_mini.test), 250):
            x = cifar_mini.test.images[start:start + 250].float() / 255
            y = cifar_mini.test.labels[start:start + 250]
            logits = net(x)
            correct += int((logits.argmax(1) == y).sum())
            loss += float(F.cross_entropy(logits, y, reduction="sum"))
    n = len(cifar_mini.test)
    assert row["n"] == n == 500
    assert row["accuracy"] == correct / n
    assert row["loss"] == pytest.approx(loss / n, rel=1e-5)
    assert row["accuracy"] > 0.8  # a trained CIFAR-10 ResNet-18 (JPEG q75 copy of the test set)

    manifest = json.loads(next(tmp_path.glob("evaluate-accuracy/*/manifest.json")).read_text())
    inputs = {role: entry["sha256"] for role, entry in manifest["inputs"].items()}
    assert inputs["model_test:definition"] == sha256_file(definition)
    assert inputs["model_test:weights"] == sha256_file(weights)
    assert "data:cifar10/cifar10-jpeg.tar.gz" in inputs


def test_an_attack_needs_only_load_models(autoattack_example, cifar_mini):
    """cleverhans FGSM on the loaded model gives the same adversarial images as on the bare network."""
    from cleverhans.torch.attacks.fast_gradient_method import fast_gradient_method

    definition, weights = autoattack_example
    spec = ForeignSpec(kind="definition", target=f"{definition}:ResNet18", num_classes=10)
    loaded, = load_models([ModelSource(foreign=spec, weights=str(weights))], torch.device("cpu"))
    net = import_file(definition, "ResNet18")()
    net.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    net.eval()
    x, y = cifar_mini.test.images[:16].float() / 255, cifar_mini.test.labels[:16]
    kwargs = dict(eps=8 / 255, norm=np.inf, clip_min=0.0, clip_max=1.0, y=y)
    adversarial = fast_gradient_method(loaded.model, x, **kwargs)
    assert torch.equal(adversarial, fast_gradient_method(net, x, **kwargs))
    with torch.no_grad():
        assert (loaded.model(adversarial).argmax(1) == y).sum() < (net(x).argmax(1) == y).sum()


def test_import_autoattack_checkpoint_keeps_every_tensor(runner, tmp_path, autoattack_example):
    definition, weights = autoattack_example
    result = runner.invoke(app, ["import", "--model-def", f"{definition}:ResNet18", "--weights", str(weights),
                                 "--dataset", "cifar10", "--out", str(tmp_path / "aa.safetensors")])
    assert result.exit_code == 0, result.output
    original = torch.load(weights, map_location="cpu", weights_only=True)
    imported = load_file(str(tmp_path / "aa.safetensors"))
    assert imported.keys() == {f"net.{k}" for k in original}
    assert all(torch.equal(imported[f"net.{k}"], v) for k, v in original.items())
    meta = json.loads((tmp_path / "aa.json").read_text())
    assert meta["model"]["definition_sha256"] == sha256_file(definition) == sha256_file(tmp_path / "aa.def.py")
    assert meta["model"]["target"] == "aa.def.py:ResNet18" and meta["dataset"] == "cifar10"
    assert meta["imported_from"]["definition"] == str(definition)


@pytest.fixture
def tiny_weights(tmp_path) -> Path:
    """A TinyNet state dict saved the DataParallel way (``module.`` prefix)."""
    net = import_file(TINY, "TinyNet")()
    torch.save({f"module.{k}": v for k, v in net.state_dict().items()}, tmp_path / "tiny.pt")
    return tmp_path / "tiny.pt"


def test_module_prefix_and_import_round_trip(runner, tmp_path, tiny_weights):
    direct, = run_json(runner, ["evaluate", "accuracy", *TINY_FLAGS, "--weights", str(tiny_weights),
                                "--out", str(tmp_path / "r"), "--json"])["rows"]
    net = import_file(TINY, "TinyNet")()
    net.load_state_dict({k.removeprefix("module."): v for k, v in torch.load(tiny_weights).items()})
    test = load_dataset("mnist-mini").test
    with torch.no_grad():
        correct = int((net(test.images.float() / 255).argmax(1) == test.labels).sum())
    assert direct["accuracy"] == correct / len(test)

    result = runner.invoke(app, ["import", *TINY_FLAGS, "--weights", str(tiny_weights),
                                 "--out", str(tmp_path / "tiny.safetensors")])
    assert result.exit_code == 0, result.output
    imported, = run_json(runner, ["evaluate", "accuracy", "-c", str(tmp_path / "tiny.safetensors"),
                                  "--trust-definition", "--out", str(tmp_path / "r"), "--json"])["rows"]
    assert imported["dataset"] == "mnist-mini"
    assert {k: v for k, v in imported.items() if k != "model"} == {k: v for k, v in direct.items() if k != "model"}


def _bad_files(tmp_path: Path, tiny_weights: Path) -> dict[str, Path]:
    net = import_file(TINY, "TinyNet")(hidden=16)
    torch.save({"state_dict": net.state_dict(), "args": argparse.Namespace(lr=0.1)}, tmp_path / "pickled.pt")
    torch.save(net.state_dict(), tmp_path / "hidden16.pt")
    (tmp_path / "broken.py").write_text("import torch\nclass Net(torch.nn.Module)\n")
    return {"pickled": tmp_path / "pickled.pt", "hidden16": tmp_path / "hidden16.pt",
            "broken": tmp_path / "broken.py", "tiny": tiny_weights}


BAD = [
    (["--weights", "{pickled}"], "needs unpickling arbitrary Python objects: Unsupported global: GLOBAL argparse"),
    (["--weights", "{hidden16}"], "mis-shaped (3): body.1.weight (16, 784) vs model (8, 784)"),
    (["--model-args", '{{"hidden": 4}}', "--weights", "{tiny}"], "mis-shaped (3): body.1.weight (8, 784) vs model (4, 784)"),
    (["--model-def", f"{TINY}:SoftmaxNet"], "returns probabilities"),
    (["--model-def", f"{TINY}:Missing"], "defines no class or function 'Missing'"),
    (["--model-def", "{broken}:Net"], "importing"),
    (["--model-args", '{{"hidden": -1}}'], "building tiny_net.py:TinyNet failed: RuntimeError"),
    (["--model-args", '{{"depth": 3}}'], "unexpected keyword argument 'depth'"),
    (["--model-def", "nothing.py:Net"], "model definition file"),
    (["--model-def", "no-colon.py"], "is not FILE.py:NAME"),
    (["--input-mean", "0.5"], "--input-mean … and --input-std … go together"),
    (["--input-mean", "0.5,0.5", "--input-std", "1,1"], "one value per input channel (1)"),
    (["--input-size", "28x28"], "is not CxHxW"),
    (["--model-args", '{{"in_features": 3072}}', "--input-size", "3x32x32"],
     "takes 3×32×32 inputs but got 1×28×28 images"),
    (["--num-classes", "7"], "returns 10 scores per image, not --num-classes 7"),
    (["--rename", "fc"], "is not OLD=NEW"),
]


@pytest.mark.parametrize("extra,message", BAD, ids=[m[:40] for _, m in BAD])
def test_bad_foreign_models_are_one_line(runner, tmp_path, tiny_weights, extra, message):
    files = _bad_files(tmp_path, tiny_weights)
    argv = ["evaluate", "accuracy", *TINY_FLAGS, *[part.format(**files) for part in extra],
            "--out", str(tmp_path / "reports")]
    _assert_one_line(runner.invoke(app, argv), message)
    assert not (tmp_path / "reports").exists()


GENERAL = [
    (["evaluate", "accuracy", "--weights", "w.pt"], "--weights describe a foreign model, but none was named"),
    (["evaluate", "accuracy", "--model", "keras:resnet18"], "unknown model source 'keras'"),
    (["evaluate", "accuracy", "--model", "torchvision:nope"], "unknown torchvision model 'nope'"),
    (["evaluate", "accuracy", "--model", "resnet18"], "is not SOURCE:NAME"),
    (["evaluate", "accuracy"], "no model given"),
    (["import", "--out", "x.safetensors"], "no model given"),
    (["evaluate", "accuracy", "-c", "x.safetensors", "--rename", "a=b"], "describe a foreign model"),
]


@pytest.mark.parametrize("argv,message", GENERAL, ids=[m[:40] for _, m in GENERAL])
def test_bad_model_options_are_one_line(runner, argv, message):
    _assert_one_line(runner.invoke(app, argv), message)


def _assert_one_line(result, message):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("licli: error:") and message in lines[0], lines
    assert "Traceback" not in result.output


def test_checkpoints_and_a_foreign_model_in_one_run(runner, tmp_path, tiny_weights):
    out = tmp_path / "tiny.safetensors"
    imported = run_json(runner, ["import", *TINY_FLAGS, "--weights", str(tiny_weights), "--out", str(out), "--json"])
    assert imported["rows"][0]["tensors"] == 4
    rows = run_json(runner, ["evaluate", "accuracy", "-c", str(out), "-c", str(out), "--trust-definition", *TINY_FLAGS,
                             "--weights", str(tiny_weights), "--out", str(tmp_path / "r"), "--json"])["rows"]
    assert [row["model"] for row in rows] == ["tiny", "tiny#2", "tiny#3"]
    assert len({row["accuracy"] for row in rows}) == 1
