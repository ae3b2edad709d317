"""The Python API: docs/python-api.md's examples run as written; float [0, 1] images give exactly the
results of the uint8 images they come from; bad tensors are refused; `import licli` stays cheap."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import licli
from licli.errors import LicliError
from licli.evaluations.robustness import AttackSettings, evaluate_robustness
from tests.attacks.toy_models import CentroidModel
from tests.conftest import tiny_dataset

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.filterwarnings("ignore")
def test_the_documented_examples_run(tmp_path):
    text = (ROOT / "docs" / "python-api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 6
    namespace = {"tmp": tmp_path}
    for block in blocks:
        exec(compile(block, "docs/python-api.md", "exec"), namespace)  # noqa: S102 - our own documentation


def test_float_images_give_the_results_of_their_uint8_source():
    split = tiny_dataset(n_test=40, num_classes=4).test
    settings = dict(attacks=("fgsm", "pgd"), eps=0.1, steps=5, step_size=0.04, batch_size=16)
    model = CentroidModel(4)
    by_api = licli.attack(model, split.images.float() / 255, split.labels, **settings)
    reference = evaluate_robustness({"model": model}, split.images, split.labels, AttackSettings(**settings))
    assert by_api.summary.to_csv(index=False) == reference.summary.to_csv(index=False)
    measured = licli.accuracy(model, split.images.float() / 255, split.labels)
    assert measured["accuracy"].item() == (model(split.images.float() / 255).argmax(1) == split.labels).float().mean().item()


@pytest.mark.parametrize("images,labels,message", [
    (torch.full((2, 1, 4, 4), 2.0), torch.zeros(2, dtype=torch.long), "must be in [0, 1]"),
    (torch.zeros(2, 16), torch.zeros(2, dtype=torch.long), "4-D tensor"),
    (torch.zeros(2, 1, 4, 4), torch.zeros(3, dtype=torch.long), "labels must be 2 integers"),
    (torch.zeros(2, 1, 4, 4, dtype=torch.int32), torch.zeros(2, dtype=torch.long), "float in [0, 1] or uint8"),
])
def test_bad_tensors_are_refused_with_the_reason(images, labels, message):
    with pytest.raises(LicliError, match=re.escape(message)):
        licli.accuracy(CentroidModel(3), images, labels)


def test_import_licli_is_cheap_and_exports_the_api():
    probe = subprocess.run([sys.executable, "-c", "import sys, licli; print(sorted(licli.__all__)); "
                            "print([m for m in ('torch', 'pandas') if m in sys.modules])"],
                           cwd=ROOT, capture_output=True, text=True, timeout=300)
    exported, heavy = probe.stdout.strip().splitlines()
    assert heavy == "[]"
    from licli import api
    assert eval(exported) == sorted(["__version__", *api.__all__])  # noqa: S307 - our own output
    assert all(callable(getattr(licli, name)) for name in api.__all__)
