"""Registries are plain dicts from a name to an entry; ``pick`` turns a wrong name into a clear error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from licli.errors import LicliError

T = TypeVar("T")


def pick(registry: Mapping[str, T], name: str, kind: str) -> T:
    """Return ``registry[name]``, or raise a LicliError that lists the valid names of this ``kind``."""
    try:
        return registry[name]
    except KeyError:
        valid = ", ".join(sorted(registry)) or "(none registered)"
        raise LicliError(f"unknown {kind} {name!r}", f"choose one of: {valid}") from None
