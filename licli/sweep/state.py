"""What a task's run folder says: done (its manifest says ``ok``), failed, interrupted, or pending."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from licli.sweep.plan import Plan, Task

DONE, FAILED, INTERRUPTED, PENDING = "done", "failed", "interrupted", "pending"
STATUS_COLUMNS = ["task", "entry", "status", "exit_code", "seconds", "device", "depends", "run_dir"]


@dataclass(frozen=True)
class TaskState:
    status: str
    exit_code: int | None = None
    seconds: float | None = None
    device: str | None = None


def task_state(task: Task) -> TaskState:
    """A folder without a manifest is a run killed before it could write one (interrupted)."""
    folder = Path(task.run_dir)
    if not folder.exists():
        return TaskState(PENDING)
    try:
        manifest = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return TaskState(INTERRUPTED)
    status = manifest.get("status")
    device = manifest.get("device")
    state = DONE if status == "ok" else INTERRUPTED if status == "interrupted" else FAILED
    if isinstance(device, dict):
        device = device.get("device") + (f" ({device['gpu_name']})" if device.get("gpu_name") else "")
    return TaskState(state, manifest.get("exit_code"), manifest.get("seconds"), device)


def clean(task: Task) -> None:
    """Remove an unfinished task's run folder before it is run again (never a finished one)."""
    if task_state(task).status != DONE:
        shutil.rmtree(task.run_dir, ignore_errors=True)


def status_table(plan: Plan) -> pd.DataFrame:
    """One row per task: its status, exit code, seconds and device (from its manifest), dependencies and folder."""
    rows = []
    for task in plan.tasks:
        state = task_state(task)
        rows.append({"task": task.id, "entry": task.entry, **dict(task.axes), "status": state.status,
                     "exit_code": state.exit_code, "seconds": state.seconds, "device": state.device,
                     "depends": ",".join(task.depends), "run_dir": task.run_dir})
    axes = list(dict.fromkeys(a for t in plan.tasks for a in t.axes))
    return pd.DataFrame(rows, columns=["task", "entry", *axes, *STATUS_COLUMNS[2:]])
