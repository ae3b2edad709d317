"""Fixture run folders written by hand, shaped like those ``recorded_run`` writes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402


def write_run(root: Path, command: str, name: str, *, seed: int | None = 0, summary: list[dict] | None = None,
              files: dict[str, pd.DataFrame] | None = None, plots: int = 0, tags: list[str] | None = None,
              **manifest: Any) -> Path:
    folder = root / command / f"20260101-000000-{name}"
    folder.mkdir(parents=True)
    if summary is not None:
        pd.DataFrame(summary).to_csv(folder / "summary.csv", index=False)
    for file, frame in (files or {}).items():
        frame.to_csv(folder / file, index=False)
    for index in range(plots):
        figure, axis = plt.subplots(figsize=(2, 2))
        axis.plot([0, 1], [index, 1 - index])
        figure.savefig(folder / f"plot{index}.png")
        plt.close(figure)
    document = {"command": command, "seed": seed, "status": "ok", "started": "2026-01-01T00:00:00",
                "run_options": {"name": name}, "config": {}, "inputs": {}, "files": {}, **manifest}
    if tags is not None:
        document["tags"] = tags
    (folder / "manifest.json").write_text(json.dumps(document))
    return folder


def robust_rows(model: str, value: float, eps: str = "0.0313725") -> list[dict]:
    return [{"model": model, "metric": "robust_accuracy", "setting": f"attack=fgsm;norm=linf;eps={eps}", "value": value},
            {"model": model, "metric": "clean_accuracy", "setting": "split=test", "value": value + 0.5}]


@pytest.fixture
def fixture_runs(tmp_path: Path) -> Path:
    """Three seeds of a plain model and one of a NormOut model (attack runs), plus a train run read by its adapter."""
    root = tmp_path / "reports"
    for seed, value in enumerate([0.1, 0.2, 0.3]):
        write_run(root, "attack", f"plain-s{seed}", seed=seed, summary=robust_rows("small-cnn", value), plots=1,
                  tags=["paper"])
    write_run(root, "attack", "normout-s0", seed=0, summary=robust_rows("small-cnn+normout@hidden(method=temporal-max)", 0.4),
              plots=1)
    write_run(root, "train", "train", seed=3, config={"model": "mlp", "dataset": "mnist-mini"},
              files={"metrics.csv": pd.DataFrame({"epoch": [1, 2], "train_loss": [1.0, 0.5],
                                                  "train_accuracy": [0.7, 0.8], "test_accuracy": [0.75, 0.9],
                                                  "test_loss": [0.8, 0.3]})})
    return root
