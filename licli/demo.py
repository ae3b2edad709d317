"""``licli demo``: train ``small-cnn`` on the embedded ``mnist-mini`` sample and evaluate it, offline.

The demo is the whole pipeline in miniature: seeded training (``licli.training.loop.fit``), a checkpoint,
then every evaluation in ``DEMO_EVALUATIONS``: clean accuracy, FGSM and PGD-10 robust accuracy on
the first ``DEMO_ATTACK_IMAGES`` test images, and the cheap gradient-masking checks. Later
evaluations join the demo by adding an entry: a function ``(model, data, *, device) -> DataFrame``
(tidy, never printing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from licli.training.config import TrainConfig
from licli.data import Dataset, load_dataset
from licli.evaluations.accuracy import accuracy
from licli.evaluations.masking_checks import masking_report
from licli.evaluations.robustness import AttackSettings, evaluate_robustness, summary_rows
from licli.models import ModelSpec
from licli.contract import setting
from licli.training.loop import fit
from licli.hooks import Progress

DemoEvaluation = Callable[..., pd.DataFrame]
"""``(model, data, *, device) -> DataFrame``: one evaluation of the trained demo model."""

DEMO_MODEL_LABEL = "small-cnn"
DEMO_ATTACK_IMAGES = 200
DEMO_ATTACK = AttackSettings(attacks=("fgsm", "pgd"), norm="linf", eps=0.1, steps=10, step_size=0.025,
                             batch_size=DEMO_ATTACK_IMAGES)
"""FGSM and PGD (10 steps of ε/4, random start) in an L∞ ball of ε = 0.1: MNIST's usual budget
(Madry et al. use 0.3 for adversarially trained models; 8/255 is the CIFAR-10 budget of NormOut
Table 3.4, too small to move an MNIST model)."""
DEMO_MASKING_CHECKS = ("single-step-beats-iterative", "random-noise-beats-pgd", "shattered-gradients")
"""The gradient-masking checks that cost a few attacks at most (Square, unbounded PGD, the ε sweep
and AutoAttack's checks are left to ``licli attack --masking-check``)."""


def demo_attack(model: nn.Module, data: Dataset, *, device: torch.device) -> pd.DataFrame:
    """Robust accuracy under ``DEMO_ATTACK`` on the first ``DEMO_ATTACK_IMAGES`` test images (one row per attack)."""
    test = data.test.to(device)
    result = evaluate_robustness({DEMO_MODEL_LABEL: model}, test.images, test.labels, DEMO_ATTACK,
                                 n=DEMO_ATTACK_IMAGES)
    return result.summary[["model", "attack", "norm", "eps", "n", "clean_accuracy", "robust_accuracy",
                           "attack_success_rate", "max_perturbation_norm"]]


def demo_masking(model: nn.Module, data: Dataset, *, device: torch.device) -> pd.DataFrame:
    """The ``DEMO_MASKING_CHECKS`` on the first ``DEMO_ATTACK_IMAGES`` test images (one row per check)."""
    test = data.test.to(device)
    count = min(DEMO_ATTACK_IMAGES, len(test))
    report = masking_report(model, test.images[:count], test.labels[:count], torch.arange(count, device=device),
                            DEMO_ATTACK, checks=DEMO_MASKING_CHECKS)
    return report[["check", "verdict", "evidence", "n"]]


DEMO_EVALUATIONS: dict[str, DemoEvaluation] = {
    "accuracy": accuracy,
    "attack": demo_attack,
    "masking": demo_masking,
}


def demo_summary(evaluations: dict[str, pd.DataFrame], identity: tuple[str, int | None]) -> pd.DataFrame:
    """The report contract's rows of a demo run: clean test accuracy, then the attack's rows (``summary_rows``)."""
    model, seed = identity
    clean = evaluations["accuracy"].iloc[0]
    return pd.concat([
        pd.DataFrame([{"model": model, "metric": "clean_accuracy", "seed": seed, "value": clean["accuracy"],
                       "setting": setting(dataset=clean["dataset"], split=clean["split"])}]),
        summary_rows(evaluations["attack"]).assign(model=model, seed=seed),
    ], ignore_index=True)


def demo_config(seed: int = 0, epochs: int = 2) -> TrainConfig:
    """The demo's training recipe: the LI paper's small CNN (§4.1.1) on ``mnist-mini``.

    SGD (lr 0.05, momentum 0.9, batch 128) reaches ≈ 96% test accuracy after 2 epochs (≈ 20,000
    training images, well under a minute on a 2-core CPU).
    """
    return TrainConfig(model="small-cnn", dataset="mnist-mini", epochs=epochs, batch_size=128,
                       optimizer="sgd", lr=0.05, momentum=0.9, seed=seed)


@dataclass(frozen=True)
class DemoResult:
    model: nn.Module
    spec: ModelSpec
    data: Dataset
    history: pd.DataFrame
    """One row per epoch (see ``licli.training.loop.train``)."""
    evaluations: dict[str, pd.DataFrame]
    """Evaluation name → its DataFrame, in ``DEMO_EVALUATIONS`` order."""


def run_demo(config: TrainConfig, *, device: torch.device, run_dir: Path | None = None,
             progress: Progress | None = None) -> DemoResult:
    """Train ``config`` on its (embedded) dataset, then run every evaluation in ``DEMO_EVALUATIONS``."""
    data = load_dataset(config.dataset)
    model, spec, history = fit(config, data, device=device, run_dir=run_dir, progress=progress)
    evaluations = {name: evaluate(model, data, device=device) for name, evaluate in DEMO_EVALUATIONS.items()}
    return DemoResult(model, spec, data, history, evaluations)
