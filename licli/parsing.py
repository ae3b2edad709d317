"""Parsing of the short text values flags and environment variables carry (comma-separated lists)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from licli.errors import LicliError

T = TypeVar("T")

ITEM_NAMES = {str: "names", int: "integers", float: "numbers"}


def comma_list(text: str | None, flag: str = "", item: Callable[[str], T] = str, *,  # type: ignore[assignment]
               example: str = "") -> tuple[T, ...]:
    """``"a, b,,c"`` → ``(item("a"), item("b"), item("c"))``: items stripped, empty ones dropped, ``None`` → ``()``.

    An item ``item`` refuses with ``ValueError`` is a ``LicliError`` naming ``flag`` (``example`` shows a
    valid value); ``item`` may raise its own ``LicliError``.
    """
    parts = [part.strip() for part in (text or "").split(",") if part.strip()]
    try:
        return tuple(item(part) for part in parts)
    except ValueError:
        what = ITEM_NAMES.get(item, "values")  # type: ignore[call-overload]
        field = None if flag.startswith("-") else flag  # a config field (levels), else a flag (--seeds)
        given = f"{flag}=" if field else f"{flag} "
        raise LicliError(f"{flag} {text!r} is not a comma-separated list of {what}",
                         f"pass e.g. {given}{example or '0,1,2'}", field=field) from None
