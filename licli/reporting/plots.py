"""Figures (matplotlib, Agg backend: no display needed), written atomically into run folders."""

from __future__ import annotations

import io
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from licli.reporting.files import atomic_write_bytes  # noqa: E402


def _save(figure, path: str | os.PathLike) -> None:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    atomic_write_bytes(path, buffer.getvalue())


def pruning_curves(curve: pd.DataFrame, path: str | os.PathLike, *, title: str) -> None:
    """Accuracy (solid) and robust accuracy (dashed, if present) vs achieved sparsity, one line per model
    (Gradient Mask Fig. 5). ``curve`` has columns model, sparsity, accuracy[, robust_accuracy]."""
    figure, axes = plt.subplots(figsize=(6, 4))
    for model, rows in curve.groupby("model", sort=False):
        rows = rows.sort_values("sparsity")
        line, = axes.plot(100 * rows["sparsity"], 100 * rows["accuracy"], marker="o", label=f"{model}")
        if "robust_accuracy" in rows and rows["robust_accuracy"].notna().any():
            axes.plot(100 * rows["sparsity"], 100 * rows["robust_accuracy"], marker="x", linestyle="--",
                      color=line.get_color(), label=f"{model} (robust)")
    axes.set(xlabel="weights pruned (%)", ylabel="accuracy (%)", title=title, ylim=(0, 100))
    axes.grid(alpha=0.3)
    axes.legend()
    _save(figure, path)


def gsnr_tracks(track: pd.DataFrame, path: str | os.PathLike, *, title: str) -> None:
    """Mean GSNR per layer against the training step (Gradient Mask Fig. 7), log scale."""
    figure, axes = plt.subplots(figsize=(6, 4))
    for layer, rows in track.groupby("layer", sort=False):
        axes.plot(rows["step"], rows["gsnr_mean"], marker=".", label=layer)
    axes.set(xlabel="optimizer step", ylabel="mean GSNR", title=title, yscale="log")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    _save(figure, path)
