"""Names the options offer as choices, kept here so a command's ``--help`` lists them without importing torch.

Each tuple equals its registry's names (checked by ``tests/cli/test_startup.py``); the registries stay the
source of what a name does.
"""

from __future__ import annotations

from enum import Enum

MODEL_NAMES = ("mlp", "small-cnn", "vgg16", "resnet18", "gap-cnn", "oracle-net")  # licli.models.MODELS
DATASET_NAMES = ("mnist", "mnist-mini", "cifar10", "cifar10-mini", "mnist-loc", "voc2007", "colored-mnist",
                 "colored-mnist-mini", "oracle-mnist",
                 "oracle-mnist-mini")  # licli.data.DATASETS
OPTIMIZER_NAMES = ("sgd", "adam")  # licli.training.OPTIMIZERS
MECHANISM_NAMES = ("local-inhibition", "normout", "dropout", "gradient-mask",
                   "activation-statistics")  # licli.mechanisms.MECHANISMS
REGULARIZER_NAMES = ("spectral-decoupling", "irm", "vrex", "fishr", "mma")  # licli.mechanisms.REGULARIZERS
TRACKER_NAMES = ("gsnr",)  # licli.evaluations.TRACKERS
ENHANCE_NAMES = ("li-blur",)  # licli.mechanisms.enhancement.ENHANCEMENTS
PRECISION_NAMES = ("fp32", "tf32", "bf16")  # licli.runtime.PRECISIONS


def choice(name: str, values: tuple[str, ...]) -> type[Enum]:
    """A ``str`` Enum of ``values`` (member value = the name typed), so typer shows and checks the choices."""
    return Enum(name, [(value, value) for value in values], type=str)  # type: ignore[return-value]


def value(member: Enum | None) -> str | None:
    """The typed name behind an Enum option (None when the option was not given)."""
    return None if member is None else member.value


Model = choice("Model", MODEL_NAMES)
DatasetName = choice("DatasetName", DATASET_NAMES)
Optimizer = choice("Optimizer", OPTIMIZER_NAMES)
Regularizer = choice("Regularizer", REGULARIZER_NAMES)
Tracker = choice("Tracker", TRACKER_NAMES)
Enhance = choice("Enhance", ENHANCE_NAMES)
Precision = choice("Precision", PRECISION_NAMES)
