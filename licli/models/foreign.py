"""Models licli did not build: torchvision architectures by name and the user's own classes.

A ``ForeignSpec`` says how to rebuild such a model (stored in an imported checkpoint's metadata as
model kind ``foreign``); ``build_foreign`` builds it inside a ``ForeignModel`` that takes inputs in
[0, 1] — normalising them with the user's per-channel mean and std, so attack budgets stay in pixel
units — and checks their size. ``read_state_dict`` reads foreign weights without ever unpickling
arbitrary objects.

``--model-def file.py:Name`` imports ``file.py``: that runs the user's code, as their own scripts do.
A checkpoint written by ``licli import`` keeps a copy of that file beside it, pinned by sha256, and
runs it only when the user says they trust it (``licli.checkpoints``).
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import pickle
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from licli.errors import LicliError
from licli.models.weights import load_strict
from licli.models.normalize import Normalize
from licli.registry import pick
from licli.runtime import sha256_file

NESTED_STATE_KEYS = ("state_dict", "model_state_dict", "model", "net", "network")
"""Keys under which training scripts commonly nest the state dict, tried in this order."""
WRAPPER_PREFIXES = ("module.", "_orig_mod.")
"""Prefixes added by DataParallel/DistributedDataParallel and by torch.compile."""


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"3x32x32"`` or ``"3,32,32"`` → (channels, height, width)."""
    parts = re.split(r"[x,×]", text.strip().lower())
    try:
        shape = tuple(int(part) for part in parts)
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise LicliError(f"input_shape {text!r} is not CxHxW", "pass e.g. input_shape=3x32x32", field="input_shape")
    return shape  # type: ignore[return-value]


@dataclass(frozen=True)
class ForeignSpec:
    """Everything needed to rebuild a foreign model. ``kind`` is ``definition`` or ``torchvision``.

    ``target`` is ``/abs/path/file.py:Name`` for a definition (``definition_sha256`` pins the file; in an
    imported checkpoint's metadata it is the bare name of the copy beside it, ``<stem>.def.py:Name``)
    or a torchvision model name.
    """

    kind: str
    target: str
    args: dict[str, Any] = field(default_factory=dict)
    num_classes: int | None = None
    input_shape: tuple[int, int, int] = (3, 32, 32)
    input_mean: tuple[float, ...] | None = None
    input_std: tuple[float, ...] | None = None
    definition_sha256: str | None = None

    def __post_init__(self) -> None:
        pick_architecture(self.kind)
        if (self.input_mean is None) != (self.input_std is None):
            raise LicliError("input_mean=… and input_std=… go together", "pass both (one value per channel) or neither",
                             field="input_mean", also=("input_std",))
        if self.input_mean is not None:
            channels = self.input_shape[0]
            if len(self.input_mean) != channels or len(self.input_std) != channels:  # type: ignore[arg-type]
                raise LicliError(f"input_mean=… and input_std=… need one value per input channel ({channels})",
                                 f"pass {channels} values to each (or change input_shape=…)", field="input_mean",
                                 also=("input_std", "input_shape"))
            if min(self.input_std) <= 0:  # type: ignore[type-var]
                raise LicliError(f"input_std must be > 0 (got {list(self.input_std)})",  # type: ignore[arg-type]
                                 "pass the per-channel standard deviations, e.g. input_std=0.247,0.243,0.261",
                                 field="input_std")
        if self.num_classes is not None and self.num_classes < 1:
            raise LicliError(f"num_classes must be ≥ 1 (got {self.num_classes})", "pass e.g. num_classes=10",
                             field="num_classes")

    @property
    def definition(self) -> tuple[Path, str]:
        path, _, name = self.target.rpartition(":")
        return Path(path), name

    def describe(self) -> str:
        return f"{self.kind}:{self.target}"

    @property
    def name(self) -> str:
        """Short name, e.g. ``resnet.py:ResNet18`` or ``torchvision:resnet18`` (``name`` in metadata, as licli models)."""
        if self.kind == "definition":
            path, name = self.definition
            return f"{path.name}:{name}"
        return f"{self.kind}:{self.target}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "foreign", "name": self.name, "source": self.kind, "target": self.target, "args": dict(self.args),
                "num_classes": self.num_classes, "input_shape": list(self.input_shape),
                "input_mean": None if self.input_mean is None else list(self.input_mean),
                "input_std": None if self.input_std is None else list(self.input_std),
                "definition_sha256": self.definition_sha256}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ForeignSpec":
        return cls(kind=data["source"], target=data["target"], args=dict(data.get("args") or {}),
                   num_classes=data.get("num_classes"), input_shape=tuple(data["input_shape"]),
                   input_mean=None if data.get("input_mean") is None else tuple(data["input_mean"]),
                   input_std=None if data.get("input_std") is None else tuple(data["input_std"]),
                   definition_sha256=data.get("definition_sha256"))


class ForeignModel(nn.Module):
    """``net`` behind an input check and optional normalisation; inputs are in [0, 1] pixel units."""

    def __init__(self, net: nn.Module, input_shape: Sequence[int], mean: Sequence[float] | None = None,
                 std: Sequence[float] | None = None, num_classes: int | None = None) -> None:
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.normalize = Normalize(mean, std) if mean is not None else nn.Identity()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.input_shape:
            raise LicliError(
                f"the model takes {'×'.join(map(str, self.input_shape))} inputs but got "
                f"{'×'.join(map(str, x.shape[1:]))} images",
                "pick the dataset the model was made for with dataset=…, or declare its input_shape=…",
                field="dataset", also=("input_shape",))
        return self.net(self.normalize(x))


@contextmanager
def running_user_code(path: Path) -> Iterator[io.StringIO]:
    """Run the user's ``path`` as if it were a library: its folder on ``sys.path`` (so it can import its
    sibling modules), ``sys.argv`` reduced to ``[path]`` (a module that parses the command line with argparse
    sees no licli flags), its stdout/stderr captured, ``sys.exit()`` turned into a ``LicliError``, and no
    ``__pycache__`` written beside it. Captured output is replayed on stderr when the code returns normally."""
    folder, argv, bytecode = str(path.parent.resolve()), sys.argv, sys.dont_write_bytecode
    captured = io.StringIO()
    sys.argv, sys.dont_write_bytecode = [str(path)], True
    sys.path.insert(0, folder)
    try:
        with redirect_stdout(captured), redirect_stderr(captured):
            yield captured
    except SystemExit as stop:
        said = [line for line in captured.getvalue().splitlines() if line.strip()]
        detail = f": {' '.join(said[-1].split())[:200]}" if said else ""
        raise LicliError(f"{path.name} called sys.exit({stop.code!r}) while licli loaded it{detail}",
                         "guard the script part of the file with `if __name__ == \"__main__\":`") from None
    else:
        sys.stderr.write(captured.getvalue())
    finally:
        sys.argv, sys.dont_write_bytecode = argv, bytecode
        if folder in sys.path:
            sys.path.remove(folder)


def import_definition(path: Path, name: str) -> Callable[..., Any]:
    """Import the user's ``path`` (this RUNS their file, inside ``running_user_code``) and return its
    attribute ``name``."""
    if not path.is_file():
        raise LicliError(f"model definition file {path} not found", "pass --model-def path/to/file.py:ClassName")
    module_name = f"licli_user_model_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise LicliError(f"cannot import {path} as Python", "pass a .py file: --model-def file.py:ClassName")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        with running_user_code(path):
            spec.loader.exec_module(module)
    except LicliError:
        sys.modules.pop(module_name, None)
        raise
    except Exception as error:  # noqa: BLE001 - the user's code may raise anything; report it in one line
        sys.modules.pop(module_name, None)
        raise LicliError(f"importing {path} failed: {type(error).__name__}: {' '.join(str(error).split())}",
                         "fix the model definition file (rerun with --debug for the traceback)") from error
    target = getattr(module, name, None)
    if not callable(target):
        found = sorted(k for k, v in vars(module).items()
                       if not k.startswith("_") and (isinstance(v, type) and issubclass(v, nn.Module)
                                                     or callable(v) and getattr(v, "__module__", "") == module_name))
        raise LicliError(f"{path} defines no class or function {name!r}",
                         f"choose one of: {', '.join(found) or '(none found)'}")
    return target


def _call(builder: Callable[..., Any], args: Mapping[str, Any], what: str, path: Path | None = None) -> nn.Module:
    try:
        if path is None:
            model = builder(**args)
        else:
            with running_user_code(path):
                model = builder(**args)
    except LicliError:
        raise
    except TypeError as error:
        raise LicliError(f"cannot build {what} with arguments {dict(args)} ({error})",
                         "pass the constructor's arguments as args=…", field="args") from None
    except Exception as error:  # noqa: BLE001 - the user's constructor may raise anything
        raise LicliError(f"building {what} failed: {type(error).__name__}: {' '.join(str(error).split())}",
                         "check args=… and the model definition (--debug shows the traceback)",
                         field="args") from error
    if not isinstance(model, nn.Module):
        raise LicliError(f"{what} returned {type(model).__name__}, not a torch.nn.Module",
                         "name a class (or factory function) that builds the network")
    return model


def build_definition(spec: ForeignSpec) -> nn.Module:
    """Import the definition file and build its model; a pinned file (``definition_sha256``) must match."""
    path, name = spec.definition
    if spec.definition_sha256 is not None and path.is_file():
        actual = sha256_file(path)
        if actual != spec.definition_sha256:
            raise LicliError(f"model definition {path} changed since the checkpoint was imported "
                             f"(sha256 {actual[:12]}… expected {spec.definition_sha256[:12]}…)",
                             "restore the original file, or re-run `licli import` with the new one")
    args = dict(spec.args)
    if spec.num_classes is not None and "num_classes" in args and args["num_classes"] != spec.num_classes:
        raise LicliError(f"num_classes {spec.num_classes} contradicts args={{'num_classes': {args['num_classes']}}}",
                         "give the number of classes once", field="num_classes", also=("args",))
    return _call(import_definition(path, name), args, f"{path.name}:{name}", path)


def torchvision_names() -> dict[str, Callable[..., nn.Module]]:
    """Classification architectures of ``torchvision.models``, by name."""
    import torchvision.models as tv

    return {name: tv.get_model_builder(name) for name in tv.list_models(module=tv)}


def torchvision_weights_file(spec: ForeignSpec) -> Path | None:
    """The local torch hub cache file of the pretrained weights ``--model-args '{"weights": "DEFAULT"}'`` names
    (``torch.hub.get_dir()/checkpoints/<file of the weights' URL>``), or None when no weights are asked."""
    import torchvision.models as tv

    name = spec.args.get("weights")
    if name is None:
        return None
    try:
        weights = tv.get_model_weights(spec.target)[name] if isinstance(name, str) and name != "DEFAULT" \
            else tv.get_model_weights(spec.target).DEFAULT
    except (KeyError, ValueError) as error:
        raise LicliError(f"torchvision {spec.target} has no weights {name!r} ({error})",
                         f"pass one of: DEFAULT, {', '.join(w.name for w in tv.get_model_weights(spec.target))}"
                         ) from None
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name


def build_torchvision(spec: ForeignSpec) -> nn.Module:
    """A torchvision architecture; ``weights`` in ``--model-args`` (e.g. ``"DEFAULT"``, ``"IMAGENET1K_V1"``) reads
    those pretrained weights from the local torch hub cache, never downloading them."""
    builder = pick(torchvision_names(), spec.target, "torchvision model")
    args = {**spec.args, "weights": None}
    if spec.num_classes is not None:
        args["num_classes"] = spec.num_classes
    net = _call(builder, args, f"torchvision {spec.target}")
    cached = torchvision_weights_file(spec)
    if cached is not None:
        if not cached.is_file():
            raise LicliError(f"torchvision {spec.target} weights {spec.args['weights']} are not in the local torch "
                             f"hub cache ({cached}); licli never downloads them",
                             f"fetch them once with torchvision (torchvision.models.get_model({spec.target!r}, "
                             f"weights={spec.args['weights']!r})) or put the file there")
        load_strict(net, read_state_dict(cached, list(net.state_dict())), str(cached))
    return net


def build_timm(spec: ForeignSpec) -> nn.Module:
    """A timm architecture (randomly initialised; weights from ``--weights``). ``"pretrained": true`` in
    ``--model-args`` takes timm's pretrained weights from the local Hugging Face cache only (offline)."""
    try:
        import timm
    except ImportError:
        raise LicliError("timm:NAME needs the timm package", "pip install 'licli[timm]' (or pip install timm)"
                         ) from None
    if not timm.is_model(spec.target):
        close = timm.list_models(f"*{spec.target}*")[:8]
        raise LicliError(f"timm has no model {spec.target!r}",
                         f"choose one of timm.list_models(), e.g. {', '.join(close) or 'resnet18'}")
    args = dict(spec.args)
    if spec.num_classes is not None:
        args["num_classes"] = spec.num_classes
    if not args.get("pretrained"):
        return _call(lambda **kw: timm.create_model(spec.target, **kw), args, f"timm {spec.target}")
    with offline_hub():
        try:
            return timm.create_model(spec.target, **args)
        except (OSError, RuntimeError, ValueError) as error:
            raise LicliError(f"timm {spec.target}'s pretrained weights are not in the local cache "
                             f"({type(error).__name__}: {' '.join(str(error).split())[:160]}); licli never downloads",
                             "fetch them once with timm.create_model(NAME, pretrained=True), or pass a file as "
                             "weights=…", field="weights") from None


@contextmanager
def offline_hub() -> Iterator[None]:
    """Hugging Face hub reads only from its local cache inside the block (``HF_HUB_OFFLINE``)."""
    import os

    import huggingface_hub.constants as hub

    saved, flag = os.environ.get("HF_HUB_OFFLINE"), hub.HF_HUB_OFFLINE
    os.environ["HF_HUB_OFFLINE"], hub.HF_HUB_OFFLINE = "1", True
    try:
        yield
    finally:
        hub.HF_HUB_OFFLINE = flag
        if saved is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = saved


def _robustbench_utils() -> Any:
    """``robustbench.utils`` (its model zoo and loader) without the package's ``__init__``, which imports its
    evaluation and data-download machinery (and fails on current setuptools and pyautoattack)."""
    import importlib
    import types

    if "robustbench.utils" in sys.modules:
        return sys.modules["robustbench.utils"]
    found = importlib.util.find_spec("robustbench")
    if found is None or not found.submodule_search_locations:
        raise LicliError("robustbench:NAME needs the robustbench package",
                         "pip install --no-deps robustbench, then its model zoo's imports (docs/foreign-models.md)")
    if "robustbench" not in sys.modules:
        package = types.ModuleType("robustbench")
        package.__path__ = list(found.submodule_search_locations)
        sys.modules["robustbench"] = package
    try:
        return importlib.import_module("robustbench.utils")
    except ImportError as error:
        raise LicliError(f"robustbench's model zoo cannot be imported ({error})",
                         f"pip install {error.name or 'the missing module'} (docs/foreign-models.md)") from None


ROBUSTBENCH_DEFAULTS = {"dataset": "cifar10", "threat_model": "Linf", "model_dir": "models"}
"""robustbench.utils.load_model's defaults: ``--model-args`` may change each."""


def robustbench_files(spec: ForeignSpec) -> dict[str, Path]:
    """The local weight files of ``robustbench:NAME`` in robustbench's model folder
    (``<model_dir>/<dataset>/<threat_model>/<NAME>.pt``, ``<NAME>.pt_m<i>.pt`` for an ensemble), by role."""
    utils = _robustbench_utils()
    from robustbench.model_zoo.enums import BenchmarkDataset, ThreatModel

    unknown = sorted(set(spec.args) - set(ROBUSTBENCH_DEFAULTS))
    if unknown:
        raise LicliError(f"robustbench models take no argument {', '.join(unknown)}",
                         f"args=… takes {', '.join(ROBUSTBENCH_DEFAULTS)}", field="args")
    args = {**ROBUSTBENCH_DEFAULTS, **spec.args}
    try:
        dataset, threat = BenchmarkDataset(args["dataset"]), ThreatModel(args["threat_model"])
    except ValueError as error:
        raise LicliError(f"robustbench knows no {error}",
                         f"datasets: {', '.join(d.value for d in BenchmarkDataset)}; threat models: "
                         f"{', '.join(t.value for t in ThreatModel)}") from None
    entry = pick(utils.all_models[dataset][threat], spec.target, f"robustbench {dataset.value} {threat.value} model")
    folder = Path(args["model_dir"]).expanduser() / dataset.value / threat.value
    if entry.get("gdrive_id") is None:
        raise LicliError(f"robustbench {spec.target} has no weights file of its own (robustbench takes it from timm "
                         "or torchvision, downloading)", "use --model timm:NAME or torchvision:NAME with local weights")
    path = folder / f"{spec.target}.pt"
    if isinstance(entry["gdrive_id"], list):
        return {f"weights[{i}]": Path(f"{path}_m{i}.pt") for i in range(len(entry["gdrive_id"]))}
    return {"weights": path}


def build_robustbench(spec: ForeignSpec) -> nn.Module:
    """A RobustBench model zoo entry with its weights from the local model folder, loaded by robustbench's own
    ``load_model`` (its key fixes per model); licli never lets it download (the files must be there)."""
    files = robustbench_files(spec)
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise LicliError(f"robustbench {spec.target}'s weights are not in the local model folder ({', '.join(missing)});"
                         " licli never downloads them",
                         "fetch them once with robustbench.utils.load_model(NAME, model_dir=…, dataset=…, "
                         "threat_model=…), or set model_dir in args=… to the folder holding them", field="args")
    utils = _robustbench_utils()
    args = {**ROBUSTBENCH_DEFAULTS, **spec.args}
    with redirect_stdout(io.StringIO()):
        net = utils.load_model(spec.target, model_dir=str(Path(args["model_dir"]).expanduser()),
                               dataset=args["dataset"], threat_model=args["threat_model"])
    return net


ARCHITECTURES: dict[str, Callable[[ForeignSpec], nn.Module]] = {
    "definition": build_definition,
    "torchvision": build_torchvision,
    "timm": build_timm,
    "robustbench": build_robustbench,
}


def source_files(spec: ForeignSpec) -> dict[str, str]:
    """Role → path of the local files a named model reads by itself (pretrained weights), for the manifest."""
    if spec.kind == "robustbench":
        return {role: str(path) for role, path in robustbench_files(spec).items()}
    if spec.kind == "torchvision":
        cached = torchvision_weights_file(spec)
        return {} if cached is None else {"weights": str(cached)}
    return {}


def pick_architecture(kind: str) -> Callable[[ForeignSpec], nn.Module]:
    return pick(ARCHITECTURES, kind, "model source")


def build_foreign(spec: ForeignSpec) -> ForeignModel:
    """The network of ``spec`` (randomly initialised) inside its ``ForeignModel``."""
    net = pick_architecture(spec.kind)(spec)
    return ForeignModel(net, spec.input_shape, spec.input_mean, spec.input_std, spec.num_classes)


def _unpickling_refused(path: Path, error: Exception) -> LicliError:
    found = re.search(r"Unsupported (?:global|operand)[^\n]*?(?= was not|\n|$)", str(error))
    detail = f": {found.group(0).strip()}" if found else ""
    return LicliError(f"{path} is not a plain state dict: loading it needs unpickling arbitrary Python objects"
                      f"{detail}, which licli never does",
                      "re-save it from your own code as torch.save(model.state_dict(), 'weights.pt') "
                      "or as .safetensors")


def read_weights(path: Path) -> Any:
    """The raw content of a weights file: safetensors, or a ``torch.load(weights_only=True)`` pickle."""
    if not path.is_file():
        raise LicliError(f"weights file {path} not found", "pass weights=path/to/weights.safetensors|.pt|.pth",
                         field="weights")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError, ValueError, RuntimeError) as error:
            raise LicliError(f"cannot read weights {path} ({error})",
                             "the file is corrupt or not safetensors; restore it") from None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise _unpickling_refused(path, error) from None
    except (RuntimeError, OSError, EOFError, ValueError) as error:
        message = " ".join(str(error).split())[:300]
        raise LicliError(f"cannot read weights {path} ({message})",
                         "pass a .safetensors file or a .pt/.pth state dict saved with torch.save") from None


def unwrap_state_dict(content: Any, source: str) -> dict[str, torch.Tensor]:
    """Find the ``name → tensor`` mapping in ``content``, looking inside ``NESTED_STATE_KEYS``."""
    while isinstance(content, Mapping) and not all(isinstance(v, torch.Tensor) for v in content.values()):
        nested = next((content[k] for k in NESTED_STATE_KEYS if isinstance(content.get(k), Mapping)), None)
        if nested is None:
            keys = ", ".join(map(str, list(content)[:8]))
            raise LicliError(f"{source} holds no state dict (top-level keys: {keys})",
                             f"save the model's state_dict, or nest it under one of {', '.join(NESTED_STATE_KEYS)}")
        content = nested
    if not isinstance(content, Mapping) or not content:
        raise LicliError(f"{source} holds a {type(content).__name__}, not a state dict",
                         "save torch.save(model.state_dict(), path)")
    return {str(k): v for k, v in content.items()}


def strip_wrapper_prefixes(state: dict[str, torch.Tensor], expected: Sequence[str]) -> dict[str, torch.Tensor]:
    """Drop ``module.``/``_orig_mod.`` when every key has it and the model's own keys do not."""
    for prefix in WRAPPER_PREFIXES:
        if state and all(k.startswith(prefix) for k in state) and not any(k.startswith(prefix) for k in expected):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def parse_renames(pairs: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``["fc=linear"]`` → ``(("fc", "linear"),)``."""
    renames = []
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old:
            raise LicliError(f"renames {pair!r} is not OLD=NEW", "pass e.g. renames=fc=linear (a key prefix)",
                             field="renames")
        renames.append((old, new))
    return tuple(renames)


def rename_keys(state: dict[str, torch.Tensor], renames: Sequence[tuple[str, str]]) -> dict[str, torch.Tensor]:
    """Replace each key prefix ``old`` (whole dotted components) by ``new``; a rename matching nothing is an error."""
    for old, new in renames:
        matched = [k for k in state if k == old or k.startswith(old + ".")]
        if not matched:
            raise LicliError(f"renames {old}={new} matches no key of the weights",
                             "check the prefix against the weights' keys (named in the strict-loading error)",
                             field="renames")
        join = (lambda rest: new + rest) if new else (lambda rest: rest.removeprefix("."))
        state = {(join(k[len(old):]) if k in matched else k): v for k, v in state.items()}
    return state


def read_state_dict(path: Path, expected: Sequence[str], renames: Sequence[tuple[str, str]] = ()
                    ) -> dict[str, torch.Tensor]:
    """Weights of ``path`` keyed like ``expected``: unwrapped, wrapper prefixes stripped, renamed."""
    state = unwrap_state_dict(read_weights(path), str(path))
    return rename_keys(strip_wrapper_prefixes(state, expected), renames)


def check_logits(model: ForeignModel, device: torch.device, label: str, alpha: float = 1e-5) -> None:
    """Probe ``model`` with seeded random images: its output must be (N, classes) logits, not probabilities.

    The probability test is AutoAttack's ``check_range_output`` (checks.py): every output in
    (−α, 1 + α) and every row summing to 1 within α. Log-probabilities pass (they are logits up to a
    constant).
    """
    input_shape, num_classes = model.input_shape, model.num_classes
    probe = torch.rand(4, *input_shape, generator=torch.Generator().manual_seed(0)).to(device)
    with torch.no_grad():
        try:
            output = model(probe)
        except LicliError:
            raise
        except Exception as error:  # noqa: BLE001 - the user's forward may raise anything
            raise LicliError(f"model {label} fails on a {'×'.join(map(str, input_shape))} input: "
                             f"{type(error).__name__}: {' '.join(str(error).split())[:200]}",
                             "check input_shape=… and the model definition", field="input_shape") from None
    if not isinstance(output, torch.Tensor) or output.dim() != 2:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise LicliError(f"model {label} returns {shape}, not a (batch, classes) tensor of logits",
                         "make forward() return the logits")
    if num_classes is not None and output.shape[1] != num_classes:
        raise LicliError(f"model {label} returns {output.shape[1]} scores per image, not num_classes={num_classes}",
                         "pass the model's real number of classes", field="num_classes")
    if output.max() < 1 + alpha and output.min() > -alpha and ((output.sum(-1) - 1).abs() < alpha).all():
        raise LicliError(f"model {label} returns probabilities (its outputs are ≥ 0 and sum to 1), not logits: "
                         "gradient attacks on a softmax output under-estimate vulnerability",
                         "remove the final softmax from forward() (logits or log-probabilities are fine)")
