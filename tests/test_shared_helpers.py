"""The helpers written once: comma-separated lists, batched predictions and figure files, each checked against
an independent reference (``str.split``, a plain forward pass, matplotlib's own ``pyplot.savefig``)."""

from __future__ import annotations

import io
import math

import pytest
import torch

from licli.attacks.threat import parse_budgets
from licli.errors import LicliError
from licli.evaluations import oracle, robustness
from licli.evaluations.saliency import scoring
from licli.parsing import comma_list
from licli.reporting.plots import subplots
from licli.runs import figure_png


@pytest.mark.parametrize("text", ["a,b,c", " a , b ,, c ,", "single", "", None])
def test_comma_list_matches_split_and_strip(text):
    expected = tuple(part.strip() for part in (text or "").split(",") if part.strip())
    assert comma_list(text) == expected


def test_comma_list_converts_items_and_names_the_flag_on_error():
    assert comma_list("1, 2,3", "--seeds", int) == (1, 2, 3)
    assert comma_list("0,0.5", "--levels", float) == (0.0, 0.5)
    with pytest.raises(LicliError, match=r"--seeds 'a,b' is not a comma-separated list of integers; pass e.g. "
                                         r"--seeds 0,1,2"):
        comma_list("a,b", "--seeds", int)
    with pytest.raises(LicliError, match="pass e.g. --levels 0,0.5,0.9"):
        comma_list("0,x", "--levels", float, example="0,0.5,0.9")


def test_an_item_parser_keeps_its_own_error():
    assert parse_budgets("0, 8/255,inf") == [0.0, 8 / 255, math.inf]
    with pytest.raises(LicliError, match="is not a number"):
        parse_budgets("0,eight")
    with pytest.raises(LicliError, match="eps_sweep is empty"):
        parse_budgets(" , ")


def test_one_predictions_function_equals_a_plain_forward_pass():
    assert scoring.predictions is robustness.predictions and oracle.predictions is robustness.predictions
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5)).eval()
    images = torch.randint(0, 256, (23, 3, 2, 2), dtype=torch.uint8)
    with torch.no_grad():
        expected = model(images.float() / 255).argmax(1)
    assert torch.equal(robustness.predictions(model, images, batch_size=4), expected)
    assert torch.equal(robustness.predictions(model, images.float() / 255, batch_size=7), expected)


def test_figure_png_equals_pyplot_savefig():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def draw(axes):
        axes.plot([0, 1, 2], [2, 0, 1], marker="o", label="x")
        axes.set_title("t")
        axes.legend()

    figure, axes = subplots(figsize=(3, 2))
    draw(axes)
    reference, reference_axes = plt.subplots(figsize=(3, 2))
    draw(reference_axes)
    buffer = io.BytesIO()
    reference.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(reference)
    assert figure_png(figure) == buffer.getvalue()
