"""Redirected output (CI logs, files, pipes) keeps every cell of a wide table: nothing cut at 80 columns."""

from __future__ import annotations

import json

from licli.cli import app

from .conftest import write_run

MODEL = "resnet18+local-inhibition@layer1.0.conv1,layer2.0.conv1(kernel=gaussian-7x7,calibration=online)"
EPS = ["0.00392157", "0.00784314", "0.0156863", "0.0313725", "0.0627451", "0.12549"]


def test_redirected_report_keeps_every_cell(runner, tmp_path):
    rows = [{"model": MODEL, "metric": "robust_accuracy", "setting": f"attack=pgd;norm=linf;eps={eps}",
             "value": 0.5 - i / 20} for i, eps in enumerate(EPS)]
    write_run(tmp_path / "reports", "attack", "wide", summary=rows)
    result = runner.invoke(app, ["report", str(tmp_path / "reports")], env={"COLUMNS": None})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(map(len, lines)) > 200 and "…" not in result.stdout
    model_row = [line for line in lines if MODEL in line]  # the whole label, on one line
    assert len(model_row) == 1
    metrics = json.loads(runner.invoke(app, ["report", str(tmp_path / "reports"), "--json"]).stdout)["metrics"]
    means = {m["setting"]: m["mean"] for m in metrics}
    cells = [cell.strip() for cell in model_row[0].split("│")[1:-1]]  # every cell of the row, whole, in order
    assert cells == [MODEL, "1", *[f"{means[f'attack=pgd;norm=linf;eps={eps}']:.4g}" for eps in EPS]]
    header = "\n".join(lines[:lines.index(model_row[0])])
    for eps in EPS:
        assert f"attack=pgd;norm=linf;eps={eps}" in header
