"""``licli evaluate saliency``: LI-Map, Grad-CAM and Grad-CAM++ scored by IoU with true boxes
(Gradient Mask §3.2, Table 3), the cascading-randomisation sanity check (Appendix A), and accuracy
under background blur (§3.4, Fig. 10)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch
import typer

from licli.cli.app import evaluate_app, recorded_run
from licli.cli.choices import DatasetName, LiMapResponse, LogPadding, SaliencyBackend, SaliencyTarget, SplitName, value
from licli.cli.options import with_model_sources, with_run_options
from licli.config import RunOptions
from licli.data import load_dataset, split_boxes, split_ids
from licli.reporting.console import PartProgress
from licli.errors import LicliError
from licli.evaluations.saliency.blur import blur_robustness
from licli.evaluations.saliency.sanity import MAX_CORRELATION, cascading_randomization
from licli.evaluations.saliency.scoring import (SaliencyConfig, build_method, check_label_space, image_list_sha256,
                                                iou_summary, localization_scores, output_classes, predictions,
                                                saliency_maps)
from licli.parsing import comma_list
from licli.sources import ModelSource, check_fits, load_models
from licli.reporting.console import stdout
from licli.reporting.saliency_plots import line_plot, overlay_grid
from licli.reporting.summary import with_identities, write_summary
from licli.contract import setting
from licli.reporting.tables import frame_json, frame_table


@dataclass(frozen=True)
class SaliencyCommandConfig:
    models: list[str]
    dataset: str | None
    split: str
    n: int
    mode: str
    settings: SaliencyConfig
    overlays: int
    blur_sigmas: tuple[float, ...]
    seed: int


def _sigmas(text: str) -> tuple[float, ...]:
    values = comma_list(text, "--blur-sigmas", float, example="0,1,2,4,8")
    if not values or any(v < 0 for v in values):
        raise LicliError(f"--blur-sigmas must be non-negative numbers (got {text!r})", "pass e.g. 0,1,2,4,8")
    return values


@evaluate_app.command("saliency")
@with_model_sources
@with_run_options("saliency")
def evaluate_saliency(
    options: RunOptions,
    sources: list[ModelSource],
    methods: str = typer.Option("li-map,gradcam,gradcam++", help="Comma-separated: li-map, gradcam, gradcam++."),
    dataset: DatasetName = typer.Option("mnist-loc", help="Dataset with ground-truth boxes: mnist-loc or voc2007 (your copy)."),
    split: SplitName = typer.Option("test", help="test or train."),
    n: int = typer.Option(500, help="Number of images (the first n of the split, the same for every model)."),
    percent: float = typer.Option(0.15, help="Fraction of the map's pixels that form the box (§3.2: 0.15)."),
    layers: str = typer.Option(None, help="Comma-separated activation layers (slot names or module paths); "
                                          "default: all spatial slots for li-map, the last one for the CAMs."),
    target: SaliencyTarget = typer.Option("label", help="Class of interest: label or pred (pred for a model whose classes "
                                             "are not the dataset's, e.g. ImageNet models on voc2007)."),
    backend: SaliencyBackend = typer.Option("native", help="native or pytorch-grad-cam (for gradcam and gradcam++)."),
    sigma: float = typer.Option(2.0, help="LI-Map: σ of the LoG (eq. 18)."),
    kernel_size: int = typer.Option(None, help="LI-Map: LoG kernel size s (odd; default scipy's for σ)."),
    response: LiMapResponse = typer.Option("centre", help="LI-Map read-out of F: centre (default), abs (paper), signed."),
    padding: LogPadding = typer.Option("replicate", help="LI-Map: border of the LoG, replicate (default) or zeros."),
    overlays: int = typer.Option(8, min=0, help="Overlay PNG rows (first images) per model."),
    sanity_check: bool = typer.Option(False, "--sanity-check", help="Run the cascading-randomisation check instead."),
    blur_robustness_mode: bool = typer.Option(False, "--blur-robustness",
                                              help="Measure accuracy vs background blur instead."),
    blur_sigmas: str = typer.Option("0,1,2,3,4,6", help="--blur-robustness: Gaussian σ values (0 = clean)."),
    batch_size: int = typer.Option(100, help="Images per batch."),
    seed: int = typer.Option(0, help="Seed (re-initialisation in --sanity-check)."),
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Score saliency maps by IoU with true boxes (or run the sanity check or the blur test)."""
    dataset, split, target = value(dataset), value(split), value(target)
    backend, response, padding = value(backend), value(response), value(padding)
    if sanity_check and blur_robustness_mode:
        raise LicliError("--sanity-check and --blur-robustness are separate modes", "pass one of them")
    if n < 1:
        raise LicliError(f"--n must be ≥ 1 (got {n})", "pass e.g. --n 500")
    if split not in ("test", "train"):
        raise LicliError(f"unknown split {split!r}", "use --split test or --split train")
    mode = "sanity-check" if sanity_check else "blur-robustness" if blur_robustness_mode else "localization"
    settings = SaliencyConfig(methods=comma_list(methods), backend=backend, target=target, percent=percent,
                                layers=comma_list(layers), sigma=sigma, kernel_size=kernel_size, response=response, padding=padding,
                                batch_size=batch_size)
    config = SaliencyCommandConfig([s.describe() for s in sources], dataset, split, n, mode, settings, overlays,
                               _sigmas(blur_sigmas), seed)
    data = load_dataset(dataset, options.data_dir, on_progress=PartProgress())
    boxes_all = split_boxes(data, split)
    chosen = getattr(data, split)
    if n > len(chosen):
        raise LicliError(f"--n {n} is more than the {len(chosen)} images of {dataset}/{split}", f"pass --n ≤ {len(chosen)}")
    with recorded_run("evaluate-saliency", config, options, seed=seed) as (torch_device, run):
        models = load_models(sources, torch_device)
        for loaded in models:
            check_fits(loaded, data, labels=False)
            run.record_model(loaded)
        run.record_dataset(data)
        indices, ids = torch.arange(n), split_ids(data, split)
        run.note("image_list", {"dataset": dataset, "split": split, "indices": f"0..{n - 1}",
                                "sha256": image_list_sha256(dataset, split, indices, ids)})
        run.note("dataset", {"name": data.name, "classes": data.num_classes, **getattr(data, "details", {})})
        images = chosen.images[:n].to(torch_device).float().div_(255.0)
        labels, boxes = chosen.labels[:n].to(torch_device), boxes_all[:n].to(torch_device)
        same_classes = {loaded.label: check_label_space(
            output_classes(loaded.model, images), data.num_classes, target=settings.target,
            needs_labels=mode == "blur-robustness", model=loaded.label, dataset=data.name) for loaded in models}
        inputs = Inputs(images, labels, boxes, ids[:n] if ids is not None else None, same_classes)
        result, title, percent_columns = RUNNERS[mode](models, inputs, config, run)
    console = stdout()
    if json_output:
        console.print_json(frame_json(result, run=str(run.path)))
    else:
        console.print(frame_table(result, title=title, percent_columns=percent_columns))
        console.print(f"run: {run.path}", highlight=False)


@dataclass(frozen=True)
class Inputs:
    """The scored images (float, [0, 1], on the device) with their labels, boxes and source ids."""

    images: torch.Tensor
    labels: torch.Tensor
    boxes: torch.Tensor
    ids: tuple[str, ...] | None
    same_classes: dict[str, bool]
    """Model label → whether its classes are the dataset's (else no accuracy is reported for it)."""


def _localization(models, inputs: Inputs, config: SaliencyCommandConfig, run):
    images = inputs.images
    progress = PartProgress()
    frames = []
    for loaded in models:
        per_image, maps = localization_scores(loaded.model, images, inputs.labels, inputs.boxes, config.settings,
                                              keep_maps=min(config.overlays, len(images)), on_progress=progress,
                                              label=f"{loaded.label} · ")
        frames.append(per_image.assign(model=loaded.label))
        if config.overlays:
            run.save_figure(f"overlays-{loaded.label}.png", overlay_grid(
                images[:config.overlays], maps, per_image,
                f"{loaded.label} · top {config.settings.percent:.0%} boxes (red) vs true (green)"))
    per_image = pd.concat(frames, ignore_index=True)
    if inputs.ids is not None:
        per_image.insert(per_image.columns.get_loc("image") + 1, "image_id",
                         [inputs.ids[i] for i in per_image["image"]])
    per_image = per_image[["model", *[c for c in per_image.columns if c != "model"]]]
    summary = iou_summary(per_image)
    summary.loc[~summary["model"].map(inputs.same_classes), "accuracy"] = float("nan")
    run.write_csv("saliency_per_image.csv", per_image)
    run.write_csv("saliency_iou.csv", summary)
    rows = pd.DataFrame([{"model": r.model, "metric": "mean_iou", "value": r.mean_iou,
                          "setting": setting(method=r.method, box_rule=r.box_rule, dataset=config.dataset)}
                         for r in summary.itertuples()])
    write_summary(run, with_identities(rows, run.models))
    return summary, "licli evaluate saliency · mean IoU (Table 3)", ("accuracy",)


def _sanity(models, inputs: Inputs, config: SaliencyCommandConfig, run):
    settings, images, labels = config.settings, inputs.images, inputs.labels
    frames = []
    for loaded in models:
        classes = labels if settings.target == "label" else predictions(loaded.model, images, batch_size=settings.batch_size)
        for method in settings.methods:
            def maps_of(model, method=method):
                return saliency_maps(build_method(model, method, settings, tuple(images.shape[1:])), images,
                                     classes, settings.batch_size)

            frames.append(cascading_randomization(loaded.model, maps_of, seed=config.seed)
                          .assign(model=loaded.label, method=method))
    result = pd.concat(frames, ignore_index=True)
    result = result[["model", "method", *[c for c in result.columns if c not in ("model", "method")]]]
    run.write_csv("sanity_check.csv", result)
    run.save_figure("sanity_check.png", line_plot(
        result.assign(curve=result["model"] + " · " + result["method"]), "step", "mean_spearman", "curve",
        f"cascading randomisation (fail if final ρ ≥ {MAX_CORRELATION})", "Spearman ρ with the original maps"))
    final = result.groupby(["model", "method"], sort=False).tail(1)
    return final[["model", "method", "step", "layer", "mean_spearman", "passed"]], \
        "licli evaluate saliency --sanity-check · after randomising every layer", ()


def _blur(models, inputs: Inputs, config: SaliencyCommandConfig, run):
    frames = [blur_robustness(loaded.model, inputs.images, inputs.labels, inputs.boxes, config.blur_sigmas,
                              config.settings.batch_size)
              .assign(model=loaded.label) for loaded in models]
    result = pd.concat(frames, ignore_index=True)[["model", "blur_sigma", "accuracy", "n"]]
    run.write_csv("blur_robustness.csv", result)
    run.save_figure("blur_robustness.png", line_plot(
        result, "blur_sigma", "accuracy", "model", "accuracy with the background (outside the true box) blurred",
        "accuracy"))
    return result, "licli evaluate saliency --blur-robustness", ("accuracy",)


RUNNERS = {"localization": _localization, "sanity-check": _sanity, "blur-robustness": _blur}
