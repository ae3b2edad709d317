"""``licli report`` / ``licli check`` through the CLI: outputs, exit codes 0/1/2, one-line errors."""

from __future__ import annotations

import json
import re

import pytest

from licli.cli import app

from .conftest import robust_rows, write_run


def _one_line(result, code, message):
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("licli: error:") and message in lines[-1]
    assert "Traceback" not in result.output


def test_report_writes_csv_markdown_html_and_json(runner, fixture_runs, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["report", str(fixture_runs), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["runs"]) == 5 and data["skipped"] == []
    robust = [m for m in data["metrics"] if m["model"] == "small-cnn" and m["metric"] == "robust_accuracy"][0]
    assert robust["seeds"] == 3 and robust["mean"] == pytest.approx(0.2)
    assert {p.name for p in out.iterdir()} == {"comparison.csv", "report.md", "report.html"}
    assert "data:image/png;base64," in (out / "report.html").read_text()


def test_report_prints_tables_and_filters(runner, fixture_runs):
    result = runner.invoke(app, ["report", str(fixture_runs), "--command", "attack", "--mechanism", "normout"])
    assert result.exit_code == 0
    assert "robust_accuracy" in result.stdout and "normout" in result.stdout and "mlp" not in result.stdout


def test_skipped_folders_are_noticed_not_fatal(runner, fixture_runs):
    (write_run(fixture_runs, "attack", "broken", summary=robust_rows("m", 0.1)) / "manifest.json").write_text("{")
    result = runner.invoke(app, ["report", str(fixture_runs)])
    assert result.exit_code == 0
    assert "skipped" in result.stderr and "broken" in result.stderr and "not valid JSON" in result.stderr


def test_write_baseline_then_check_passes_and_a_regression_fails(runner, fixture_runs, tmp_path):
    baseline = tmp_path / "baseline.json"
    assert runner.invoke(app, ["report", str(fixture_runs), "--write-baseline", str(baseline)]).exit_code == 0
    assert runner.invoke(app, ["check", str(baseline), str(fixture_runs)]).exit_code == 0
    write_run(fixture_runs, "attack", "plain-s3", seed=3, summary=robust_rows("small-cnn", -0.6))
    result = runner.invoke(app, ["check", str(baseline), str(fixture_runs)])
    _one_line(result, 1, "small-cnn robust_accuracy [attack=fgsm;norm=linf;eps=0.0313725] = 0, baseline 0.2")
    diff = json.loads(runner.invoke(app, ["check", str(baseline), str(fixture_runs), "--json"]).stdout)["diff"]
    assert sorted(d["status"] for d in diff).count("regressed") == 2
    loose = runner.invoke(app, ["report", str(fixture_runs), "--baseline", str(baseline), "--tolerance", "0.25"])
    assert loose.exit_code == 0


@pytest.mark.parametrize("argv,message", [
    (["report", "{tmp}/nowhere"], "no run folder or reports folder"),
    (["report", "{runs}", "--tolerance", "abc"], "--tolerance 'abc' is not a number"),
    (["report", "{runs}", "--tolerance", "-1"], "tolerance must be a finite number ≥ 0"),
    (["report", "{runs}", "--command", "nothing"], "no finished runs with metrics"),
    (["check", "{tmp}/missing.json", "{runs}"], "baseline file"),
    (["check", "{tmp}/bad.json", "{runs}"], "not valid JSON"),
    (["report", "{runs}", "--html", "{tmp}/bad.json/report.html"], "cannot write"),
    (["reproduce", "nope"], "unknown recipe 'nope'"),
    (["reproduce", "normout", "--scale", "huge"], "Invalid value for '--scale'"),
])
def test_bad_input_exits_2_with_one_line(runner, fixture_runs, tmp_path, argv, message):
    (tmp_path / "bad.json").write_text("{")
    argv = [a.format(tmp=tmp_path, runs=fixture_runs) for a in argv]
    _one_line(runner.invoke(app, argv), 2, message)


@pytest.mark.parametrize("scale", ["smoke", "full"])
def test_reproduce_dry_run_lists_steps_and_paper_numbers(runner, scale):
    result = runner.invoke(app, ["reproduce", "normout", "--scale", scale, "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    ids = [s["step"] for s in data["steps"]]
    assert ("train-t-softmax-t150" in ids) == (scale == "full"), "full-only steps stay out of the smoke run"
    train = next(s for s in data["steps"] if s["step"] == "train-dropout")
    assert train["available"] and ("--dataset cifar10 " if scale == "full" else "--dataset cifar10-mini") in train["args"]
    assert not re.search(r"\{[a-z_]+\}", train["args"]), "scale variables and the configs folder are filled in"
    assert len(data["paper"]) > 50 and all(p["paper"] is not None for p in data["paper"])
