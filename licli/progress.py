"""Progress of long evaluations: library code reports each finished part, the CLI draws it (library code
never prints).

A function that takes ``on_progress`` calls it once with ``done=0`` before its first part and once after each
part: ``on_progress(Part(task, label, done, total, seconds))``. ``licli.reporting.console.PartProgress`` turns
these calls into a rich progress bar on stderr (with elapsed and remaining time) when stderr is a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Part:
    task: str  # the whole job, e.g. "attack"
    label: str  # the part just finished (empty before the first), e.g. "small-cnn · pgd · ε=0.0314"
    done: int  # parts finished so far
    total: int  # parts in the whole job
    seconds: float  # how long the part just finished took (0 before the first)


OnProgress = Callable[[Part], None]


class Parts:
    """Counts the finished parts of one task, reporting each (and the start) to ``on_progress`` (may be None)."""

    def __init__(self, task: str, total: int, on_progress: OnProgress | None) -> None:
        self.task, self.total, self.on_progress, self.done = task, total, on_progress, 0
        if on_progress is not None:
            on_progress(Part(task, "", 0, total, 0.0))

    @contextmanager
    def part(self, label: str) -> Iterator[None]:
        """Time the block as one part and report it when it ends."""
        started = time.perf_counter()
        yield
        self.finished(label, time.perf_counter() - started)

    def finished(self, label: str, seconds: float) -> None:
        """Report one more part done, which took ``seconds``."""
        self.done += 1
        if self.on_progress is not None:
            self.on_progress(Part(self.task, label, self.done, self.total, seconds))


def reporting(task: str, items: Iterable[T], on_progress: OnProgress | None,
              label: Callable[[T], str] = str) -> Iterator[T]:
    """Yield ``items``, each reported as one finished part (with its duration) once the loop body ran."""
    items = list(items)
    parts = Parts(task, len(items), on_progress)
    for item in items:
        with parts.part(label(item)):
            yield item
