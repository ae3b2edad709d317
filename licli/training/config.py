"""``TrainConfig``: the training hyper-parameters, validated once when built.

It imports no torch at module level: ``licli train --help`` shows its defaults. The registries it
checks names against are imported when a config is built.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from licli.errors import LicliError
from licli.registry import pick
from licli.runtime import check_precision, check_seed

_NUMBER = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*")

def _refuse_quoted_numbers(table: Any, where: str) -> None:
    """A parameter table (mechanism params, model options …) holding a number written as a string (``"0.5"``, from
    a quoted TOML or JSON value) is refused: the builders would compare or multiply text."""
    if not isinstance(table, dict):
        return
    for key, value in table.items():
        if isinstance(value, str) and _NUMBER.fullmatch(value):
            raise LicliError(f"{where}.{key} is the string {value!r}, not a number",
                             f"write {key} = {value.strip()} without quotes", field=where.split(".")[0])

def _positive(value: float, name: str, fix: str) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise LicliError(f"{name} must be > 0 and finite (got {value})", fix, field=name)

@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters. Defaults train ``small-cnn`` on ``mnist-mini`` to ≈ 97% test accuracy (3 epochs)."""

    model: str = "small-cnn"
    dataset: str = "mnist-mini"
    epochs: int = 3
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 0.0
    seed: int = 0
    augment: bool = False
    eval_batch_size: int = 1000
    model_options: dict[str, Any] = field(default_factory=dict)
    mechanisms: dict[str, dict[str, Any]] = field(default_factory=dict)
    regularizer: str | None = None
    regularizer_params: dict[str, Any] = field(default_factory=dict)
    enhance: str | None = None
    enhance_params: dict[str, Any] = field(default_factory=dict)
    precision: str = "fp32"
    """Forward-pass precision (``licli.runtime.PRECISIONS``: fp32, tf32, bf16)."""

    def __post_init__(self) -> None:
        # deferred: the registries import torch; `licli train --help` reads the defaults without it
        from licli.data import DATASETS
        from licli.models import MODELS
        from licli.training.optimizers import OPTIMIZERS

        check_precision(self.precision)
        pick(MODELS, self.model, "model")
        pick(DATASETS, self.dataset, "dataset")
        pick(OPTIMIZERS, self.optimizer, "optimizer")
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise LicliError(f"epochs must be a positive integer (got {self.epochs})", "pass e.g. epochs=5",
                             field="epochs")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise LicliError(f"batch_size must be a positive integer (got {self.batch_size})",
                             "pass e.g. batch_size=128", field="batch_size")
        _positive(self.lr, "lr", "pass a positive learning rate, e.g. lr=0.05")
        if not 0 <= self.momentum < 1:
            raise LicliError(f"momentum must be in [0, 1) (got {self.momentum})", "pass e.g. momentum=0.9",
                             field="momentum")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise LicliError(f"weight_decay must be a finite number ≥ 0 (got {self.weight_decay})",
                             "pass e.g. weight_decay=5e-4", field="weight_decay")
        check_seed(self.seed)
        if self.eval_batch_size < 1:
            raise LicliError(f"eval_batch_size must be ≥ 1 (got {self.eval_batch_size})", "pass e.g. eval_batch_size=1000",
                             field="eval_batch_size")
        self._check_mechanisms()

    def _check_mechanisms(self) -> None:
        # deferred: the registries import torch; `licli train --help` reads the defaults without it
        from licli.mechanisms import MECHANISMS
        from licli.objectives import REGULARIZERS
        from licli.objectives.regularizers import FLAG_NOT_OBJECTIVE

        for slot, spec in self.mechanisms.items():
            if not isinstance(spec, dict) or "name" not in spec or not isinstance(spec.get("params", {}), dict):
                raise LicliError(f"mechanism for slot {slot!r} must be a table with a name and optional params "
                                 f"(got {spec!r})", 'write e.g. [mechanisms.hidden] name = "normout"')
            pick(MECHANISMS, spec["name"], "mechanism")
            _refuse_quoted_numbers(spec.get("params", {}), f"mechanisms.{slot}.params")
        _refuse_quoted_numbers(self.model_options, "model_options")
        if isinstance(self.regularizer_params, dict):
            _refuse_quoted_numbers(self.regularizer_params, "regularizer_params")
        _refuse_quoted_numbers(self.enhance_params, "enhance_params")
        if self.regularizer in FLAG_NOT_OBJECTIVE:
            raise LicliError(*FLAG_NOT_OBJECTIVE[self.regularizer], field="regularizer", also=("weight_decay",))
        if self.regularizer is not None:
            pick(REGULARIZERS, self.regularizer, "regularizer")
        if not isinstance(self.regularizer_params, dict):
            raise LicliError(f"regularizer_params must be a table (got {self.regularizer_params!r})",
                             "pass a JSON object as regularizer_params", field="regularizer_params")
        if self.enhance is not None:
            from licli.objectives.enhancement import enhanced_objective  # deferred: as above

            enhanced_objective(lambda *args: None, self.enhance, dict(self.enhance_params))
