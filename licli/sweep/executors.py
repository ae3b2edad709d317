"""Executors: run a batch of ready tasks (their dependencies are finished) and return when all ended.

One small interface, ``Executor.run(tasks, extra_args)``; a task is ``python -m licli <argv> <extra_args>``
in a fresh process whose output goes to the task's log, and whose result is what its run folder's
manifest says (``licli.sweep.state``), never the executor's own bookkeeping. Another engine (Ray, Dask,
a job queue) plugs in by implementing ``run`` the same way (see docs/sweeps.md).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from queue import Queue
from typing import Any, Protocol

from licli.errors import LicliError
from licli.parsing import comma_list
from licli.sweep.plan import Resources, Task
from licli.sweep.state import DONE, task_state


class Executor(Protocol):
    def run(self, tasks: Sequence[Task], extra_args: Sequence[str] = ()) -> None:
        """Run every task once (in any order, in parallel as the executor can); return when all ended."""


def task_command(task: Task, extra_args: Sequence[str] = ()) -> list[str]:
    """The process a task runs: this interpreter's ``licli`` with the task's argv."""
    return [sys.executable, "-m", "licli", *task.argv, *extra_args]


def _open_log(task: Task):
    Path(task.log).parent.mkdir(parents=True, exist_ok=True)
    return open(task.log, "a", encoding="utf-8")


def run_task(task: Task, extra_args: Sequence[str] = (), env: dict[str, str] | None = None,
             started: Callable[[Task, subprocess.Popen], None] | None = None) -> int:
    """Run one task to its end in a child process (output appended to its log); its exit code."""
    with _open_log(task) as log:
        log.write(f"$ {' '.join(task_command(task, extra_args))}\n")
        log.flush()
        process = subprocess.Popen(task_command(task, extra_args), stdout=log, stderr=subprocess.STDOUT,
                                   env={**os.environ, **(env or {})})
        if started is not None:
            started(task, process)
        return process.wait()


def visible_gpus() -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` entries (``[]`` on a CPU machine)."""
    import torch

    if not torch.cuda.is_available():
        return []
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given:
        return list(comma_list(given))[:torch.cuda.device_count()]
    return [str(i) for i in range(torch.cuda.device_count())]


class LocalExecutor:
    """This machine: one slot per visible GPU (``tasks_per_gpu`` slots each, for launch-bound tasks), each
    pinned with ``CUDA_VISIBLE_DEVICES``; without GPUs, ``workers`` CPU slots (GPUs hidden)."""

    def __init__(self, workers: int = 1, gpus: Sequence[str] | None = None, tasks_per_gpu: int = 1,
                 started: Callable[[Task, subprocess.Popen], None] | None = None) -> None:
        for name, value in (("workers", workers), ("tasks_per_gpu", tasks_per_gpu)):
            if value < 1:
                raise LicliError(f"{name} must be ≥ 1 (got {value})", f"pass e.g. {name}=2", field=name)
        gpus = visible_gpus() if gpus is None else list(gpus)
        self.slots: list[dict[str, str]] = ([{"CUDA_VISIBLE_DEVICES": g} for g in gpus for _ in range(tasks_per_gpu)]
                                            if gpus else [{"CUDA_VISIBLE_DEVICES": ""} for _ in range(workers)])
        self.started = started

    def run(self, tasks: Sequence[Task], extra_args: Sequence[str] = ()) -> None:
        free: Queue[dict[str, str]] = Queue()
        for slot in self.slots:
            free.put(slot)

        def one(task: Task) -> int:
            slot = free.get()
            try:
                return run_task(task, extra_args, slot, self.started)
            finally:
                free.put(slot)

        with ThreadPoolExecutor(max_workers=len(self.slots)) as pool:
            list(pool.map(one, tasks))


class TaskChunk:
    """What one submitit job runs: its tasks one after another (``tasks_per_process``).

    On preemption or timeout submitit calls ``checkpoint``: the job is requeued with the tasks not yet
    done, an interrupted ``train`` continuing in its own run folder through ``--resume``.
    """

    def __init__(self, tasks: Sequence[Task], extra_args: Sequence[str] = ()) -> None:
        self.tasks = list(tasks)
        self.extra_args = list(extra_args)

    def __call__(self) -> list[int]:
        return [run_task(task, self.extra_args) for task in self.tasks if task_state(task).status != DONE]

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        import submitit

        remaining = [resumable(t) for t in self.tasks if task_state(t).status != DONE]
        return submitit.helpers.DelayedSubmission(TaskChunk(remaining, self.extra_args))


def resumable(task: Task) -> Task:
    """A ``train`` task whose run folder holds a saved training state continues it with ``--resume``."""
    from dataclasses import replace

    from licli.training.loop import STATE_META  # deferred: torch; planning and running tasks do not need it

    if task.argv[0] != "train" or "--resume" in task.argv or not (Path(task.run_dir) / STATE_META).exists():
        return task
    return replace(task, argv=(*task.argv, "--resume", task.run_dir))


class SubmititExecutor:
    """submitit (SLURM job arrays; ``cluster="local"`` or ``"debug"`` runs them here, for tests).

    Tasks with the same resources go into one job array, ``tasks_per_process`` tasks per job;
    ``parameters`` are passed on to ``update_parameters`` (e.g. ``slurm_partition``).
    """

    def __init__(self, folder: str | Path, cluster: str | None = None, tasks_per_process: int = 1,
                 parameters: dict[str, Any] | None = None) -> None:
        try:
            import submitit  # noqa: F401
        except ImportError:
            raise LicliError("the submitit executor needs the submitit package",
                             "pip install 'licli[cluster]' (or pip install submitit)") from None
        self.folder = Path(folder)
        self.cluster = cluster
        self.tasks_per_process = tasks_per_process
        self.parameters = dict(parameters or {})

    def run(self, tasks: Sequence[Task], extra_args: Sequence[str] = ()) -> None:
        import submitit

        groups: dict[Resources, list[Task]] = {}
        for task in tasks:
            groups.setdefault(task.resources, []).append(task)
        jobs = []
        for resources, members in groups.items():
            executor = submitit.AutoExecutor(folder=self.folder / "%j", cluster=self.cluster)
            executor.update_parameters(timeout_min=resources.timeout_min * self.tasks_per_process,
                                       gpus_per_node=resources.gpus, cpus_per_task=resources.cpus,
                                       name="licli-sweep", **self.parameters)
            chunks = [TaskChunk(members[i:i + self.tasks_per_process], extra_args)
                      for i in range(0, len(members), self.tasks_per_process)]
            with executor.batch():
                jobs += [executor.submit(chunk) for chunk in chunks]
        for job in jobs:
            try:
                job.result()
            except Exception:  # noqa: BLE001 - a failed job's tasks say so in their manifests
                pass

