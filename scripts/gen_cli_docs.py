"""Write docs/cli.md, the command-line reference, from the typer app (``python scripts/gen_cli_docs.py``).

Walks the command tree of ``typer.main.get_command(licli.cli.app)`` and prints, per command, its usage,
help text and a table of its arguments and options with their defaults. Deterministic: the same code
gives the same page (tests/test_docs.py fails when docs/cli.md is not current).
"""

from __future__ import annotations

import argparse
import enum
import sys
from pathlib import Path

import typer.main

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "docs" / "cli.md"


def _cell(text: object) -> str:
    """One markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def _help(text: str | None) -> str:
    """Help text without click's ``\\b`` no-rewrap markers."""
    lines = [line for line in (text or "").strip().splitlines() if line.strip() != "\b"]
    return "\n".join(line.rstrip() for line in lines)


def _default(param) -> str:
    if getattr(param, "is_flag", False) and getattr(param, "secondary_opts", None):
        return f"`{(param.opts if param.default else param.secondary_opts)[0]}`"
    default = param.default
    if callable(default) or default is None or default == () or default == []:
        return "required" if param.required else "—"
    if isinstance(default, enum.Enum):
        default = default.value
    if isinstance(default, (list, tuple)):
        default = ",".join(str(value) for value in default)
    return f"`{default}`"


def _help_with_choices(param) -> str:
    """The option's help, followed by its choices when it takes one of a fixed set (a typed choice)."""
    text = getattr(param, "help", None) or ""
    kind = getattr(param, "type_descriptor", None) or getattr(param, "type", None)  # typer ≥ 0.26 / click
    choices = getattr(kind, "choices", None)
    if not choices:
        return text
    names = [getattr(choice, "value", choice) for choice in choices]
    return f"{text} One of: {', '.join(map(str, names))}.".strip()


def _name(param) -> str:
    if param.param_type_name == "argument":
        return f"`{param.name.upper()}` (argument)"
    names = list(param.opts) + list(getattr(param, "secondary_opts", []) or [])
    return " / ".join(f"`{name}`" for name in names)


def _commands(command, path: list[str]):
    """``(path, command, context)`` for every command of the tree, depth first in listing order."""
    context = command.context_class(command, info_name=path[-1])
    yield path, command, context
    if hasattr(command, "list_commands"):
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            if sub is not None and not getattr(sub, "hidden", False):
                yield from _commands(sub, [*path, name])


def render() -> str:
    if str(ROOT) not in sys.path:  # document this checkout, not another installed copy
        sys.path.insert(0, str(ROOT))
    import licli.cli

    root = typer.main.get_command(licli.cli.app)
    out = ["# Command-line reference", "",
           "Generated from the typer app by `python scripts/gen_cli_docs.py`; do not edit by hand "
           "(`tests/test_docs.py` fails when this page is not current).", ""]
    for path, command, context in _commands(root, ["licli"]):
        title = " ".join(path)
        out += [f"## `{title}`", ""]
        pieces = " ".join(command.collect_usage_pieces(context))
        out += ["```", f"{title} {pieces}".rstrip(), "```", ""]
        if _help(command.help):
            out += [_help(command.help), ""]
        params = [param for param in command.params
                  if not getattr(param, "hidden", False) and param.name not in {"install_completion", "show_completion"}]
        if params:
            out += ["| argument / option | default | help |", "| --- | --- | --- |"]
            out += [f"| {_name(param)} | {_cell(_default(param))} | {_cell(_help_with_choices(param))} |"
                    for param in params]
            out += [""]
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUTPUT, help="where to write (default: docs/cli.md)")
    args = parser.parse_args(argv)
    args.out.write_text(render(), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
