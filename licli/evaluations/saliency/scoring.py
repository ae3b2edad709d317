"""Localisation scores of several saliency methods on one common image list (Gradient Mask §3.2, Table 3).

Every model scores the same images, chosen before any model is run (the first ``n`` of the split, not
filtered by correctness as the released evaluation did); ``image_list_sha256`` identifies the list
for the manifest. Results are tidy: one row per image × method × box rule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn

from licli.errors import LicliError
from licli.evaluations.robustness import predictions
from licli.progress import OnProgress, Parts
from licli.saliency.layers import default_layers, resolve_layers
from licli.saliency.li_map import DEFAULT_SIGMA, LI_MAP_RESPONSES, LOG_PADDINGS
from licli.evaluations.saliency.localization import BOX_CONVENTION, BOX_RULES, box_iou, saliency_boxes
from licli.registry import pick
from licli.saliency import BACKENDS, LAST_LAYER_ONLY

TARGETS = ("label", "pred")


@dataclass(frozen=True)
class SaliencyConfig:
    """How maps are made and scored; recorded in the manifest."""

    methods: tuple[str, ...] = ("li-map", "gradcam", "gradcam++")
    backend: str = "native"
    target: str = "label"
    percent: float = 0.15
    layers: tuple[str, ...] = ()
    """Activation layers (slot names or module paths); empty: all spatial slots for LI-Map, the last for CAMs."""
    sigma: float = DEFAULT_SIGMA
    kernel_size: int | None = None
    response: str = "centre"
    padding: str = "replicate"
    batch_size: int = 100
    box_convention: str = BOX_CONVENTION

    def __post_init__(self) -> None:
        registry = pick(BACKENDS, self.backend, "saliency backend")
        for method in self.methods:
            pick(registry, method, "saliency method")
        if not self.methods:
            raise LicliError("methods is empty: no saliency method given", f"pass e.g. methods={','.join(registry)}",
                             field="methods")
        if self.target not in TARGETS:
            raise LicliError(f"target {self.target!r} is unknown", "pass target=label or target=pred", field="target")
        if not 0 < self.percent <= 1:
            raise LicliError(f"percent must be in (0, 1] (got {self.percent})", "pass e.g. percent=0.15", field="percent")
        if not self.sigma > 0:
            raise LicliError(f"sigma must be > 0 (got {self.sigma})", "pass e.g. sigma=2", field="sigma")
        if self.kernel_size is not None and (self.kernel_size < 1 or self.kernel_size % 2 == 0):
            raise LicliError(f"kernel_size must be a positive odd integer (got {self.kernel_size})",
                             "pass e.g. kernel_size=17, or leave it out to take scipy's size for σ", field="kernel_size")
        pick(LI_MAP_RESPONSES, self.response, "LI-Map response")
        pick(LOG_PADDINGS, self.padding, "LoG padding")
        if self.batch_size < 1:
            raise LicliError(f"batch_size must be ≥ 1 (got {self.batch_size})", "pass e.g. batch_size=100",
                             field="batch_size")


def image_list_sha256(dataset: str, split: str, indices: torch.Tensor, ids: Sequence[str] | None = None) -> str:
    """The hash of the common image list: dataset, split, the image indices and (if the source names its
    images, as VOC does) their ids, so two copies that keep different images hash differently."""
    digest = hashlib.sha256(f"{dataset}:{split}:".encode())
    digest.update(indices.cpu().to(torch.int64).numpy().tobytes())
    if ids is not None:
        digest.update("\n".join(ids[int(i)] for i in indices).encode())
    return digest.hexdigest()


def build_method(model: nn.Module, name: str, settings: SaliencyConfig, image_shape: tuple[int, int, int]):
    """The method ``name`` of ``settings.backend`` bound to ``model`` and its layers."""
    factory = pick(pick(BACKENDS, settings.backend, "saliency backend"), name, "saliency method")
    names = list(settings.layers) or default_layers(model, image_shape, last_only=LAST_LAYER_ONLY[name])
    layers = resolve_layers(model, names)
    if name == "li-map":
        return factory(model, layers, sigma=settings.sigma, size=settings.kernel_size, response=settings.response,
                       padding=settings.padding)
    return factory(model, layers)


@torch.no_grad()
def output_classes(model: nn.Module, images: torch.Tensor) -> int:
    """How many class scores ``model`` gives (one probe image)."""
    return int(model(images[:1]).shape[1])


def check_label_space(model_classes: int, num_classes: int, *, target: str, needs_labels: bool, model: str,
                      dataset: str) -> bool:
    """Whether the model's classes are the dataset's (then labels and predictions are comparable).

    When they differ (an ImageNet model on VOC 2007), the label is no class of the model: a LicliError if
    the maps are made for the label (``target="label"``) or the mode compares predictions with labels
    (``needs_labels``); otherwise (``--target pred``) False, and the caller reports no accuracy.
    """
    if model_classes == num_classes:
        return True
    mismatch = f"model {model} scores {model_classes} classes but {dataset} has {num_classes}"
    if needs_labels:
        raise LicliError(f"{mismatch}: its predictions cannot be compared with the dataset's labels",
                         f"use a model trained on {dataset}'s classes")
    if target == "label":
        raise LicliError(f"{mismatch}, so a {dataset} label is not a class of the model (target=label)",
                         "pass target=pred: the maps then explain the model's own prediction", field="target")
    return False


def batch_count(images: torch.Tensor, batch_size: int) -> int:
    return -(-len(images) // batch_size)


def saliency_maps(method, images: torch.Tensor, classes: torch.Tensor, batch_size: int, *,
                  parts: Parts | None = None, label: str = "") -> torch.Tensor:
    """Maps (N, H, W) of ``images`` (float, [0, 1], on the device) for ``classes``, batch by batch; ``parts``
    counts each batch as one finished part, named after ``label``."""
    maps = []
    batches = batch_count(images, batch_size)
    for number, start in enumerate(range(0, len(images), batch_size)):
        with parts.part(f"{label}batch {number + 1}/{batches}") if parts else nullcontext():
            maps.append(method(images[start:start + batch_size], classes[start:start + batch_size]).detach())
    return torch.cat(maps)


def localization_scores(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, boxes: torch.Tensor,
                        settings: SaliencyConfig, keep_maps: int = 0, on_progress: OnProgress | None = None,
                        label: str = "") -> tuple[pd.DataFrame, dict[str, torch.Tensor]]:
    """Per-image IoU of each method's top-``percent`` box with the true box, for each box rule.

    Returns the tidy frame (image, label, pred, target_class, method, box_rule, box, true box, iou) and
    the maps of the first ``keep_maps`` images per method (for overlays). ``on_progress`` hears of each
    (method, batch) mapped (``licli.progress``; ``label`` names the model).
    """
    predicted = predictions(model, images, batch_size=settings.batch_size)
    classes = labels if settings.target == "label" else predicted
    frames, kept = [], {}
    parts = Parts("saliency maps", len(settings.methods) * batch_count(images, settings.batch_size), on_progress)
    for name in settings.methods:
        method = build_method(model, name, settings, tuple(images.shape[1:]))
        maps = saliency_maps(method, images, classes, settings.batch_size, parts=parts, label=f"{label}{name} · ")
        kept[name] = maps[:keep_maps].cpu()
        for rule in BOX_RULES:
            found = saliency_boxes(maps, settings.percent, rule)
            iou = box_iou(found, boxes)
            frame = pd.DataFrame(torch.cat([found, boxes], 1).cpu().numpy(),
                                 columns=["x0", "y0", "x1", "y1", "true_x0", "true_y0", "true_x1", "true_y1"])
            frames.append(frame.assign(method=name, box_rule=rule, iou=iou.cpu().numpy(),
                                       image=range(len(images)), label=labels.cpu().numpy(),
                                       pred=predicted.cpu().numpy(), target_class=classes.cpu().numpy()))
    result = pd.concat(frames, ignore_index=True)
    first = ["image", "label", "pred", "target_class", "method", "box_rule", "iou"]
    return result[first + [c for c in result.columns if c not in first]], kept


def iou_summary(per_image: pd.DataFrame, by: Sequence[str] = ("model", "method", "box_rule")) -> pd.DataFrame:
    """Mean IoU ± std and n per group (a table like Table 3), plus accuracy on the scored images."""
    groups = per_image.groupby(list(by), sort=False)
    summary = groups["iou"].agg(mean_iou="mean", std_iou="std", n="size").reset_index()
    accuracy = groups.apply(lambda g: float((g["pred"] == g["label"]).mean()), include_groups=False)
    return summary.assign(accuracy=accuracy.to_numpy())
