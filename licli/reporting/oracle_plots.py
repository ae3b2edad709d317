"""Figures of the Oracle-MNIST benchmark (LI thesis Fig. 3.1, 4.1/4.3, 4.4), matplotlib Agg backend."""

from __future__ import annotations

import pandas as pd
import torch
from matplotlib.figure import Figure

from licli.reporting.plots import subplots

ACTIVATION_COLOURS = {"sigmoid": "tab:blue", "relu": "tab:red"}
"""Fig. 3.1's colours: sigmoid blue, ReLU red."""


def accuracy_curves(curves: pd.DataFrame, baseline: float) -> Figure:
    """Per-epoch accuracy per method (mean over seeds; Fig. 4.1, 4.3): train (true oracle), test with the
    permuted oracle (dashed: Local Inhibition scored with C = I) and test with the oracle zeroed (does the
    image path learn?)."""
    columns = ["train_accuracy", "permuted_accuracy", "permuted_accuracy_identity", "zeroed_accuracy"]
    mean = curves.groupby(["method", "epoch"], sort=False)[columns].mean()
    figure, axes = subplots(1, 3, figsize=(15, 4), sharex=True)
    for index, (method, frame) in enumerate(mean.groupby(level="method", sort=False)):
        epochs = frame.index.get_level_values("epoch")
        colour = f"C{index}"
        axes[0].plot(epochs, 100 * frame["train_accuracy"], marker="o", color=colour, label=method)
        axes[1].plot(epochs, 100 * frame["permuted_accuracy"], marker="o", color=colour, label=method)
        if frame["permuted_accuracy_identity"].notna().any():
            axes[1].plot(epochs, 100 * frame["permuted_accuracy_identity"], linestyle="--", color=colour,
                         label=f"{method} (C = I)")
        axes[2].plot(epochs, 100 * frame["zeroed_accuracy"], marker="o", color=colour, label=method)
    axes[1].axhline(100 * baseline, color="black", linestyle=":", label="1* (majority class)")
    titles = ("train accuracy", "test accuracy (permuted oracle)", "test accuracy (oracle zeroed)")
    for axis, title in zip(axes, titles):
        axis.set(xlabel="epoch", ylabel="accuracy %", title=title)
        axis.grid(alpha=0.3)
    axes[1].legend(fontsize="small")
    return figure


def follow_curves(curves: pd.DataFrame, threshold: float) -> Figure:
    """Fig. 3.1: share of permuted-oracle probes predicted as the oracle's class vs training samples."""
    figure, axis = subplots(figsize=(7, 4.5))
    copies = sorted(curves["copies"].unique())
    for (activation, n), frame in curves.groupby(["activation", "copies"]):
        shade = 0.3 + 0.7 * (copies.index(n) + 1) / len(copies)
        axis.plot(frame["samples"], frame["follow_rate"], color=ACTIVATION_COLOURS.get(activation, "gray"),
                  alpha=shade, label=f"{activation} × {n}")
    axis.axhline(threshold, color="black", linestyle=":", linewidth=1)
    axis.set(xlabel="training samples", ylabel="follows the oracle (share of probes)",
             title="How fast the network learns the oracle (oracle size = copies × classes)")
    axis.legend(fontsize="x-small", ncol=2)
    axis.grid(alpha=0.3)
    return figure


def correlation_heatmaps(maps: dict[tuple[str, int], torch.Tensor]) -> Figure:
    """Fig. 4.4: the correlation map over the oracle units, one panel per (method, epoch)."""
    keys = sorted(maps, key=lambda key: (key[0], key[1]))
    methods = list(dict.fromkeys(method for method, _ in keys))
    epochs = sorted({epoch for _, epoch in keys})
    figure, axes = subplots(len(methods), len(epochs), figsize=(3.2 * len(epochs), 3 * len(methods)),
                            squeeze=False)
    for row, method in enumerate(methods):
        for column, epoch in enumerate(epochs):
            axis = axes[row][column]
            axis.set_xticks([])
            axis.set_yticks([])
            if (method, epoch) in maps:
                axis.imshow(maps[(method, epoch)].float().numpy(), cmap="viridis")
            axis.set_title(f"{method} · epoch {epoch}", fontsize="small")
    return figure
