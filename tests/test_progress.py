"""Progress hooks: every part of a long evaluation is reported once, in order, with a duration bounded by the
wall clock measured around it; the CLI's renderer draws bars (terminal) or lines."""

from __future__ import annotations

import io
import math
import time

import torch
from rich.console import Console

from licli.evaluations import pruning
from licli.evaluations.robustness import AttackSettings, evaluate_robustness, robustness_table
from licli.models import ModelSpec, build_model
from licli.progress import Part
from licli.reporting.console import PartProgress
from tests.attacks.toy_models import CentroidModel, FirstPixel
from tests.conftest import tiny_dataset

SETTINGS = AttackSettings(attacks=("fgsm", "pgd"), eps=0.1, step_size=0.04, steps=3, batch_size=16)


def _check_sequence(parts: list[Part], total: int, task: str) -> None:
    assert parts[0] == Part(task, "", 0, total, 0.0)
    assert [p.done for p in parts] == list(range(total + 1)) and {p.total for p in parts} == {total}
    assert all(p.seconds >= 0 for p in parts)


def test_attack_reports_every_batch_and_attack_and_times_each_row():
    data = tiny_dataset(n_test=40, num_classes=4).test
    models = {"centroid": CentroidModel(4), "pixel": FirstPixel(CentroidModel(4))}
    parts: list[Part] = []
    started = time.perf_counter()
    result = evaluate_robustness(models, data.images, data.labels, SETTINGS,
                                 threats=[SETTINGS.threat.at(eps) for eps in (0.05, 0.1)],
                                 on_progress=parts.append)
    wall = time.perf_counter() - started
    batches = {label: math.ceil(len(chosen) / SETTINGS.batch_size) for label, chosen in result.selected.items()}
    total = sum(batches.values()) * 2 * len(SETTINGS.attacks)  # models' batches × ε values × attacks
    _check_sequence(parts, total, "attack")
    assert sum(p.label.startswith("pixel · pgd · ε=0.05 ·") for p in parts) == batches["pixel"]
    for row in result.seconds.itertuples():  # each (model, ε) row covers its parts, within the wall clock
        own = sum(p.seconds for p in parts if p.label.startswith(f"{row.model} · ") and f"ε={row.eps:.4g} " in p.label)
        assert own <= row.seconds
    assert result.seconds["seconds"].sum() <= wall
    table = robustness_table(result.summary, seconds=result.seconds)
    assert table["seconds"].tolist() == result.seconds["seconds"].tolist()


def test_prune_reports_each_level_with_its_seconds():
    torch.manual_seed(0)
    net = build_model(ModelSpec("small-cnn", 3, 1, (8, 8), {"filters": 4, "hidden": 10})).eval()
    parts: list[Part] = []
    levels = (0.0, 0.5, 0.9)
    frame = pruning.run(net, tiny_dataset(n_test=40), device=torch.device("cpu"),
                        config=pruning.PruneConfig(levels=levels), on_progress=parts.append, label="cnn · ")
    _check_sequence(parts, len(levels), "prune levels")
    assert [p.label for p in parts[1:]] == ["cnn · level 0", "cnn · level 0.5", "cnn · level 0.9"]
    overall = frame[frame.layer == "all"]
    assert overall["seconds"].tolist() == [p.seconds for p in parts[1:]]


def _rendered(live: bool) -> str:
    progress = PartProgress(enabled=True, live=live)
    progress.console = Console(file=io.StringIO(), force_terminal=True, width=150)
    for part in [Part("attack", "", 0, 2, 0.0), Part("attack", "m · pgd", 1, 2, 1.5),
                 Part("attack", "m · fgsm", 2, 2, 0.25)]:
        progress(part)
    progress.close()
    return progress.console.file.getvalue()


def test_renderer_draws_a_bar_or_lines_and_stays_silent_off_a_terminal():
    bar = _rendered(live=True)
    assert "attack" in bar and "2/2" in bar and "0:00:0" in bar  # parts done and elapsed time
    lines = _rendered(live=False)
    assert "attack 1/2: m · pgd took 1.5s" in lines and "attack 2/2: m · fgsm took 0.2s" in lines
    quiet = PartProgress(enabled=False)
    quiet.console = Console(file=io.StringIO(), force_terminal=True)
    quiet(Part("attack", "m", 1, 1, 1.0))
    assert quiet.console.file.getvalue() == ""


def test_saliency_reports_each_method_and_batch():
    from licli.evaluations.saliency.scoring import SaliencyConfig, localization_scores

    torch.manual_seed(0)
    net = build_model(ModelSpec("small-cnn", 3, 1, (8, 8), {"filters": 4, "hidden": 10})).eval()
    data = tiny_dataset(n_test=25).test
    images, boxes = data.images.float() / 255, torch.tensor([[1, 1, 6, 6]] * 25)
    parts: list[Part] = []
    settings = SaliencyConfig(methods=("gradcam", "gradcam++"), batch_size=10)
    frame, _ = localization_scores(net, images, data.labels, boxes, settings, on_progress=parts.append, label="cnn · ")
    _check_sequence(parts, 2 * 3, "saliency maps")  # 2 methods × ⌈25/10⌉ batches
    assert [p.label for p in parts[1:4]] == [f"cnn · gradcam · batch {k}/3" for k in (1, 2, 3)]
    assert len(frame) == 25 * 2 * frame["box_rule"].nunique()


def test_image_folder_decoding_reports_each_image_once(tmp_path):
    import numpy as np
    from PIL import Image

    from licli.data import load_dataset

    for k in range(2):
        (tmp_path / f"c{k}").mkdir()
        for i in range(3):
            Image.fromarray(np.full((4, 4), 40 * i + k, np.uint8)).save(tmp_path / f"c{k}" / f"{i}.png")
    parts: list[Part] = []
    data = load_dataset(f"imagefolder:{tmp_path}", on_progress=parts.append)
    _check_sequence(parts, 6, "decode images")
    assert [p.label for p in parts[1:]] == ["0.png", "1.png", "2.png"] * 2 and data.test.images.shape == (6, 1, 4, 4)
    cached: list[Part] = []
    load_dataset(f"imagefolder:{tmp_path}", on_progress=cached.append)
    assert cached == []  # read from the cache: nothing decoded, no bar
