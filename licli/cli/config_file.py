"""``--config FILE.toml`` on every command: the file's values become the command's defaults (click's
``ctx.default_map``), so flags override the file and the file overrides the defaults (docs/configs.md)."""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import typer

from licli.config import load_toml
from licli.errors import LicliError

FIELD_FLAGS: ContextVar[dict[str, str]] = ContextVar("licli_field_flags", default={})
"""Config field → flag of the command now running (set by ``--config``'s callback), so a library error naming a
field (``LicliError.field``) names the flag on the command line."""

CONFIG_TABLE = "licli.config_table"
"""``ctx.meta`` key of the config file's keys a command reads itself (``config_fields``), e.g. train's TrainConfig."""
_RUNNING: ContextVar[Any] = ContextVar("licli_running_context", default=None)
"""The click context of the command now running (set by ``--config``'s callback, which runs for every command)."""
CONFIG_HELP = ("TOML file of option values: keys are the long option names (batch_size = 250, eps = \"8/255\"); "
               "flags override it. See docs/configs.md.")


def config_fields(cls: type, **flags: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Let ``--config`` also hold the fields of ``cls`` (tables too), read by the command with ``config_table()``.

    ``flags`` names the option of a field whose name differs from it (``eot_samples="eot"``), so errors about
    that field name the option on the command line."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command.licli_config_fields = cls  # type: ignore[attr-defined]
        return field_flags(**flags)(command)

    return decorate


def field_flags(**flags: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Name the option of a config field whose name differs from the option's (``eot_samples="eot"``)."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        command.licli_field_flags = {**getattr(command, "licli_field_flags", {}), **flags}  # type: ignore[attr-defined]
        return command

    return decorate


def config_table() -> dict[str, Any]:
    """The keys of the ``--config`` file that the running command reads itself (``config_fields``)."""
    context = _RUNNING.get()
    return dict(context.meta.get(CONFIG_TABLE, {})) if context is not None else {}


def from_file(name: str) -> bool:
    """Whether the value of option ``name`` of the running command came from its ``--config`` file."""
    context = _RUNNING.get()
    source = context.get_parameter_source(name) if context is not None else None
    return source is not None and source.name == "DEFAULT_MAP"


def _key(param: Any) -> str:
    """A parameter's key in a config file: its long option name without dashes, ``-`` as ``_`` (``batch_size``)."""
    longs = [opt for opt in getattr(param, "opts", []) if opt.startswith("--")]
    return longs[0][2:].replace("-", "_") if longs else param.name


def _flag(param: Any) -> str:
    longs = [opt for opt in getattr(param, "opts", []) if opt.startswith("--")]
    return longs[0] if longs else param.name.upper()


def _many(param: Any) -> bool:
    return bool(getattr(param, "multiple", False)) or getattr(param, "nargs", 1) == -1


def _checked(ctx: Any, key: str, value: Any, param: Any, path: Path) -> Any:
    """``value`` as the option ``param`` takes it, or a one-line error naming the key, its type and the fix.

    The option converts the value as it would convert the flag's text; what TOML typed must agree: a quoted
    number for a numeric option, a number for a switch or ``true`` for a number is refused, not coerced."""
    if isinstance(value, list) and not _many(param):  # a comma-separated option: attacks = ["fgsm", "pgd"]
        if not all(isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in value):
            raise LicliError(f"{key} in {path} must be a value or a list of values (got {value!r})",
                             f'write e.g. {key} = "a,b" or {key} = ["a", "b"]')
        value = ",".join(str(item) for item in value)
    values = value if isinstance(value, list) else [value]
    if isinstance(value, dict):
        raise LicliError(f"{key} in {path} must be a value, not a table", f"write e.g. {key} = … on one line")
    try:
        converted = [param.process_value(ctx, [item] if _many(param) else item) for item in values]
        converted = [item[0] if _many(param) else item for item in converted]
    except Exception as error:  # noqa: BLE001 - the option's own conversion error (click's BadParameter), one line
        message = error.format_message() if hasattr(error, "format_message") else str(error)
        raise LicliError(f"{key} = {value!r} in {path} is not valid ({message})",
                         f"write {key} as `{ctx.command_path} --help` describes it") from None
    for given, taken in zip(values, converted):
        _check_kind(key, given, taken, path)
    kept = [str(given) if isinstance(given, (int, float)) and not isinstance(given, bool)
            and isinstance(taken, str) else given for given, taken in zip(values, converted)]
    return kept if _many(param) else kept[0]


def _check_kind(key: str, given: Any, taken: Any, path: Path) -> None:
    if isinstance(taken, bool):
        if not isinstance(given, bool):
            raise LicliError(f"{key} in {path} must be true or false (got {given!r})", f"write {key} = true")
    elif isinstance(taken, (int, float)):
        wanted = "an integer" if isinstance(taken, int) else "a number"
        if isinstance(given, str):
            raise LicliError(f"{key} in {path} must be {wanted} (got the string {given!r})",
                             f"write {key} = {given.strip()} without quotes")
        if isinstance(given, bool) or (isinstance(taken, int) and not isinstance(given, int)):
            raise LicliError(f"{key} in {path} must be {wanted} (got {given!r})", f"write e.g. {key} = {int(taken) or 1}")


def _read_config_file(ctx: typer.Context, value: str | None) -> None:
    """Eager callback of ``--config``: the file's values become the command's defaults (``ctx.default_map``), so
    flags override them; keys of a ``config_fields`` class go to ``config_table()``. Also records the command's
    field → flag names for error lines."""
    command = ctx.command
    by_key = {_key(p): p for p in command.params if p.name != "config" and p.expose_value}
    flags = {p.name: _flag(p) for p in command.params if p.expose_value}
    flags.update({name: f"--{option.replace('_', '-')}" for name, option in
                  getattr(command.callback, "licli_field_flags", {}).items()})
    FIELD_FLAGS.set(flags)
    _RUNNING.set(ctx)
    if value is None:
        return
    path = Path(value).expanduser()
    table = load_toml(path)
    claimed_class = getattr(command.callback, "licli_config_fields", None)
    claimed_names = {f for f in getattr(claimed_class, "__dataclass_fields__", {})}
    defaults: dict[str, Any] = {}
    claimed: dict[str, Any] = {}
    for raw_key, item in table.items():
        key = raw_key.replace("-", "_")
        if key in claimed_names:
            claimed[key] = item
        elif key in by_key:
            defaults[by_key[key].name] = _checked(ctx, key, item, by_key[key], path)
        else:
            valid = sorted({*by_key, *claimed_names})
            raise LicliError(f"unknown key {raw_key!r} in config file {path}",
                             f"use the long option names of `{ctx.command_path}` (e.g. {', '.join(valid[:6])}, "
                             f"… see --help) without dashes")
    ctx.default_map = {**(ctx.default_map or {}), **defaults}
    ctx.meta[CONFIG_TABLE] = claimed


def _config_parameter() -> Any:
    """The ``--config`` parameter as typer builds it (typer's parameter classes differ between its versions)."""
    probe = typer.Typer()

    @probe.command()
    def _probe(config: str = typer.Option(None, "--config", is_eager=True, callback=_read_config_file,
                                          metavar="FILE.toml", help=CONFIG_HELP)) -> None: ...

    parameter = typer.main.get_command(probe).params[0]
    parameter.expose_value = False  # the values reach the command as its options' defaults
    return parameter


def add_config_option(command: Any) -> Any:
    """Give a command (not a group) the ``--config FILE.toml`` option, once."""
    if hasattr(command, "commands") or any(p.name == "config" for p in command.params):
        return command
    command.params.append(_config_parameter())
    return command
