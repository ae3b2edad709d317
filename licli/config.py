"""Settings resolution (defaults < TOML file < environment < flags), the TOML reader, and ``RunOptions``.

Library code receives frozen dataclasses (``RunOptions`` here, ``licli.training.config.TrainConfig``
beside the training loop) or plain values, never the CLI's objects.
"""

from __future__ import annotations

import os
import sys
import types
from dataclasses import dataclass, fields
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
        raise LicliError(f"config file {path} not found", "check the path given as config=…", field="config") from None
    except OSError as error:
        raise LicliError(f"cannot read config file {path} ({error.strerror or error})",
                         "pass a TOML file as config=…", field="config") from None
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


def check_run_name(name: str) -> str:
    """A run name is one plain folder-name part: not empty, no path separator, not ``.`` or ``..``."""
    separators = {"/", "\\", os.sep, os.altsep} - {None}
    if not name or name in (".", "..") or any(sep in name for sep in separators) or "\0" in name:
        raise LicliError(f"name {name!r} is not a plain name (it becomes a folder name inside the output root)",
                         "pass a name without '/', '\\' or '..', e.g. name=baseline-seed1", field="name")
    return name


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
        check_run_name(self.name)
