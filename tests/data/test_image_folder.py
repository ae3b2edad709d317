"""A user's own images: ``imagefolder:PATH`` and ``licli.dataset_from_torch`` against torchvision's ImageFolder,
and ``licli attack`` / ``evaluate accuracy`` / ``evaluate prune`` on the folder against the same images as tensors."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import licli
from licli.cli import app
from licli.data import load_dataset
from licli.errors import LicliError

CLASSES = ("cat", "dog", "fox")

MODEL = '''
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4 * 10 * 10, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))
'''


@pytest.fixture
def folder(tmp_path):
    """3 classes × 5 PNG images, 12×12 RGB, with a brightness the class predicts."""
    generator = np.random.default_rng(0)
    root = tmp_path / "images"
    for k, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(5):
            pixels = np.clip(generator.normal(60 + 70 * k, 40, (12, 12, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:02d}.png")
    (tmp_path / "net.py").write_text(MODEL)
    return root


def _reference(folder):
    """The images and labels as torchvision's ImageFolder reads them: uint8 (N, 3, H, W) and int64."""
    from torchvision.datasets import ImageFolder
    from torchvision.transforms.functional import pil_to_tensor

    reference = ImageFolder(str(folder))
    images = torch.stack([pil_to_tensor(image) for image, _ in reference])
    return reference, images, torch.tensor(reference.targets)


def test_image_folder_equals_torchvisions_image_folder(folder):
    reference, images, labels = _reference(folder)
    data = load_dataset(f"imagefolder:{folder}")
    assert data.classes == tuple(reference.classes) == CLASSES and data.num_classes == 3
    assert torch.equal(data.test.images, images) and torch.equal(data.test.labels, labels)
    assert torch.equal(load_dataset(f"imagefolder:{folder}").test.images, images)  # read back from the cache


def test_dataset_from_torch_streams_any_dataset_exactly(folder):
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import ToTensor

    _, images, labels = _reference(folder)
    parts = []
    data = licli.dataset_from_torch(ImageFolder(str(folder), transform=ToTensor()), batch_size=4,
                                    on_progress=parts.append)
    assert data.test.images.dtype == torch.uint8 and torch.equal(data.test.images, images)  # 8-bit: stored exactly
    assert torch.equal(data.test.labels, labels) and data.num_classes == 3
    assert [p.done for p in parts] == [0, 1, 2, 3, 4] and parts[-1].total == 4


def test_resize_and_different_sizes(folder):
    Image.fromarray(np.zeros((20, 16, 3), np.uint8)).save(folder / "cat" / "99.png")
    with pytest.raises(LicliError, match="different sizes"):
        load_dataset(f"imagefolder:{folder}")
    from torchvision.transforms import CenterCrop, Compose, PILToTensor, Resize

    data = load_dataset(f"imagefolder:{folder}@8")
    from torchvision.datasets import ImageFolder

    reference = ImageFolder(str(folder), transform=Compose([Resize(8 * 256 // 224), CenterCrop(8), PILToTensor()]))
    assert torch.equal(data.test.images, torch.stack([image for image, _ in reference]))


def _run(runner, args):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result


def test_cli_on_an_image_folder_equals_the_api_on_tensors(folder, tmp_path, runner, monkeypatch):
    import licli.data.core

    monkeypatch.setattr(licli.data.core, "RESIDENT_BYTES", 0)  # stream every batch from the host, as a large set
    _, images, labels = _reference(folder)
    from licli.models.foreign import import_definition

    net = import_definition(tmp_path / "net.py", "Net")().eval()  # the CLI builds the same (seeded) Net
    common = ["--model-def", f"{tmp_path / 'net.py'}:Net", "--dataset", f"imagefolder:{folder}",
              "--out", str(tmp_path / "runs"), "--json"]  # no --input-size: 3×12×12 from the images
    accuracy = json.loads(_run(runner, ["evaluate", "accuracy", *common]).stdout)
    expected = licli.accuracy(net, images, labels)
    row = accuracy["rows"][0]
    assert (row["n"], row["accuracy"], row["loss"]) == (15, pytest.approx(expected["accuracy"].item()),
                                                         pytest.approx(expected["loss"].item()))
    _run(runner, ["attack", *common, "--attacks", "fgsm", "--eps", "0.05"])
    expected_attack = licli.attack(net, images, labels, attacks=["fgsm"], eps=0.05)
    run = sorted((tmp_path / "runs" / "attack").iterdir())[-1]
    summary = pd.read_csv(run / "attacks.csv")
    assert summary.set_index("attack").loc["fgsm", "robust_accuracy"] == pytest.approx(
        expected_attack.summary.set_index("attack").loc["fgsm", "robust_accuracy"])
    _run(runner, ["evaluate", "prune", *common, "--levels", "0,0.5"])
    pruned = pd.read_csv(sorted((tmp_path / "runs" / "evaluate-prune").iterdir())[-1] / "pruning.csv")
    expected_prune = licli.prune(net, images, labels, levels=[0.0, 0.5])
    assert pruned.query("layer == 'all'")["accuracy"].tolist() == pytest.approx(
        expected_prune.query("layer == 'all'")["accuracy"].tolist())
