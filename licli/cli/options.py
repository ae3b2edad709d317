"""Option groups shared by many commands, injected by decorators so each is declared once."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from licli.errors import LicliError
from licli.models.sources import ModelSource

_MODEL_OPTIONS = [
    inspect.Parameter("checkpoint", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=list[Path],
                      default=typer.Option([], "--checkpoint", "-c",
                                           help="licli checkpoint (.safetensors with its .json, or a train run "
                                                "folder). Repeat for several models.")),
]


def with_model_sources(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the model-source options to ``command``, which receives them as ``sources: list[ModelSource]``."""
    signature = inspect.signature(command)
    kept = [p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD)
            for name, p in signature.parameters.items() if name != "sources"]

    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> Any:
        checkpoints = kwargs.pop("checkpoint")
        if not checkpoints:
            raise LicliError("no model given", "pass --checkpoint PATH (repeat it for several models)")
        kwargs["sources"] = [ModelSource(checkpoint=str(path)) for path in checkpoints]
        return command(**kwargs)

    wrapper.__signature__ = signature.replace(parameters=[*_MODEL_OPTIONS, *kept])  # type: ignore[attr-defined]
    return wrapper
