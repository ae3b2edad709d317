"""Figures of the Oracle-MNIST benchmark (LI thesis Fig. 3.1, 4.1/4.3, 4.4), matplotlib Agg backend."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from licli.reporting.files import atomic_write_bytes  # noqa: E402

ACTIVATION_COLOURS = {"sigmoid": "tab:blue", "relu": "tab:red"}
"""Fig. 3.1's colours: sigmoid blue, ReLU red."""


def _save(figure: plt.Figure, path: Path) -> Path:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(figure)
    return atomic_write_bytes(path, buffer.getvalue())


def accuracy_curves(curves: pd.DataFrame, baseline: float, path: Path) -> Path:
    """Per-epoch train and permuted-oracle test accuracy per method (mean over seeds; Fig. 4.1, 4.3)."""
    mean = curves.groupby(["method", "epoch"], sort=False)[["train_accuracy", "permuted_accuracy"]].mean()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for method, frame in mean.groupby(level="method", sort=False):
        epochs = frame.index.get_level_values("epoch")
        left.plot(epochs, 100 * frame["train_accuracy"], marker="o", label=method)
        right.plot(epochs, 100 * frame["permuted_accuracy"], marker="o", label=method)
    right.axhline(100 * baseline, color="black", linestyle="--", label="1* (majority class)")
    for axis, title in ((left, "train accuracy (true oracle)"), (right, "test accuracy (permuted oracle)")):
        axis.set(xlabel="epoch", ylabel="accuracy %", title=title)
        axis.grid(alpha=0.3)
    right.legend(fontsize="small")
    return _save(figure, path)


def follow_curves(curves: pd.DataFrame, threshold: float, path: Path) -> Path:
    """Fig. 3.1: share of permuted-oracle probes predicted as the oracle's class vs training samples."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
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
    return _save(figure, path)


def correlation_heatmaps(maps: dict[tuple[str, int], torch.Tensor], path: Path) -> Path:
    """Fig. 4.4: the correlation map over the oracle units, one panel per (method, epoch)."""
    keys = sorted(maps, key=lambda key: (key[0], key[1]))
    methods = list(dict.fromkeys(method for method, _ in keys))
    epochs = sorted({epoch for _, epoch in keys})
    figure, axes = plt.subplots(len(methods), len(epochs), figsize=(3.2 * len(epochs), 3 * len(methods)),
                                squeeze=False)
    for row, method in enumerate(methods):
        for column, epoch in enumerate(epochs):
            axis = axes[row][column]
            axis.set_xticks([])
            axis.set_yticks([])
            if (method, epoch) in maps:
                axis.imshow(maps[(method, epoch)].float().numpy(), cmap="viridis")
            axis.set_title(f"{method} · epoch {epoch}", fontsize="small")
    return _save(figure, path)
