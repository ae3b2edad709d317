"""licli's Python API: the stable entry points for notebooks and scripts (``import licli``; docs/python-api.md).

Every function takes a plain ``torch.nn.Module`` (a licli checkpoint, a torchvision model, your own) and
images as float tensors in [0, 1] of shape (N, C, H, W) with int64 labels (N,), as torchattacks and
AutoAttack do; uint8 images in [0, 255] are accepted too. Normalisation belongs inside the model, so attack
budgets stay in pixel units. Results are tensors or pandas DataFrames; nothing is printed or written.
The work runs on the model's device (the first parameter's; CPU for a model without parameters).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from licli.attacks.runner import run_attack
from licli.checkpoints import save_checkpoint
from licli.data import Dataset, Split, load_dataset
from licli.data.core import on_device, unit_float
from licli.data.torch_dataset import split_from_torch
from licli.errors import LicliError
from licli.evaluations import activations as activation_statistics
from licli.evaluations import fisher_rao as fisher_rao_norm
from licli.evaluations import gsnr as gradient_snr
from licli.evaluations import hessian
from licli.evaluations import pruning
from licli.evaluations.accuracy import accuracy as measure_accuracy
from licli.evaluations.masking_checks import masking_report
from licli.evaluations.robustness import (AttackSettings, RobustnessResult, attacked_view, evaluate_robustness,
                                         model_device)
from licli.evaluations.saliency.scoring import SaliencyConfig, batch_count, build_method
from licli.evaluations.saliency.scoring import saliency_maps as compute_saliency_maps
from licli.progress import OnProgress, Parts
from licli.sources import ModelSource
from licli.sources import load_model as load_source
from licli.training.config import TrainConfig
from licli.training.loop import checkpoint_extra, fit

__all__ = ["Trained", "accuracy", "activations", "adversarial_examples", "as_dataset", "attack", "dataset",
           "dataset_from_torch", "fisher_rao", "gsnr", "hessian_trace", "load_model", "masking_checks", "prune", "saliency_maps", "train"]


def _device(model: nn.Module) -> torch.device:
    return model_device(model)


def _images(images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Check the API's input contract: (N, C, H, W) float in [0, 1] (or uint8) and N integer labels."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        raise LicliError(f"images must be a 4-D tensor (N, C, H, W), got {getattr(images, 'shape', type(images))}",
                         "pass a batch of images, e.g. images.unsqueeze(0) for one")
    if images.is_floating_point():
        if len(images) and (images.min() < 0 or images.max() > 1):
            raise LicliError(f"float images must be in [0, 1] (got [{images.min():.3g}, {images.max():.3g}])",
                             "pass unnormalised images in [0, 1] and normalise inside the model")
    elif images.dtype != torch.uint8:
        raise LicliError(f"images must be float in [0, 1] or uint8, got {images.dtype}", "convert with .float() / 255")
    labels = torch.as_tensor(labels)
    if labels.shape != images.shape[:1] or labels.is_floating_point():
        raise LicliError(f"labels must be {len(images)} integers, got shape {tuple(labels.shape)} {labels.dtype}",
                         "pass one class index per image")
    return images, labels.long()


def as_dataset(images: torch.Tensor, labels: torch.Tensor, *, num_classes: int | None = None,
               name: str = "tensors") -> Dataset:
    """Wrap tensors as a licli ``Dataset`` whose train and test splits are both these images."""
    images, labels = _images(images, labels)
    count = int(num_classes if num_classes is not None else int(labels.max()) + 1 if len(labels) else 0)
    split = Split(images, labels)
    return Dataset(name, split, split, count, tuple(str(k) for k in range(count)))


def dataset(name: str, data_dir: str | Path | None = None, on_progress: OnProgress | None = None) -> Dataset:
    """A built-in dataset (``mnist-mini`` is embedded; others come from ``data_dir`` / ``$LICLI_DATA_DIR``,
    never downloaded) or your ``imagefolder:PATH``. ``.test.images`` are its test images (uint8; memory-mapped
    for an image folder), ``.test.floats()`` them in [0, 1], ``.test.labels`` the labels."""
    return load_dataset(name, None if data_dir is None else str(data_dir), on_progress=on_progress)


def dataset_from_torch(test: Any, train: Any = None, *, num_classes: int | None = None, batch_size: int = 256,
                       num_workers: int = 0, name: str = "torch-dataset",
                       on_progress: OnProgress | None = None) -> Dataset:
    """Any ``torch.utils.data.Dataset`` of (image, label) — e.g. ``torchvision.datasets.ImageFolder(root,
    transform=ToTensor())`` — as a licli ``Dataset``, read batch by batch into a memory-mapped array (never whole
    in memory or on the device); ``train`` defaults to ``test``. Its ``.test.images``/``.test.labels`` go to every
    function here, which stream them to the model's device batch by batch."""
    read = lambda data: split_from_torch(data, batch_size=batch_size, num_workers=num_workers,  # noqa: E731
                                         on_progress=on_progress)
    test_split = read(test)
    train_split = test_split if train is None else read(train)
    count = num_classes if num_classes is not None else int(max(test_split.labels.max(), train_split.labels.max())) + 1
    return Dataset(name, train_split, test_split, count, tuple(str(k) for k in range(count)))


def load_model(path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """A licli checkpoint (``model.safetensors`` with its ``model.json``, or a train run folder), in eval mode."""
    return load_source(ModelSource(checkpoint=str(path)), torch.device(device)).model.eval()


@dataclass(frozen=True)
class Trained:
    model: nn.Module
    """The trained network (on the device it was trained on), in eval mode."""
    history: pd.DataFrame
    """One row per epoch: train/test loss and accuracy, seconds."""
    config: TrainConfig
    spec: Any
    """The ``ModelSpec`` that rebuilds the architecture (saved with the weights)."""

    def save(self, path: str | Path) -> Path:
        """Write a licli checkpoint (``path`` = ``….safetensors`` and its ``.json``), as ``licli train`` does;
        ``load_model(path)`` and every ``--checkpoint`` option read it. Returns the weights' path."""
        return save_checkpoint(path, self.model, self.spec, extra=checkpoint_extra(self.config, self.history)).weights


def train(model: str = "small-cnn", dataset: str = "mnist-mini", *, device: str | torch.device = "cpu",
          data_dir: str | Path | None = None, **settings: Any) -> Trained:
    """Train a licli architecture on a built-in dataset as ``licli train`` does (seeded; nothing written).
    ``settings`` are ``TrainConfig``'s fields (``epochs``, ``lr``, ``mechanisms``, ``regularizer`` …)."""
    known = {f.name for f in fields(TrainConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise LicliError(f"unknown training setting(s): {', '.join(unknown)}", f"use: {', '.join(sorted(known))}")
    config = TrainConfig(model=model, dataset=dataset, **settings)
    data = load_dataset(dataset, None if data_dir is None else str(data_dir))
    net, spec, history = fit(config, data, device=torch.device(device))
    return Trained(net.eval(), history, config, spec)


def _settings(attacks: Sequence[str] | str, norm: str, eps: float, kwargs: dict[str, Any]) -> AttackSettings:
    names = (attacks,) if isinstance(attacks, str) else tuple(attacks)
    return AttackSettings(attacks=names, norm=norm, eps=float(eps), **kwargs)


def attack(model: nn.Module | dict[str, nn.Module], images: torch.Tensor, labels: torch.Tensor, *,
           attacks: Sequence[str] = ("fgsm", "pgd", "pgd-t", "square"), norm: str = "linf", eps: float = 8 / 255,
           eps_values: Sequence[float] | None = None, n: int | None = None, subset: str = "all",
           common_correct: bool = False, on_progress: OnProgress | None = None, **settings: Any) -> RobustnessResult:
    """Robust accuracy under attack (``licli attack``): ``.summary`` has one row per model × ε × attack plus the
    per-image worst case, ``.samples`` one row per attacked image. ``settings``: ``steps``, ``step_size``,
    ``n_queries``, ``random_start``, ``target_rule``, ``batch_size``, ``seed``, ``eot_samples``."""
    models = model if isinstance(model, dict) else {"model": model}
    device = _device(next(iter(models.values())))
    split = on_device(Split(*_images(images, labels)), device)  # a large set stays on the host, streamed
    chosen = _settings(attacks, norm, eps, settings)
    threats = [chosen.threat.at(float(value)) for value in eps_values] if eps_values is not None else None
    return evaluate_robustness(models, split.images, split.labels, chosen, n=n, subset=subset,
                               common_correct=common_correct, threats=threats, on_progress=on_progress)


def adversarial_examples(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, attack: str = "pgd",
                         norm: str = "linf", eps: float = 8 / 255, seed: int = 0, **settings: Any) -> torch.Tensor:
    """The adversarial images (float in [0, 1], same shape) of one attack, in one batch, model in eval mode."""
    chosen = _settings(attack, norm, eps, {"seed": seed, **settings})
    images, labels = _images(images, labels)
    device = _device(model)
    with attacked_view(model, chosen.eot_samples) as view:
        outcome = run_attack(attack, view, unit_float(images.to(device)), labels.to(device), threat=chosen.threat,
                             seed=seed, target_rule=chosen.target_rule, **chosen.params())
    return outcome.x_adv.detach()


def masking_checks(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
                   attacks: Sequence[str] = ("fgsm", "pgd", "pgd-t", "square"), norm: str = "linf",
                   eps: float = 8 / 255, on_progress: OnProgress | None = None, **settings: Any) -> pd.DataFrame:
    """The gradient-masking red-flag checks (``licli attack --masking-check``): one row per check."""
    images, labels = _images(images, labels)
    device = _device(model)
    return masking_report(model, images.to(device), labels.to(device), torch.arange(len(labels), device=device),
                          _settings(attacks, norm, eps, settings), on_progress=on_progress)


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 1000
             ) -> pd.DataFrame:
    """Clean accuracy and mean cross-entropy (``licli evaluate accuracy``): one row."""
    return measure_accuracy(model, as_dataset(images, labels), device=_device(model), batch_size=batch_size)


def activations(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, **config: Any) -> pd.DataFrame:
    """Per-slot activation statistics of a licli model (``licli evaluate activations``)."""
    return activation_statistics.run(model, as_dataset(images, labels), device=_device(model),
                                     config=activation_statistics.ActivationConfig(**config))


def fisher_rao(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, **config: Any) -> pd.DataFrame:
    """The Fisher-Rao norm with its standard error (``licli evaluate fisher-rao``)."""
    return fisher_rao_norm.run(model, as_dataset(images, labels), device=_device(model),
                               config=fisher_rao_norm.FisherRaoConfig(**config))


def gsnr(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, **config: Any) -> pd.DataFrame:
    """Per-layer gradient signal-to-noise ratio (``licli evaluate gsnr``)."""
    return gradient_snr.run(model, as_dataset(images, labels), device=_device(model),
                            config=gradient_snr.GSNRConfig(**config))


def hessian_trace(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, **config: Any) -> pd.DataFrame:
    """Hutchinson's estimate of the Hessian trace with its standard error (``licli evaluate hessian-trace``)."""
    return hessian.run(model, as_dataset(images, labels), device=_device(model),
                       config=hessian.HessianConfig(**config))


def prune(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, levels: Sequence[float] = (0.0, 0.5, 0.9),
          scope: str = "global", on_progress: OnProgress | None = None) -> pd.DataFrame:
    """Accuracy and loss after pruning the smallest weights at each level (``licli evaluate prune``); the model's
    weights are restored afterwards."""
    return pruning.run(model, as_dataset(images, labels), device=_device(model),
                       config=pruning.PruneConfig(scope=scope, levels=tuple(levels)), on_progress=on_progress)


def saliency_maps(model: nn.Module, images: torch.Tensor, classes: torch.Tensor, *, method: str = "gradcam",
                  layers: Sequence[str] = (), backend: str = "native", batch_size: int = 100,
                  on_progress: OnProgress | None = None) -> torch.Tensor:
    """Saliency maps (N, H, W) for ``classes`` (``li-map``, ``gradcam``, ``gradcam++``; ``layers`` are module
    names, default: the method's usual layers); ``on_progress`` hears of each batch mapped."""
    images, classes = _images(images, classes)
    device = _device(model)
    model.eval()
    settings = SaliencyConfig(methods=(method,), backend=backend, layers=tuple(layers))
    chosen = build_method(model, method, settings, tuple(images.shape[1:]))
    parts = Parts("saliency maps", batch_count(images, batch_size), on_progress)
    return compute_saliency_maps(chosen, unit_float(images.to(device)), classes.to(device), batch_size, parts=parts,
                                 label=f"{method} · ")
