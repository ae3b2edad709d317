"""The degenerate-model guard: constant, chance-level and low-entropy classifiers are flagged, a
good one is not; the numbers equal their definitions (computed here by numpy/scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from licli.errors import LicliError
from licli.evaluations.degenerate import MIN_IMAGES, TOO_FEW, degeneracy

LABELS = torch.arange(200) % 10


def test_a_constant_model_is_degenerate():
    result = degeneracy(torch.full((200,), 6), LABELS, 10)
    assert result.degenerate and result.top_class == 6 and result.top_class_share == 1.0
    assert result.clean_accuracy == pytest.approx(0.1) and result.chance == pytest.approx(0.1)
    assert result.prediction_entropy == 0.0 and len(result.reasons) == 3
    assert result.to_dict()["reasons"] == list(result.reasons) and "DEGENERATE" in result.describe()


def test_the_readme_collapse_is_degenerate():
    """The README's Local Inhibition example: class 6 for 189 of 200 images, 16% accuracy (issue 14)."""
    predictions = torch.full((200,), 6)
    others = torch.tensor([0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11])
    predictions[others] = LABELS[others]  # 11 other answers, all right
    result = degeneracy(predictions, LABELS, 10)
    assert result.degenerate and result.top_class_share == pytest.approx(189 / 200)
    assert any("one class" in reason for reason in result.reasons)


def test_a_good_model_is_not_degenerate_and_numbers_match_their_definitions():
    generator = torch.Generator().manual_seed(0)
    predictions = torch.where(torch.rand(200, generator=generator) < 0.9, LABELS,
                              torch.randint(0, 10, (200,), generator=generator))
    result = degeneracy(predictions, LABELS, 10)
    assert not result.degenerate and result.reasons == ()
    histogram = np.bincount(predictions.numpy(), minlength=10) / 200
    assert result.prediction_entropy == pytest.approx(stats.entropy(histogram) / math.log(10))
    assert result.clean_accuracy == pytest.approx(float((predictions == LABELS).float().mean()))
    assert result.top_class_share == pytest.approx(histogram.max())


def test_chance_accuracy_with_spread_predictions_is_degenerate():
    """Uniform random answers: entropy high, no class dominates, but accuracy is at chance."""
    generator = torch.Generator().manual_seed(1)
    predictions = torch.randint(0, 10, (1000,), generator=generator)
    result = degeneracy(predictions, torch.arange(1000) % 10, 10)
    assert result.degenerate and result.prediction_entropy > 0.9 and result.top_class_share < 0.2
    assert result.reasons == ("accuracy not above chance (99% Wilson interval)",)


def test_two_classes_used_of_ten_is_low_entropy():
    predictions = torch.where(LABELS < 5, 0, 1)  # right on classes 0 and 1 only: 20%
    result = degeneracy(predictions, LABELS, 10)
    assert result.top_class_share == 0.5 and result.prediction_entropy == pytest.approx(math.log(2) / math.log(10))
    assert "prediction entropy < 0.5" in result.reasons


def test_too_few_images_give_no_verdict_and_bad_input_is_refused():
    result = degeneracy(torch.zeros(MIN_IMAGES - 1, dtype=torch.long), torch.arange(MIN_IMAGES - 1) % 3, 3)
    assert not result.degenerate and result.reasons == (TOO_FEW,)
    with pytest.raises(LicliError, match="predictions for"):
        degeneracy(torch.zeros(3), torch.zeros(4), 3)
    with pytest.raises(LicliError, match="outside"):
        degeneracy(torch.tensor([5]), torch.tensor([0]), 3)
