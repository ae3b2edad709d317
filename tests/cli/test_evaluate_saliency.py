"""``licli evaluate saliency``: outputs of each mode, and one-line errors for bad input."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from licli.checkpoints import save_checkpoint
from licli.cli import app
from licli.models import ModelSpec, build_model
from tests.data.synthetic_voc import EXPECTED, make_voc


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
    (["--target", "best"], "Invalid value for '--target'"),
    (["--percent", "0"], "--percent must be in (0, 1]"),
    (["--n", "0"], "--n must be ≥ 1"),
    (["--n", "999999"], "more than the 2000 images"),
    (["--dataset", "mnist-mini"], "has no ground-truth boxes"),
    (["--backend", "captum"], "Invalid value for '--backend'"),
    (["--layers", "nowhere"], "model has no layer 'nowhere'"),
    (["--kernel-size", "4"], "--kernel-size must be a positive odd integer"),
    (["--sanity-check", "--blur-robustness"], "separate modes"),
    (["--padding", "wrap"], "Invalid value for '--padding'"),
    (["--methods", "li-map", "--layers", "14"], "LI-Map needs spatial"),
    (["--blur-robustness", "--blur-sigmas", "a,b"], "not a comma-separated list of numbers"),
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
    assert result.exit_code == 2 and "'cutout' is not one of 'li-blur'" in result.stderr


TINY_RESNET = '''
import torch
from torchvision.models.resnet import BasicBlock, ResNet


def tiny_resnet():
    """An ImageNet-shaped (1000-class) ResNet with one block per stage."""
    torch.manual_seed(0)
    return ResNet(BasicBlock, [1, 1, 1, 1], num_classes=1000)
'''


@pytest.fixture(scope="module")
def voc(tmp_path_factory):
    """A synthetic VOC 2007 root and the options of an ImageNet model brought by the user."""
    root = tmp_path_factory.mktemp("voc")
    make_voc(root / "data")
    (root / "tiny.py").write_text(TINY_RESNET)
    return root, ["--model-def", f"{root / 'tiny.py'}:tiny_resnet", "--input-size", "3x224x224",
                  "--input-mean", "0.485,0.456,0.406", "--input-std", "0.229,0.224,0.225",
                  "--dataset", "voc2007", "--data-dir", str(root / "data")]


def brute_force_iou(a, b, size=224):
    """IoU of two inclusive pixel boxes by counting pixels of their masks."""
    masks = np.zeros((2, size, size), dtype=bool)
    for mask, (x0, y0, x1, y1) in zip(masks, (a, b)):
        mask[y0:y1 + 1, x0:x1 + 1] = True
    return (masks[0] & masks[1]).sum() / (masks[0] | masks[1]).sum()


def test_voc2007_with_an_imagenet_model_and_target_pred(runner, tmp_path, voc):
    root, model = voc
    out, run = _run(runner, tmp_path, *model, "--target", "pred", "--n", "3", "--overlays", "1")
    per_image = pd.read_csv(run / "saliency_per_image.csv", dtype={"image_id": str})
    assert len(per_image) == 3 * 2 * 3  # methods × box rules × images
    expected = EXPECTED["test"]
    for row in per_image.itertuples():
        assert row.image_id == expected["ids"][row.image] and row.label == expected["labels"][row.image]
        true = [row.true_x0, row.true_y0, row.true_x1, row.true_y1]
        assert true == expected["boxes"][row.image]
        assert row.target_class == row.pred and 0 <= row.pred < 1000
        assert row.iou == pytest.approx(brute_force_iou([row.x0, row.y0, row.x1, row.y1], true), rel=1e-6)
    assert per_image["iou"].nunique() > 3  # not one trivial box for every image and method
    summary = pd.read_csv(run / "saliency_iou.csv")
    assert summary["accuracy"].isna().all()  # ImageNet predictions are not VOC labels: no accuracy
    assert [row["accuracy"] for row in out["rows"]] == [None] * 6
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["dataset"]["name"] == "voc2007" and manifest["dataset"]["size"] == [224, 224]
    assert "aspect ratio not kept" in manifest["dataset"]["resize"]
    assert "data:voc2007/ImageSets/Main/test.txt" in manifest["inputs"]


VOC_BAD = [
    ([], "scores 1000 classes but voc2007 has 20"),  # the default --target label
    (["--target", "pred", "--blur-robustness"], "cannot be compared with the dataset's labels"),
    (["--target", "pred", "--n", "4"], "more than the 3 images of voc2007/test"),
]


@pytest.mark.parametrize("args,message", VOC_BAD, ids=[" ".join(a) or "label" for a, _ in VOC_BAD])
def test_voc2007_bad_input_is_one_line(runner, tmp_path, voc, args, message):
    root, model = voc
    result = runner.invoke(app, ["evaluate", "saliency", *model, "--device", "cpu", "--n", "2",
                                 "--out", str(tmp_path / "reports"), *args])
    assert result.exit_code == 2, result.output
    line, = result.stderr.strip().splitlines()
    assert line.startswith("licli: error:") and message in line, line
    assert not (tmp_path / "reports").exists()
    if not args:
        assert line.endswith("pass --target pred: the maps then explain the model's own prediction")


def test_voc2007_missing_data_or_split(runner, tmp_path, voc):
    _, model = voc
    model = model[:-1] + [str(tmp_path / "nowhere")]
    result = runner.invoke(app, ["evaluate", "saliency", *model, "--target", "pred", "--out", str(tmp_path / "r")])
    line, = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and line.startswith("licli: error: PASCAL VOC 2007 not found") and "--data-dir" in line
    make_voc(tmp_path / "trainval-only", sets=("trainval",))
    model[-1] = str(tmp_path / "trainval-only")
    result = runner.invoke(app, ["evaluate", "saliency", *model, "--target", "pred", "--out", str(tmp_path / "r")])
    line, = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and "VOCtest_06-Nov-2007.tar" in line and "or pass --split train" in line
    out, run = _run(runner, tmp_path / "train", *model, "--target", "pred", "--split", "train", "--n", "1",
                    "--methods", "gradcam", "--overlays", "0")
    assert pd.read_csv(run / "saliency_per_image.csv", dtype={"image_id": str})["image_id"].tolist() == ["000005"] * 2
