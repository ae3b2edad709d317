"""Plots of ``licli evaluate saliency`` (matplotlib, Agg): overlays, blur-robustness and sanity curves."""

from __future__ import annotations

import pandas as pd
import torch
from matplotlib.figure import Figure

from licli.reporting.plots import subplots

SALIENCY_DPI = 110


def _box(ax, box, colour: str, label: str) -> None:
    from matplotlib.patches import Rectangle

    x0, y0, x1, y1 = (int(v) for v in box)
    ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0 + 1, y1 - y0 + 1, fill=False, edgecolor=colour,
                           linewidth=1.5, label=label))


def overlay_grid(images: torch.Tensor, maps: dict[str, torch.Tensor], per_image: pd.DataFrame,
                 title: str) -> Figure:
    """One row per image: the image with its true box, then each method's heatmap with its box (rule ``all``)."""
    n, methods = len(images), list(maps)
    fig, axes = subplots(n, 1 + len(methods), figsize=(2.2 * (1 + len(methods)), 2.2 * n), dpi=SALIENCY_DPI,
                         squeeze=False)
    boxes = per_image[per_image["box_rule"] == "all"]
    for i in range(n):
        image = images[i].permute(1, 2, 0).squeeze(-1).cpu().numpy()
        row = boxes[boxes["image"] == i]
        axes[i, 0].imshow(image, cmap="gray")
        true_box = row[["true_x0", "true_y0", "true_x1", "true_y1"]].iloc[0]
        _box(axes[i, 0], true_box, "lime", "true")
        axes[i, 0].set_title(f"label {row['label'].iloc[0]} pred {row['pred'].iloc[0]}", fontsize=7)
        for j, method in enumerate(methods, start=1):
            found = row[row["method"] == method].iloc[0]
            axes[i, j].imshow(image, cmap="gray")
            axes[i, j].imshow(maps[method][i].numpy(), cmap="jet", alpha=0.5)
            _box(axes[i, j], true_box, "lime", "true")
            _box(axes[i, j], found[["x0", "y0", "x1", "y1"]], "red", "top-k box")
            axes[i, j].set_title(f"{method} IoU {found['iou']:.2f}", fontsize=7)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title, fontsize=9)
    return fig


def line_plot(frame: pd.DataFrame, x: str, y: str, group: str, title: str, ylabel: str) -> Figure:
    """``y`` against ``x``, one line per value of ``group``."""
    fig, ax = subplots(figsize=(5, 3.5), dpi=SALIENCY_DPI)
    for name, part in frame.groupby(group, sort=False):
        ax.plot(part[x], part[y], marker="o", label=str(name))
    ax.set_xlabel(x)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig
