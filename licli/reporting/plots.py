"""Figures (matplotlib ``Figure`` objects, no pyplot state, no display needed). Every plot function returns
its figure; ``licli.runs.Run.save_figure`` writes it into the run folder (``licli.runs.figure_png``)."""

from __future__ import annotations

import math
from typing import Any

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from licli.runs import FIGURE_DPI


def subplots(*grid: int, figsize: tuple[float, float], dpi: int = FIGURE_DPI, **options: Any) -> tuple[Figure, Any]:
    """A new figure and its axes (``Figure.subplots``: ``grid`` = rows, columns), drawn at ``dpi``."""
    figure = Figure(figsize=figsize, dpi=dpi)
    return figure, figure.subplots(*grid, **options)


def pruning_curves(curve: pd.DataFrame, *, title: str) -> Figure:
    """Accuracy (solid) and robust accuracy (dashed, if present) vs achieved sparsity, one line per model
    (Gradient Mask Fig. 5). ``curve`` has columns model, sparsity, accuracy[, robust_accuracy]."""
    figure, axes = subplots(figsize=(6, 4))
    for model, rows in curve.groupby("model", sort=False):
        rows = rows.sort_values("sparsity")
        line, = axes.plot(100 * rows["sparsity"], 100 * rows["accuracy"], marker="o", label=f"{model}")
        if "robust_accuracy" in rows and rows["robust_accuracy"].notna().any():
            axes.plot(100 * rows["sparsity"], 100 * rows["robust_accuracy"], marker="x", linestyle="--",
                      color=line.get_color(), label=f"{model} (robust)")
    axes.set(xlabel="weights pruned (%)", ylabel="accuracy (%)", title=title, ylim=(0, 100))
    axes.grid(alpha=0.3)
    axes.legend()
    return figure


def gsnr_tracks(track: pd.DataFrame, *, title: str) -> Figure:
    """Mean GSNR per layer against the training step (Gradient Mask Fig. 7), log scale."""
    figure, axes = subplots(figsize=(6, 4))
    for layer, rows in track.groupby("layer", sort=False):
        axes.plot(rows["step"], rows["gsnr_mean"], marker=".", label=layer)
    axes.set(xlabel="optimizer step", ylabel="mean GSNR", title=title, yscale="log")
    axes.grid(alpha=0.3)
    axes.legend(fontsize="small")
    return figure


def robustness_curve(summary: pd.DataFrame, title: str = "") -> Figure:
    """Robust accuracy against ε: one colour per model, one line style per attack; ε = ∞ drawn last."""
    finite = sorted(e for e in summary["eps"].unique() if math.isfinite(e))
    step = (finite[-1] - finite[0]) / max(len(finite) - 1, 1) if finite else 1.0
    position = {e: e for e in finite}
    if len(finite) < summary["eps"].nunique():
        position[math.inf] = (finite[-1] if finite else 0.0) + 2 * (step or 1.0)
    figure, axes = subplots(figsize=(7, 4.5))
    styles = ["-", "--", ":", "-.", (0, (5, 1)), (0, (1, 1)), (0, (3, 1, 1, 1))]
    colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    attacks = list(dict.fromkeys(summary["attack"]))
    for m, (model, part) in enumerate(summary.groupby("model", sort=False)):
        for a, attack in enumerate(attacks):
            line = part[part["attack"] == attack].sort_values("eps")
            axes.plot([position[e] for e in line["eps"]], 100 * line["robust_accuracy"], marker="o",
                      linestyle=styles[a % len(styles)], color=colours[m % len(colours)], label=f"{model} · {attack}")
    ticks = sorted(position.values())
    labels = ["∞" if not math.isfinite(e) else f"{e * 255:.3g}/255" for e in sorted(position, key=position.get)]
    axes.set_xticks(ticks, labels, rotation=45, fontsize=8)
    axes.set_xlabel("ε")
    axes.set_ylabel("robust accuracy (%)")
    axes.set_ylim(-2, 102)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, ncol=2)
    figure.tight_layout()
    return figure


TRACK_PLOTS = {"gsnr": gsnr_tracks}
"""The figure of each quantity ``licli train --track`` records (``licli.evaluations.TRACKERS``)."""
