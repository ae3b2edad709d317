"""Tables: mean ± std over seeds (checked against the statistics module); the HTML page is self-contained."""

from __future__ import annotations

import base64
import re
import statistics

import pandas as pd

from licli.reporting.compare import aggregate, metric_tables
from licli.reporting.discovery import discover
from licli.reporting.document import build_report, render_markdown
from licli.reporting.html import render_html


def test_aggregate_over_seeds(fixture_runs):
    aggregated = aggregate(discover([fixture_runs]).metrics())
    plain = aggregated[(aggregated["model"] == "small-cnn") & (aggregated["metric"] == "robust_accuracy")].iloc[0]
    assert plain["seeds"] == 3
    assert abs(plain["mean"] - statistics.mean([0.1, 0.2, 0.3])) < 1e-12
    assert abs(plain["std"] - statistics.stdev([0.1, 0.2, 0.3])) < 1e-12
    single = aggregated[aggregated["model"].str.contains("normout") & (aggregated["metric"] == "robust_accuracy")].iloc[0]
    assert single["seeds"] == 1 and pd.isna(single["std"])


def test_rows_of_one_seed_are_averaged_before_the_spread():
    rows = pd.DataFrame([
        {"run": "a", "model": "m", "metric": "clean_accuracy", "setting": "", "value": 0.8, "direction": "higher", "seed": 0},
        {"run": "b", "model": "m", "metric": "clean_accuracy", "setting": "", "value": 0.9, "direction": "higher", "seed": 0},
        {"run": "c", "model": "m", "metric": "clean_accuracy", "setting": "", "value": 0.7, "direction": "higher", "seed": 1},
    ])
    row = aggregate(rows).iloc[0]
    assert row["seeds"] == 2
    assert abs(row["mean"] - statistics.mean([0.85, 0.7])) < 1e-12
    assert abs(row["std"] - statistics.stdev([0.85, 0.7])) < 1e-12


def test_metric_tables_lay_out_models_by_settings(fixture_runs):
    tables = metric_tables(aggregate(discover([fixture_runs]).metrics()))
    assert sorted(tables) == ["clean_accuracy", "robust_accuracy", "test_loss", "train_accuracy"]
    robust = tables["robust_accuracy"].set_index("model")
    assert list(robust.columns) == ["seeds", "attack=fgsm;norm=linf;eps=0.0313725"]
    assert robust.loc["small-cnn", "attack=fgsm;norm=linf;eps=0.0313725"] == "0.2 ± 0.1"
    assert robust.loc["small-cnn", "seeds"] == 3
    assert robust.loc["small-cnn+normout@hidden(method=temporal-max)", "attack=fgsm;norm=linf;eps=0.0313725"] == "0.4"
    assert tables["test_loss"].attrs["direction"] == "lower"


def test_html_is_self_contained_and_embeds_every_plot(fixture_runs):
    discovery = discover([fixture_runs])
    page = render_html(build_report(discovery, aggregate(discovery.metrics())))
    assert not re.search(r"https?://", page)
    assert not re.search(r"""(?:src|href)\s*=\s*["'](?!data:)""", page), "every resource is inline"
    assert "<script" not in page and "@import" not in page
    for _, image in discovery.images():
        assert f'src="data:image/png;base64,{base64.b64encode(image.read_bytes()).decode()}"' in page
    assert page.count("<img") == len(discovery.images()) == 4
    assert "20 ± 10" in page  # robust accuracy 0.2 ± 0.1 over three seeds, shown in %
    assert page.count('<div class="scroll">') == page.count("<table") > 2  # every table scrolls inside its box
    robust = page.split("<h2>robust_accuracy</h2>")[1].split("<h2>")[0]
    assert robust.count("<img") == 4  # the attack runs' plots stand beside the table of their main metric


def test_markdown_has_tables_plots_and_notices(fixture_runs, tmp_path):
    (fixture_runs / "stray").mkdir()
    (fixture_runs / "stray" / "summary.csv").write_text("model,metric,setting,value\n")
    discovery = discover([fixture_runs])
    text = render_markdown(build_report(discovery, aggregate(discovery.metrics())), relative_to=fixture_runs)
    assert "## robust_accuracy" in text and "| small-cnn | 3 | 20 ± 10 |" in text and "in %" in text
    assert "![attack · plain-s0 · plot0.png](attack/20260101-000000-plain-s0/plot0.png)" in text
    assert "## skipped" in text and "no manifest.json" in text
