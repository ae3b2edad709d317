"""Typed, frozen configuration built once from defaults < TOML file < environment < flags.

Library code receives these dataclasses (or plain values), never the CLI's objects.
"""

from __future__ import annotations

import math
import os
import re
import sys
import types
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

from licli.errors import LicliError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

C = TypeVar("C")
ENV_PREFIX = "LICLI_"


def load_toml(path: str | os.PathLike | None) -> dict[str, Any]:
    if path is None:
        return {}
    path = Path(path)
    try:
        return tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise LicliError(f"config file {path} not found", "check the path given to --config") from None
    except OSError as error:
        raise LicliError(f"cannot read config file {path} ({error.strerror or error})",
                         "pass a TOML file to --config") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise LicliError(f"config file {path} is not valid TOML ({error})", "fix the file's syntax") from None


def _coerce(value: str, kind: Any, name: str) -> Any:
    try:
        if kind in (int, "int"):
            return int(value)
        if kind in (float, "float"):
            return float(value)
        if kind in (bool, "bool"):
            return value.strip().lower() in ("1", "true", "yes", "on")
    except ValueError:
        raise LicliError(f"environment variable {ENV_PREFIX}{name.upper()}={value!r} is not a valid {kind}",
                         "fix or unset it") from None
    return value


def _accepted(hint: Any) -> tuple[type, ...]:
    """The Python types a TOML value may have for a field annotated ``hint`` (``float`` accepts ints)."""
    if get_origin(hint) in (Union, types.UnionType):
        return tuple(kind for arg in get_args(hint) for kind in _accepted(arg))
    base = get_origin(hint) or hint
    if base is type(None):
        return (type(None),)
    if base is float:
        return (float, int)
    return (base,) if isinstance(base, type) else (object,)


_KIND_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false", dict: "a table",
               list: "a list"}


def check_types(cls: type, values: dict[str, Any], source: str) -> None:
    """Refuse a value whose type does not match its field (``lr = "0.05"``, ``epochs = true``, ``mechanisms = 3``)."""
    hints = get_type_hints(cls)
    for name, value in values.items():
        accepted = _accepted(hints[name])
        wrong_bool = isinstance(value, bool) and bool not in accepted
        if wrong_bool or not isinstance(value, accepted):
            kinds = [kind for kind in accepted if kind is not type(None) and not (kind is int and float in accepted)]
            wanted = " or ".join(_KIND_NAMES.get(kind, kind.__name__) for kind in kinds)
            default = next(f.default for f in fields(cls) if f.name == name)
            example = f" (e.g. {name} = {str(default).lower() if isinstance(default, bool) else default})" \
                if isinstance(default, (int, float)) else ""
            quotes = ", without quotes" if isinstance(value, str) and example else ""
            raise LicliError(f"{name} in {source} must be {wanted} (got {type(value).__name__} {value!r})",
                             f"write {name} as {wanted}{example}{quotes}")


def resolve(cls: type[C], *, file: dict[str, Any] | None = None, flags: dict[str, Any] | None = None,
            env: os._Environ | dict[str, str] | None = None) -> C:
    """Build ``cls`` from its defaults, then the TOML table, then ``LICLI_<FIELD>`` variables, then flags.

    Flags equal to ``None`` count as "not given". Unknown keys in the TOML table are an error.
    """
    env = os.environ if env is None else env
    names = {f.name for f in fields(cls)}
    file = dict(file or {})
    unknown = sorted(set(file) - names)
    if unknown:
        raise LicliError(f"unknown key(s) in config file: {', '.join(unknown)}",
                         f"valid keys: {', '.join(sorted(names))}")
    check_types(cls, file, "the config file")
    hints = get_type_hints(cls)
    values: dict[str, Any] = {}
    for name in names:
        if flags and flags.get(name) is not None:
            values[name] = flags[name]
        elif f"{ENV_PREFIX}{name.upper()}" in env and hints.get(name) in (int, float, bool, str):
            values[name] = _coerce(env[f"{ENV_PREFIX}{name.upper()}"], hints[name], name)
        elif name in file:
            values[name] = file[name]
    return cls(**values)


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
        from licli.data import DATASETS
        from licli.models import MODELS
        from licli.registry import pick
        from licli.runtime import check_precision, check_seed
        from licli.training import OPTIMIZERS

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
        from licli.mechanisms import MECHANISMS, REGULARIZERS
        from licli.mechanisms.regularizers import FLAG_NOT_OBJECTIVE
        from licli.registry import pick

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
            raise LicliError(*FLAG_NOT_OBJECTIVE[self.regularizer])
        if self.regularizer is not None:
            pick(REGULARIZERS, self.regularizer, "regularizer")
        if not isinstance(self.regularizer_params, dict):
            raise LicliError(f"regularizer_params must be a table (got {self.regularizer_params!r})",
                             "pass a JSON object as regularizer_params", field="regularizer_params")
        if self.enhance is not None:
            from licli.mechanisms.enhancement import enhanced_objective

            enhanced_objective(lambda *args: None, self.enhance, dict(self.enhance_params))


@dataclass(frozen=True)
class RunOptions:
    """Where and how a command runs; recorded in the manifest beside the command's own config."""

    device: str = "auto"
    out: str = "reports"
    name: str = "run"
    data_dir: str | None = None
    download: bool = False
    run_dir: str | None = None
    """The exact run folder (instead of ``<out>/<command>/<time>-<name>``); used by ``licli sweep``."""
    force: bool = False
    """Replace a finished run found in ``run_dir``."""
    deterministic: bool = False
    """Deterministic kernels only (``licli.runtime.deterministic_scope``): bit-exact reruns on CUDA too."""

    def __post_init__(self) -> None:
        from licli.reporting.files import check_run_name

        check_run_name(self.name)
