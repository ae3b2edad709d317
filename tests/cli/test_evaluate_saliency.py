"""``licli evaluate saliency``: outputs of each mode, and one-line errors for bad input."""

import json

import pandas as pd
import pytest
import torch

from licli.checkpoints import save_checkpoint
from licli.cli import app
from licli.models import ModelSpec, build_model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    spec = ModelSpec("gap-cnn", 10, 1, (64, 64), options={"filters": 4})
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.safetensors"
    save_checkpoint(path, build_model(spec), spec, extra={"dataset": "mnist-loc"})
    return str(path)


def _run(runner, tmp_path, *args):
    result = runner.invoke(app, ["evaluate", "saliency", "--device", "cpu", "--out", str(tmp_path), "--json", *args])
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "evaluate-saliency").iterdir())
    return json.loads(result.stdout), run


def test_localization_outputs(runner, tmp_path, checkpoint):
    out, run = _run(runner, tmp_path, "-c", checkpoint, "-c", checkpoint, "--n", "6", "--overlays", "2",
                    "--batch-size", "4")
    per_image = pd.read_csv(run / "saliency_per_image.csv")
    assert len(per_image) == 2 * 3 * 2 * 6  # models × methods × box rules × images
    assert per_image["iou"].between(0, 1).all()
    summary = pd.read_csv(run / "saliency_iou.csv")
    assert summary["n"].eq(6).all() and len(out["rows"]) == 12
    contract = pd.read_csv(run / "summary.csv")
    assert set(contract["metric"]) == {"mean_iou"} and len(contract) == 12
    assert contract["value"].tolist() == summary["mean_iou"].tolist()
    manifest = json.loads((run / "manifest.json").read_text())
    assert len(manifest["image_list"]["sha256"]) == 64 and manifest["status"] == "ok"
    assert (run / "overlays-tiny.png").exists() and (run / "overlays-tiny#2.png").exists()


def test_sanity_check_and_blur_modes(runner, tmp_path, checkpoint):
    out, run = _run(runner, tmp_path / "s", "-c", checkpoint, "--n", "3", "--sanity-check", "--methods", "gradcam")
    assert (run / "sanity_check.png").exists() and len(pd.read_csv(run / "sanity_check.csv")) == 4
    out, run = _run(runner, tmp_path / "b", "-c", checkpoint, "--n", "5", "--blur-robustness", "--blur-sigmas", "0,2")
    assert [row["blur_sigma"] for row in out["rows"]] == [0.0, 2.0]
    assert (run / "blur_robustness.png").exists()


BAD = [
    (["--methods", "lime"], "unknown saliency method 'lime'"),
    (["--target", "best"], "unknown target"),
    (["--percent", "0"], "--percent must be in (0, 1]"),
    (["--n", "0"], "--n must be ≥ 1"),
    (["--n", "999999"], "more than the 2000 images"),
    (["--dataset", "mnist-mini"], "has no ground-truth boxes"),
    (["--backend", "captum"], "unknown saliency backend"),
    (["--layers", "nowhere"], "model has no layer 'nowhere'"),
    (["--kernel-size", "4"], "--kernel-size must be a positive odd integer"),
    (["--sanity-check", "--blur-robustness"], "separate modes"),
    (["--padding", "wrap"], "unknown LoG padding 'wrap'"),
    (["--methods", "li-map", "--layers", "14"], "LI-Map needs spatial"),
    (["--blur-robustness", "--blur-sigmas", "a,b"], "not a list of numbers"),
]


@pytest.mark.parametrize("args,message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line(runner, tmp_path, checkpoint, args, message):
    result = runner.invoke(app, ["evaluate", "saliency", "-c", checkpoint, "--device", "cpu", "--n", "2",
                                 "--out", str(tmp_path / "reports"), *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("licli: error:") and message in lines[0], lines
    assert not (tmp_path / "reports").exists()


def test_train_enhance_flag_errors(runner, tmp_path):
    result = runner.invoke(app, ["train", "--enhance", "li-blur", "--enhance-ratio", "2", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--enhance-ratio must be in [0, 1]" in result.stderr
    result = runner.invoke(app, ["train", "--enhance", "cutout", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "unknown enhancement 'cutout'" in result.stderr
