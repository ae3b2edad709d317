"""The two terminal streams: results on stdout, notices/progress/errors on stderr."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


REDIRECTED_WIDTH = 100_000
"""Console width when a stream is not a terminal (CI logs, files, pipes): tables keep their natural width
instead of being squeezed, wrapped or cut at 80 columns. ``COLUMNS`` still sets a width when given."""


def _console(stream: Any) -> Console:
    console = Console(file=stream, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = REDIRECTED_WIDTH
    return console


def stdout() -> Console:
    return _console(sys.stdout)


def stderr() -> Console:
    return _console(sys.stderr)


def error_line(message: str) -> None:
    """The one line a failing command prints (no markup interpretation, no wrapping)."""
    sys.stderr.write(f"licli: error: {message}\n")
    sys.stderr.flush()


def notice(message: str) -> None:
    stderr().print(message, markup=False, highlight=False)


class EpochProgress:
    """A rich progress bar per epoch on stderr; silent when stderr is not a terminal."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.console = stderr()
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self._progress: Progress | None = None
        self._task = None

    def start_epoch(self, epoch: int, epochs: int, steps: int) -> None:
        if not self.enabled:
            return
        self._progress = Progress(TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"), BarColumn(),
                                  MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                                  console=self.console, transient=False)
        self._progress.start()
        self._task = self._progress.add_task("train", total=steps, epoch=epoch, epochs=epochs)

    def advance(self) -> None:
        if self._progress is not None:
            self._progress.advance(self._task)

    def end_epoch(self, row: dict[str, Any]) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if self.enabled:
            self.console.print(f"  loss {row['train_loss']:.4f} · train {row['train_accuracy']:.2%} · "
                               f"test {row['test_accuracy']:.2%} · {row['seconds']:.1f}s", highlight=False)


class PartProgress:
    """The ``on_progress`` callback of long evaluations (``licli.progress``): one rich bar per task on stderr
    with the parts done, elapsed and remaining time and the last part's duration; silent when stderr is not a
    terminal. ``live=False`` prints one line per finished part instead (for parts that draw their own bars:
    rich allows one live display at a time)."""

    def __init__(self, enabled: bool | None = None, live: bool = True) -> None:
        self.console = stderr()
        self.enabled = self.console.is_terminal if enabled is None else enabled
        self.live = live
        self._progress: Progress | None = None
        self._tasks: dict[str, Any] = {}
        self._started: dict[str, float] = {}

    def __call__(self, part: Any) -> None:
        if not self.enabled:
            return
        if not self.live:
            self._line(part)
            return
        if self._progress is None:
            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[last]}"),
                                      console=self.console, transient=False)
            self._progress.start()
        if part.task not in self._tasks:
            self._tasks[part.task] = self._progress.add_task(part.task, total=part.total, last="")
        last = f"{part.label} {part.seconds:.1f}s" if part.done else ""
        self._progress.update(self._tasks[part.task], completed=part.done, total=part.total, last=last)
        if all(task.finished for task in self._progress.tasks):
            self.close()

    def _line(self, part: Any) -> None:
        started = self._started.setdefault(part.task, time.monotonic())
        if not part.done:
            return
        elapsed = time.monotonic() - started
        remaining = elapsed / part.done * (part.total - part.done)
        self.console.print(f"{part.task} {part.done}/{part.total}: {part.label} took {part.seconds:.1f}s "
                           f"(elapsed {elapsed:.0f}s, about {remaining:.0f}s left)", markup=False, highlight=False)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._tasks = {}


def show_result(frame, *, run_path, json_output: bool, title: str, percent_columns: tuple[str, ...] = (),
                columns: list[str] | None = None) -> None:
    """Print an evaluation's result on stdout: JSON of the whole frame (with the run folder), or a rich table
    of ``columns`` (default: all) and the run folder."""
    from licli.reporting.tables import frame_json, frame_table  # deferred: pandas; the CLI starts without it

    console = stdout()
    if json_output:
        console.print_json(frame_json(frame, run=str(run_path)))
        return
    console.print(frame_table(frame[columns] if columns else frame, title=title, percent_columns=percent_columns))
    console.print(f"run: {run_path}", highlight=False, markup=False)
