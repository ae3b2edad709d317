"""A ``licli verdict`` run in ``licli report``: its own section (the decision, the evidence lines, the
scale, the per-ε comparison), in HTML and Markdown, from the verdict.json that ``Verdict.to_dict`` writes."""

from __future__ import annotations

import html
import json

import pandas as pd

from licli.cli import app
from licli.evaluations.verdict import MORE, Scale, Verdict
from licli.reporting.compare import aggregate
from licli.reporting.discovery import discover
from licli.reporting.document import build_report, render_markdown
from licli.reporting.html import render_html
from tests.reporting.conftest import write_run

EVIDENCE = ("no model is degenerate (2 judged on 100 images)",
            "ε = 0.1: robust accuracy mechanism − baseline +12.0%, 95% interval [+5.0%, +19.0%] <&>")


def _verdict_run(root, name="li-vs-erm"):
    comparisons = pd.DataFrame([{"eps": 0.1, "n": 100, "pairs": 1, "effect": 0.12, "image_low": 0.05,
                                 "image_high": 0.19, "seed_low": float("nan"), "seed_high": float("nan"),
                                 "only_mechanism": 14, "only_baseline": 2, "p_value": 0.0042, "p_holm": 0.0042}])
    scale = Scale(images=100, seeds=1, dataset="mnist-mini", device="cpu", epochs=(3, 1))
    result = Verdict(MORE, (f"scale: {scale.describe()}", *EVIDENCE), scale, pd.DataFrame(), comparisons,
                     pd.DataFrame(), {})
    folder = write_run(root, "verdict", name, seed=0)
    (folder / "verdict.json").write_text(json.dumps(result.to_dict()))
    return result


def test_a_verdict_run_gets_a_section_with_decision_evidence_and_scale(fixture_runs):
    result = _verdict_run(fixture_runs)
    discovery = discover([fixture_runs])
    assert not discovery.skipped
    report = build_report(discovery, aggregate(discovery.metrics()))
    section = report.sections[0]  # the verdict comes first: it is the report's answer
    assert section.title == "verdict · li-vs-erm: MORE ROBUST"
    assert section.note == result.scale.describe() and "SMOKE SCALE" in section.note
    assert section.lines == result.evidence
    row = section.table.iloc[0]
    assert row["robust accuracy mechanism − baseline"] == "+12.0%"
    assert row["interval (images)"] == "[+5.0%, +19.0%]" and row["interval (seeds)"] == "[—, —]"
    assert (row["only mechanism robust"], row["only baseline robust"], row["Holm p"]) == (14, 2, "0.0042")

    page = render_html(report)
    assert "<h2>verdict · li-vs-erm: MORE ROBUST</h2>" in page
    for line in result.evidence:
        assert f"<li>{html.escape(line)}</li>" in page
    assert html.escape(result.scale.describe()) in page
    assert page.index("MORE ROBUST") < page.index("<h2>robust_accuracy</h2>")
    markdown = render_markdown(report)
    assert "## verdict · li-vs-erm: MORE ROBUST" in markdown and f"- {EVIDENCE[1]}" in markdown


def test_report_of_only_verdict_runs_prints_the_verdict(runner, tmp_path):
    _verdict_run(tmp_path / "reports")
    result = runner.invoke(app, ["report", str(tmp_path / "reports"), "--html", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert "verdict · li-vs-erm: more robust" in result.stdout
    assert "MORE ROBUST" in (tmp_path / "r.html").read_text()


def test_a_broken_verdict_json_is_skipped_with_a_notice(fixture_runs):
    folder = write_run(fixture_runs, "verdict", "broken", seed=0)
    (folder / "verdict.json").write_text('{"decision": "more-robust"}')
    discovery = discover([fixture_runs])
    assert [s.reason.split(";")[0] for s in discovery.skipped] == ["verdict.json lacks verdict, evidence, scale, comparisons"]
