"""Robustness DataFrames: worst case, rates, selections, reproducibility, EOT view."""

from __future__ import annotations

import math

import pandas as pd
import pytest
import torch
from torch import nn

from licli.errors import LicliError
from licli.evaluations.robustness import (WORST_CASE, AttackSettings, attack_samples, attacked_view,
                                          evaluate_robustness, predictions, robustness_table, summarise, summary_rows)
from licli.models.slots import Slot
from licli.reporting.plots import robustness_curve
from licli.runs import figure_png
from tests.attacks.toy_models import CentroidModel, FirstPixel
from tests.conftest import tiny_dataset

SETTINGS = AttackSettings(attacks=("fgsm", "pgd", "pgd-t", "square"), eps=0.1, step_size=0.04, steps=5,
                          n_queries=100, batch_size=16)


@pytest.fixture
def data():
    return tiny_dataset(n_test=40, num_classes=4).test


def _models():
    return {"centroid": CentroidModel(4), "pixel": FirstPixel(CentroidModel(4))}


def test_same_seed_gives_identical_csvs(data):
    first = evaluate_robustness(_models(), data.images, data.labels, SETTINGS)
    second = evaluate_robustness(_models(), data.images, data.labels, SETTINGS)
    assert first.samples.to_csv(index=False) == second.samples.to_csv(index=False)
    assert first.summary.to_csv(index=False) == second.summary.to_csv(index=False)


def test_summary_rates_and_worst_case(data):
    result = evaluate_robustness(_models(), data.images, data.labels, SETTINGS)
    summary = result.summary
    assert (summary["robust_accuracy"] <= summary["clean_accuracy"] + 1e-12).all()
    for model, part in summary.groupby("model"):
        worst = part[part["attack"] == WORST_CASE]["robust_accuracy"].item()
        assert worst <= part[part["attack"] != WORST_CASE]["robust_accuracy"].min()
        samples = result.samples[result.samples["model"] == model]
        robust_everywhere = samples.groupby("index").apply(
            lambda g: bool(((g["adv_pred"] == g["label"]) & (g["clean_pred"] == g["label"])).all()),
            include_groups=False)
        assert worst == pytest.approx(robust_everywhere.mean())
    targeted = summary[summary["attack"] == "pgd-t"]["target_hit_rate"]
    assert targeted.notna().all() and summary[summary["attack"] == "pgd"]["target_hit_rate"].isna().all()
    row = summary[(summary["model"] == "pixel") & (summary["attack"] == "pgd")].iloc[0]
    samples = result.samples[(result.samples["model"] == "pixel") & (result.samples["attack"] == "pgd")]
    correct = samples["clean_pred"] == samples["label"]
    assert row["attack_success_rate"] == pytest.approx((samples["success"] & correct).sum() / correct.sum())
    table = robustness_table(summary)
    assert list(table["model"]) == ["centroid", "pixel"]
    assert {"clean", "fgsm", "pgd", "pgd-t", "square", WORST_CASE} <= set(table.columns)


def test_eps_zero_gives_clean_accuracy_and_sweep_is_plotted(data, tmp_path):
    result = evaluate_robustness(_models(), data.images, data.labels, SETTINGS,
                                 threats=[SETTINGS.threat.at(eps) for eps in (0.0, 0.05, math.inf)])
    at_zero = result.summary[result.summary["eps"] == 0.0]
    assert (at_zero["robust_accuracy"] == at_zero["clean_accuracy"]).all()
    at_inf = result.summary[(result.summary["eps"] == math.inf) & (result.summary["attack"] == "fgsm")]
    assert (at_inf["robust_accuracy"] == 0).all()
    assert figure_png(robustness_curve(result.summary))[:8] == b"\x89PNG\r\n\x1a\n"


def test_common_correct_uses_the_same_images_for_every_model(data):
    models = _models()
    result = evaluate_robustness(models, data.images, data.labels, SETTINGS, common_correct=True, n=10)
    x = data.images.float() / 255
    every = torch.stack([m(x).argmax(1) == data.labels for m in models.values()]).all(0)
    assert result.common_correct == int(every.sum())
    assert torch.equal(result.selected["centroid"], result.selected["pixel"])
    assert torch.equal(result.selected["pixel"], every.nonzero().flatten()[:10])
    own = evaluate_robustness(models, data.images, data.labels, SETTINGS, subset="correct")
    assert len(own.selected["centroid"]) > len(own.selected["pixel"])
    clean = own.summary[own.summary["attack"] == "fgsm"]["clean_accuracy"]
    assert (clean == 1.0).all()


class _Noisy(nn.Module):
    def __init__(self):
        super().__init__()
        self.slot = Slot("features")
        self.slot.mechanism = nn.Dropout(0.5)
        self.head = CentroidModel(4)

    def forward(self, x):
        return self.head(self.slot(x))


def test_stochastic_mechanisms_eval_by_default_and_eot_on_request():
    model = _Noisy().train()
    x = torch.rand(4, 1, 8, 8)
    with attacked_view(model, 0) as view:
        assert not model.slot.training and torch.equal(view(x), view(x))
    with attacked_view(model, 8) as view:
        assert model.slot.training and not model.head.training
        assert not torch.equal(view(x), view(x))
    assert model.training and model.slot.training


def test_summarise_counts_target_hits():
    samples = pd.DataFrame({"attack": "pgd-t", "norm": "linf", "eps": 0.1, "index": [0, 1, 2, 3],
                            "label": [0, 0, 1, 1], "clean_pred": [0, 0, 1, 0], "adv_pred": [2, 0, 3, 0],
                            "target": pd.array([2, 1, 2, 2], dtype="Int64"), "perturbation_norm": 0.1})
    samples["success"] = samples["adv_pred"] != samples["label"]
    samples["target_hit"] = (samples["adv_pred"] == samples["target"]).astype("boolean")
    row = summarise(samples).iloc[0]
    assert row["clean_accuracy"] == 0.75 and row["robust_accuracy"] == 0.25
    assert row["attack_success_rate"] == pytest.approx(2 / 3) and row["target_hit_rate"] == 0.25


def test_an_image_the_attack_fixes_is_not_robust():
    """AutoAttack / RobustBench: robust = right on the clean image and on every adversarial one (issue 14)."""
    samples = pd.DataFrame({"attack": ["pgd-t", "pgd-t", "fgsm", "fgsm"], "norm": "linf", "eps": 0.1,
                            "index": [0, 1, 0, 1], "label": [0, 1, 0, 1], "clean_pred": [2, 1, 2, 1],
                            "adv_pred": [0, 1, 0, 1], "target": pd.array([3, 3, None, None], dtype="Int64"),
                            "perturbation_norm": 0.1})
    samples["success"] = samples["adv_pred"] != samples["label"]
    samples["target_hit"] = (samples["adv_pred"] == samples["target"]).astype("boolean")
    summary = summarise(samples).set_index("attack")
    assert summary.loc["pgd-t", "robust_accuracy"] == 0.5  # image 0 was wrong clean: not robust
    assert summary.loc[WORST_CASE, "robust_accuracy"] == 0.5


def test_robust_accuracy_equals_pyautoattack(data):
    """licli's APGD-CE robust accuracy equals AutoAttack's own on the same model, images and seed."""
    from pyautoattack import AutoAttack

    from licli.attacks.autoattack import isolated_autoattack_checks

    model = FirstPixel(CentroidModel(4)).eval()
    settings = AttackSettings(attacks=("apgd-ce",), eps=0.1, steps=20, batch_size=len(data))
    result = evaluate_robustness({"m": model}, data.images, data.labels, settings)
    x = data.images.float() / 255
    ensemble = AutoAttack(model, norm="Linf", eps=0.1, seed=settings.seed, version="custom",
                          attacks=["apgd-ce"], device=x.device)
    ensemble.apgd.n_iter, ensemble.apgd.n_restarts = 20, 1
    with isolated_autoattack_checks():
        _, y_adv = ensemble.run_standard_evaluation(x, data.labels, batch_size=len(x))
    expected = float((y_adv == data.labels).float().mean())
    clean = float((model(x).argmax(1) == data.labels).float().mean())
    assert 0 < expected < clean  # the attack fooled some images and some images were wrong clean
    worst = result.summary.set_index("attack").loc[WORST_CASE, "robust_accuracy"]
    assert worst == pytest.approx(expected)


def test_one_image_convention_at_every_entry_point(data):
    """uint8 0–255 or float in [0, 1] (what torchattacks/AutoAttack users pass) give the same rows; float 0–255 is
    refused instead of being read as saturated images (issue 14), and so are float labels."""
    floats = data.images.float() / 255
    model = CentroidModel(4)
    indices = torch.arange(len(data))
    assert attack_samples(model, floats, data.labels, indices, SETTINGS).equals(
        attack_samples(model, data.images, data.labels, indices, SETTINGS))
    assert torch.equal(predictions(model, floats, batch_size=8), predictions(model, data.images, batch_size=8))
    for call in (lambda: evaluate_robustness({"m": model}, floats * 255, data.labels, SETTINGS),
                 lambda: attack_samples(model, floats * 255, data.labels, indices, SETTINGS),
                 lambda: predictions(model, floats * 255, batch_size=8)):
        with pytest.raises(LicliError, match=r"float images must lie in \[0, 1\] \(got values in \[0"):
            call()
    with pytest.raises(LicliError, match="labels must be one integer class"):
        evaluate_robustness({"m": model}, data.images, data.labels.float(), SETTINGS)


def test_degenerate_models_are_marked_in_tables_and_summary_rows(data):
    class Constant(nn.Module):
        def forward(self, x):
            return x.flatten(1)[:, :4] * 0.01 + torch.tensor([0.0, 0.0, 5.0, 0.0])

    result = evaluate_robustness({"centroid": CentroidModel(4), "constant": Constant()}, data.images, data.labels,
                                 AttackSettings(attacks=("fgsm",), eps=0.1))
    assert result.degeneracy["constant"].degenerate and not result.degeneracy["centroid"].degenerate
    table = robustness_table(result.summary, result.degeneracy)
    assert list(table["model check"]) == ["ok", "DEGENERATE"]
    rows = summary_rows(result.summary, result.degeneracy).set_index(["model", "metric"])
    assert rows.loc[("constant", "degenerate"), "value"] == 1.0 and rows.loc[("centroid", "degenerate"), "value"] == 0
    assert rows.loc[("constant", "top_class_share"), "value"] == 1.0


def test_budgets_that_reach_every_image_are_refused(data):
    with pytest.raises(LicliError, match="^eps 8 in linf reaches every image.*write e.g. eps=8/255,"):
        AttackSettings(eps=8)
    assert AttackSettings(norm="Linf", eps=math.inf).norm == "linf" and AttackSettings(norm="L2").norm == "l2"
    with pytest.raises(LicliError, match="eps 8 in l2 reaches every image"):  # 8x8 images: diameter 8
        evaluate_robustness({"m": CentroidModel(4)}, data.images, data.labels, AttackSettings(norm="l2", eps=8))
