"""Option groups shared by many commands, injected by decorators so each is declared once."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from licli.cli.app import parse_json_option
from licli.cli.config_file import field_flags, from_file
from licli.config import RunOptions, resolve
from licli.errors import LicliError
from licli.parsing import comma_list

if TYPE_CHECKING:  # imported when a command runs, so `licli COMMAND --help` starts without torch
    from licli.sources import ModelSource


def _option(name: str, annotation: Any, default: Any, *flags: str, help: str) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=annotation,
                             default=typer.Option(default, *flags, help=help))


_CHECKPOINT_OPTIONS = [
    _option("checkpoint", list[Path], [], "--checkpoint", "-c",
            help="licli checkpoint (.safetensors with its .json, or a train run folder). Repeat for several models."),
    _option("trust_definition", bool, False, "--trust-definition",
            help="Let a checkpoint written by `licli import` run its model definition file (<stem>.def.py, "
                 "pinned by sha256). WARNING: that runs its code: only for checkpoints you trust."),
]

FOREIGN_FIELD_FLAGS = {"input_shape": "input_size", "args": "model_args", "renames": "rename"}
"""``ForeignSpec``/``ModelSource`` fields named by another option, for error lines."""

_FOREIGN_OPTIONS = [
    _option("model", str, None, "--model",
            help="A model by name: torchvision:NAME or timm:NAME (randomly initialised unless --weights, or pretrained "
                 "weights from the local cache: --model-args '{\"weights\": \"DEFAULT\"}' / '{\"pretrained\": true}'), "
                 "robustbench:NAME (its weights from the local model folder; --model-args dataset, threat_model, "
                 "model_dir). Nothing is downloaded."),
    _option("model_def", str, None, "--model-def",
            help="Your own model: FILE.py:NAME, a class or factory function returning an nn.Module. "
                 "WARNING: licli imports FILE.py, which runs its code: only pass files you trust."),
    _option("model_args", str, None, "--model-args",
            help="JSON object of keyword arguments for --model / --model-def, e.g. '{\"depth\": 18}'."),
    _option("num_classes", int, None, "--num-classes",
            help="Number of classes (passed to torchvision models; checked against the output of others)."),
    _option("weights", Path, None, "--weights",
            help="Weights for --model/--model-def: .safetensors, or a .pt/.pth state dict (loaded with "
                 "torch.load(weights_only=True); pickled objects are refused). Nested 'state_dict'/'model' "
                 "entries and 'module.' prefixes are handled."),
    _option("rename", list[str], [], "--rename",
            help="Map a weights key prefix OLD=NEW before strict loading (repeatable), e.g. --rename fc=linear."),
    _option("input_mean", str, None, "--input-mean",
            help="Per-channel mean the model expects, e.g. 0.4914,0.4822,0.4465: licli feeds images in [0, 1] "
                 "and normalises inside, so attack budgets stay in pixel units."),
    _option("input_std", str, None, "--input-std", help="Per-channel standard deviation (with --input-mean)."),
    _option("input_size", str, None, "--input-size",
            help="Input size CxHxW of --model/--model-def, checked on every forward (default: the --dataset's "
                 "image size, else 3x32x32)."),
]


def _floats(text: str | None, flag: str) -> tuple[float, ...] | None:
    return None if text is None else comma_list(text, flag, float, example="0.5,0.5,0.5")


def foreign_source(options: dict[str, Any]) -> ModelSource | None:
    """The foreign model described by the ``_FOREIGN_OPTIONS`` values (popped from ``options``), if any."""
    # deferred: torch; command modules use these decorators at `--help`, which starts without it
    from licli.models.foreign import ForeignSpec, parse_renames, parse_shape
    from licli.sources import ModelSource

    values = {p.name: options.pop(p.name) for p in _FOREIGN_OPTIONS}
    if values["model"] is None and values["model_def"] is None:
        given = [f"--{name.replace('_', '-')}" for name, value in values.items() if value not in (None, [])]
        if given:
            raise LicliError(f"{', '.join(given)} describe a foreign model, but none was named",
                             "add --model torchvision:NAME or --model-def FILE.py:NAME")
        return None
    if values["model"] is not None and values["model_def"] is not None:
        raise LicliError("--model and --model-def both name a model", "pass one of them")
    if values["model_def"] is not None:
        path, sep, name = values["model_def"].rpartition(":")
        if not sep or not path or not name:
            raise LicliError(f"--model-def {values['model_def']!r} is not FILE.py:NAME",
                             "pass e.g. --model-def models/resnet.py:ResNet18")
        kind, target = "definition", f"{Path(path).expanduser().resolve()}:{name}"
    else:
        prefix, sep, target = values["model"].partition(":")
        if not sep or not target:
            raise LicliError(f"--model {values['model']!r} is not SOURCE:NAME",
                             "pass e.g. --model torchvision:resnet18 (for your own class use --model-def)")
        kind = prefix
    shape = {} if values["input_size"] is None else {"input_shape": parse_shape(values["input_size"])}
    spec = ForeignSpec(kind=kind, target=target, args=parse_json_option(values["model_args"], "--model-args") or {},
                       num_classes=values["num_classes"], input_mean=_floats(values["input_mean"], "--input-mean"),
                       input_std=_floats(values["input_std"], "--input-std"), **shape)
    return ModelSource(foreign=spec, weights=None if values["weights"] is None else str(values["weights"].expanduser()),
                       renames=parse_renames(values["rename"]), infer_input_shape=values["input_size"] is None)


def _inject(command: Callable[..., Any], options: list[inspect.Parameter], target: str,
            build: Callable[[dict[str, Any]], Any]) -> Callable[..., Any]:
    signature = inspect.signature(command)
    kept = [p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD)
            for name, p in signature.parameters.items() if name != target]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        kwargs[target] = build(kwargs)
        return command(**kwargs)

    required = [p for p in kept if p.default is inspect.Parameter.empty]  # injected later by an outer decorator
    optional = [p for p in kept if p.default is not inspect.Parameter.empty]
    wrapper.__signature__ = signature.replace(parameters=[*required, *options, *optional])  # type: ignore[attr-defined]
    return wrapper


def _model_sources(options: dict[str, Any]) -> list[ModelSource]:
    from licli.sources import ModelSource  # deferred: torch (as above)

    trust = options.pop("trust_definition")
    sources = [ModelSource(checkpoint=str(path), trust_definition=trust) for path in options.pop("checkpoint")]
    foreign = foreign_source(options)
    sources += [foreign] if foreign is not None else []
    if not sources:
        raise LicliError("no model given", "pass --checkpoint PATH (repeatable), --model torchvision:NAME "
                                           "or --model-def FILE.py:NAME")
    return sources


def _one_foreign_source(options: dict[str, Any]) -> ModelSource:
    source = foreign_source(options)
    if source is None:
        raise LicliError("no model given", "pass --model-def FILE.py:NAME (or --model torchvision:NAME)")
    return source


def with_model_sources(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the model-source options to ``command``, which receives them as ``sources: list[ModelSource]``.

    Every repeated ``--checkpoint`` is one source; ``--model``/``--model-def`` (with ``--weights`` …)
    adds one foreign source after them.
    """
    return _inject(field_flags(**FOREIGN_FIELD_FLAGS)(command), [*_CHECKPOINT_OPTIONS, *_FOREIGN_OPTIONS], "sources",
                   _model_sources)


def with_foreign_source(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the foreign-model options to ``command``, which receives them as ``source: ModelSource``."""
    return _inject(field_flags(**FOREIGN_FIELD_FLAGS)(command), _FOREIGN_OPTIONS, "source", _one_foreign_source)


def _run_option_parameters(default_name: str, data: bool, download: bool) -> list[inspect.Parameter]:
    return [
        _option("device", str, None, "--device", help="auto (default), cpu, cuda or cuda:N (else $LICLI_DEVICE)."),
        *([_option("data_dir", str, None, "--data-dir", help="Data root (else $LICLI_DATA_DIR, else the user cache).")]
          if data else []),
        *([_option("download", bool, False, "--download", help="Allow downloading a missing dataset "
                   "(torchvision's sources; else $LICLI_DOWNLOAD).")] if download else []),
        _option("out", str, None, "--out", help="Root folder for run folders (default: reports, else $LICLI_OUT)."),
        _option("name", str, default_name, "--name", help="Name of this run (suffix of its folder)."),
        _option("run_dir", str, None, "--run-dir", help="Exact run folder (instead of --out/--name), refused if it "
                "holds a finished run unless --force; an unfinished one there is replaced."),
        _option("force", bool, False, "--force", help="With --run-dir: replace a finished run found there."),
        _option("deterministic", bool, False, "--deterministic",
                help="Deterministic kernels only: bit-exact reruns on CUDA, slower; an operation without a "
                     "deterministic kernel stops the run (else $LICLI_DETERMINISTIC; see docs/performance.md)."),
    ]


def with_run_options(default_name: str, *, data: bool = True, download: bool = False
                     ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add ``--device/--data-dir/--out/--name`` (and with ``download``, ``--download``) to a command, which
    receives them as ``options: RunOptions`` (flags, else ``LICLI_DEVICE``/``LICLI_DATA_DIR``/``LICLI_OUT``/
    ``LICLI_DOWNLOAD``, else the defaults), and ``--run-dir``/``--force`` (an exact run folder). ``data=False`` leaves out ``--data-dir`` (embedded data only)."""
    parameters = _run_option_parameters(default_name, data, download)

    def build(values: dict[str, Any]) -> RunOptions:
        given = {p.name: values.pop(p.name) for p in parameters}
        file = {name: value for name, value in given.items() if from_file(name)}  # below LICLI_* (as train's)
        flags = {name: value for name, value in given.items() if name not in file}
        for switch in ("download", "deterministic"):
            if switch in flags:
                flags[switch] = flags[switch] or None  # an absent flag leaves $LICLI_<SWITCH> in charge
        return resolve(RunOptions, file=file, flags=flags)

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        return _inject(command, parameters, "options", build)

    return decorate
