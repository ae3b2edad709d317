"""The typer application, its error handling, and the glue every command shares.

Each command module only unpacks arguments, builds a frozen config, calls one library function and
hands the result to ``licli.reporting``. Errors become one stderr line and an exit code:
0 success · 1 a check failed · 2 bad input or environment (``--debug`` shows tracebacks).
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from typer.core import TyperGroup

from licli.version import __version__
from licli.cli.config_file import FIELD_FLAGS
from licli.cli.lazy import LazyGroup
from licli.config import RunOptions
from licli.errors import Interrupted, LicliError
from licli.reporting.console import error_line
from licli.reporting.files import exact_run_path, new_run_path
from licli.runs import Run, earlier_attempts
from licli.runtime import (deterministic_scope, nondeterminism_explained, out_of_memory_explained, precision_scope,
                           resolve_device, seed_everything, tune_cpu_allocator_for, use_device)

if TYPE_CHECKING:
    import torch

Abort, Exit = typer.Abort, typer.Exit
UsageError = typer.BadParameter.__mro__[1]
"""click's UsageError, through typer's public ``BadParameter`` (its subclass): typer < 0.26 raises the click
package's, typer ≥ 0.26 its own copy's, and ``import click`` would catch only the former."""
assert UsageError.__name__ == "UsageError"

DEBUG_ENV = "LICLI_DEBUG"
INVOCATION: ContextVar[list[str] | None] = ContextVar("licli_invocation", default=None)
"""The arguments ``licli`` was called with (also when called in-process, e.g. by tests), for manifests."""



class LicliGroup(LazyGroup, TyperGroup):
    """Runs the command tree without standalone mode so every failure ends in one stderr line; commands are
    imported on first use (``licli.cli.lazy``)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             windows_expand_args=True, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        debug = "--debug" in argv or os.environ.get(DEBUG_ENV) == "1"
        INVOCATION.set([prog_name or "licli", *argv])
        FIELD_FLAGS.set({})
        try:
            result = super().main(args=argv, prog_name=prog_name or "licli", complete_var=complete_var,
                                  standalone_mode=False, windows_expand_args=windows_expand_args, **extra)
        except Exit as stop:
            code = stop.exit_code
            if isinstance(stop.__cause__, KeyboardInterrupt):  # typer's own conversion of Ctrl-C
                _interrupted_line("nothing was written")
        except UsageError as error:
            if not error.format_message():
                return self._finish(0, standalone_mode)
            command = error.ctx.command_path if error.ctx else "licli"
            error_line(f"{error.format_message()} (see `{command} --help`)")
            code = 2
        except Abort:
            error_line("aborted")
            code = 130
        except Interrupted as interruption:
            _interrupted_line(str(interruption))
            code = interruption.exit_code
        except LicliError as error:
            if debug:
                traceback.print_exc()
            error_line(error.with_flags(FIELD_FLAGS.get()))
            code = error.exit_code
        except KeyboardInterrupt:
            _interrupted_line("nothing was written")
            code = 130
        except Exception as error:  # noqa: BLE001 - the last line of defence: one line, not a traceback
            if debug:
                traceback.print_exc()
            error_line(f"internal error: {type(error).__name__}: {error} "
                       "(rerun with --debug for the traceback and report it)")
            code = 3
        else:
            code = result if isinstance(result, int) else 0
        return self._finish(code, standalone_mode)

    @staticmethod
    def _finish(code: int, standalone_mode: bool) -> int:
        if standalone_mode:
            sys.exit(code)
        return code


def _interrupted_line(message: str) -> None:
    sys.stderr.write(f"licli: interrupted: {message}\n")
    sys.stderr.flush()


app = typer.Typer(cls=LicliGroup, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="licli: does a lateral-inhibition mechanism really make a network more robust?")
evaluate_app = typer.Typer(cls=LicliGroup, no_args_is_help=True, pretty_exceptions_enable=False,
                           help="Evaluations of a trained model (accuracy, oracle, pruning, …).")
app.add_typer(evaluate_app, name="evaluate")
sweep_app = typer.Typer(cls=LicliGroup, no_args_is_help=True, pretty_exceptions_enable=False,
                        help="Run a grid of licli commands or a recipe as tasks on local workers or a cluster.")
app.add_typer(sweep_app, name="sweep")
export_app = typer.Typer(cls=LicliGroup, no_args_is_help=True, pretty_exceptions_enable=False,
                         help="Export runs to the experiment trackers researchers use (offline).")
app.add_typer(export_app, name="export")
LicliGroup.root = app


def _print_version(value: bool) -> None:
    if value:
        print(f"licli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(debug: bool = typer.Option(False, "--debug", help="Show tracebacks for errors."),
          version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    if debug:
        os.environ[DEBUG_ENV] = "1"


def parse_json_option(text: str | None, flag: str) -> dict[str, Any] | None:
    """Parse a JSON object given on the command line (e.g. ``--model-options '{"hidden": 128}'``)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise LicliError(f"{flag} is not valid JSON ({error.msg})", f"pass a JSON object, e.g. {flag} '{{\"k\": 1}}'") from None
    if not isinstance(value, dict):
        raise LicliError(f"{flag} must be a JSON object", f"pass e.g. {flag} '{{\"k\": 1}}'")
    return value


@contextmanager
def recorded_run(command: str, config: Any, options: RunOptions, seed: int | None, path: Path | None = None,
                 resume: str | None = None) -> Iterator[tuple[torch.device, Run]]:
    """Resolve the device, seed, and start the ``Run`` (``licli.runs``) whose manifest is written when the block ends.

    ``path`` reuses an existing run folder (``licli train --resume``); otherwise a new one is created
    exclusively (or, with ``--run-dir``, exactly there). ``resume`` is the command that continues an interrupted
    run, ``{path}`` standing for its folder (e.g. ``licli train --resume {path}``), named when Ctrl-C stops the run.
    The block runs on the resolved device made current (``use_device``), with the CPU allocator tuned
    for CPU runs, IEEE fp32 math (no TF32: ``--precision`` of train/attack changes it inside) and, with
    ``options.deterministic``, deterministic kernels only.
    """
    device = resolve_device(options.device)
    use_device(device)
    tune_cpu_allocator_for(device)
    with deterministic_scope(options.deterministic), precision_scope("fp32", device):  # commands may raise it
        if seed is not None:
            seed_everything(seed)
        details: dict[str, Any] = {"run_options": asdict(options)}
        if path is not None:
            details["earlier_attempts"] = earlier_attempts(path)
        if path is None and options.run_dir:
            path = exact_run_path(options.run_dir, options.force)  # an exact folder (sweeps): reused, never suffixed
        run = Run(path or new_run_path(options.out, command, options.name), command, config=config, seed=seed,
                  device=device, argv=INVOCATION.get(), new=path is None, details=details)
        with run.ended(resume), nondeterminism_explained(), out_of_memory_explained():
            yield device, run
