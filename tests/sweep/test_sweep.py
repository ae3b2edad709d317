"""``licli sweep`` end to end on a tiny grid (1 train on mnist-mini, 4 dependent attack cells).

The reference for every executor is the same commands run one by one in this process: their summary
rows must be equal. Killing a worker mid-run and re-running the sweep must rerun only that cell.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pandas as pd
import pytest

from licli.cli import app
from licli.errors import LicliError
from licli.reporting.discovery import load_run
from licli.sweep.executors import LocalExecutor, SubmititExecutor
from licli.sweep.plan import load_plan, parse_grid
from licli.sweep.run import collect, run_plan, with_axes
from licli.sweep.state import DONE, INTERRUPTED, PENDING, task_state

GRID = """
[sweep]
name = "tiny"

[[tasks]]
id = "train"
command = ["train"]
args = ["--model", "mlp", "--model-options", '{"hidden": 16}', "--dataset", "mnist-mini", "--epochs", "1",
        "--seed", "0", "--device", "cpu"]

[[tasks]]
id = "attack"
command = ["attack"]
args = ["--checkpoint", "{run:train}", "--attacks", "{attack}", "--eps", "{eps}", "--steps", "2", "--n", "16",
        "--batch-size", "8", "--device", "cpu"]
axes = { attack = ["fgsm", "pgd"], eps = ["2/255", "8/255"] }
"""


def _plan(root: Path):
    import tomllib

    return parse_grid(tomllib.loads(GRID), "tiny.toml", root)


def _rows(run_dir: str | Path) -> pd.DataFrame:
    frame = load_run(Path(run_dir)).metrics
    return frame[["model", "metric", "setting", "value"]].sort_values(["metric", "setting"], ignore_index=True)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The grid through the local executor with 2 workers."""
    plan = _plan(tmp_path_factory.mktemp("sweep"))
    table = run_plan(plan, LocalExecutor(workers=2))
    return plan, table


@pytest.fixture(scope="module")
def one_by_one(tmp_path_factory, swept):
    """The same commands run one after another in this process (the reference)."""
    from typer.testing import CliRunner

    alone = _plan(tmp_path_factory.mktemp("alone"))
    runner = CliRunner()
    for task in alone.tasks:
        result = runner.invoke(app, list(task.argv))
        assert result.exit_code == 0, result.output
    return alone


def test_plan_ids_are_stable_readable_and_dependencies_resolved(tmp_path):
    first, second = _plan(tmp_path / "a"), _plan(tmp_path / "b")
    assert [t.id for t in first.tasks] == [t.id for t in second.tasks]  # independent of the root
    assert len({t.id for t in first.tasks}) == 5
    train = first.tasks[0]
    assert train.id.startswith("train-") and train.depends == ()
    attacks = first.tasks[1:]
    assert [t.id.rsplit("-", 1)[0] for t in attacks] == ["attack-fgsm-2_255", "attack-fgsm-8_255",
                                                          "attack-pgd-2_255", "attack-pgd-8_255"]
    for task in attacks:
        assert task.depends == (train.id,)
        assert task.argv[task.argv.index("--checkpoint") + 1] == train.run_dir
        assert task.argv[-2:] == ("--run-dir", task.run_dir)
        assert task.run_dir == str(tmp_path / "a" / "runs" / task.id)


def test_grid_errors_name_the_problem(tmp_path):
    with pytest.raises(LicliError, match="not an earlier entry"):
        parse_grid({"tasks": [{"id": "a", "command": ["attack"], "args": ["{run:b}"]}]}, "g", tmp_path)
    with pytest.raises(LicliError, match="does not name one task"):
        parse_grid({"tasks": [{"id": "t", "command": ["train"], "axes": {"seed": [0, 1]}},
                              {"id": "a", "command": ["attack"], "args": ["{run:t}"]}]}, "g", tmp_path)
    with pytest.raises(LicliError, match="resources.gpus"):
        parse_grid({"resources": {"gpus": -1}, "tasks": [{"id": "t", "command": ["train"]}]}, "g", tmp_path)


def test_local_executor_with_two_workers_equals_one_by_one(swept, one_by_one):
    plan, table = swept
    assert list(table["status"]) == [DONE] * 5, table
    assert set(table["device"]) == {"cpu"} and (table["exit_code"] == 0).all() and (table["seconds"] > 0).all()
    for task, alone in zip(plan.tasks, one_by_one.tasks):
        pd.testing.assert_frame_equal(_rows(task.run_dir), _rows(alone.run_dir))


def test_collect_has_one_row_per_task_and_the_report_aggregate(swept):
    plan, _ = swept
    result = collect(plan)
    assert list(result.tasks["task"]) == [t.id for t in plan.tasks]
    assert list(result.tasks.loc[1:, "attack"]) == ["fgsm", "fgsm", "pgd", "pgd"]
    robust = result.aggregated[result.aggregated["metric"] == "robust_accuracy"]
    for task in plan.tasks[1:]:
        rows = _rows(task.run_dir)
        for row in rows[rows["metric"] == "robust_accuracy"].itertuples():  # worst case included
            match = robust[(robust["setting"] == with_axes(row.setting, task.axes)) & (robust["model"] == row.model)]
            assert match["mean"].iloc[0] == pytest.approx(row.value)


def test_axes_the_setting_does_not_state_are_added_but_seeds_aggregate():
    assert with_axes("attack=worst-case;eps=0.1", {"attack": "fgsm", "seed": "1"}) == \
        "attack=worst-case;eps=0.1;sweep.attack=fgsm"
    assert with_axes("attack=fgsm;eps=0.1", {"attack": "fgsm"}) == "attack=fgsm;eps=0.1"


def test_rerun_skips_finished_tasks(swept):
    plan, _ = swept
    manifests = {t.id: (Path(t.run_dir) / "manifest.json").stat().st_mtime_ns for t in plan.tasks}
    ran = []
    table = run_plan(plan, _Recording(ran))
    assert ran == [] and list(table["status"]) == [DONE] * 5
    assert manifests == {t.id: (Path(t.run_dir) / "manifest.json").stat().st_mtime_ns for t in plan.tasks}


class _Recording:
    def __init__(self, ran):
        self.ran = ran

    def run(self, tasks, extra_args=()):
        self.ran += [t.id for t in tasks]


def test_a_worker_killed_mid_run_is_the_only_cell_rerun(swept, tmp_path):
    plan, _ = swept
    import shutil

    shutil.copytree(plan.root, tmp_path / "copy")
    text = (tmp_path / "copy" / "plan.json").read_text().replace(plan.root, str(tmp_path / "copy"))
    (tmp_path / "copy" / "plan.json").write_text(text)
    copy = load_plan(tmp_path / "copy")
    victim = copy.tasks[3]
    shutil.rmtree(victim.run_dir)

    def kill_soon(task, process):
        if task.id == victim.id:
            time.sleep(0.5)
            os.kill(process.pid, signal.SIGKILL)

    run_plan(copy, LocalExecutor(workers=2, started=kill_soon))
    assert task_state(victim).status in (INTERRUPTED, PENDING)
    ran = []
    run_plan(copy, _Running(ran))
    assert ran == [victim.id]
    assert task_state(victim).status == DONE
    pd.testing.assert_frame_equal(_rows(victim.run_dir), _rows(plan.task(victim.id).run_dir))


class _Running(LocalExecutor):
    def __init__(self, ran):
        super().__init__(workers=1)
        self.ran = ran

    def run(self, tasks, extra_args=()):
        self.ran += [t.id for t in tasks]
        super().run(tasks, extra_args)


def test_submitit_debug_executor_runs_the_same_grid(swept, tmp_path):
    pytest.importorskip("submitit")
    plan, _ = swept
    again = _plan(tmp_path)
    table = run_plan(again, SubmititExecutor(tmp_path / "submitit", cluster="debug"))
    assert list(table["status"]) == [DONE] * 5, table
    for task, reference in zip(again.tasks, plan.tasks):
        pd.testing.assert_frame_equal(_rows(task.run_dir), _rows(reference.run_dir))


def test_cli_status_and_collect(swept, runner):
    plan, _ = swept
    result = runner.invoke(app, ["sweep", "status", "--root", plan.root, "--json"])
    assert result.exit_code == 0, result.output
    assert [row["status"] for row in json.loads(result.output)] == [DONE] * 5
    result = runner.invoke(app, ["sweep", "collect", "--root", plan.root])
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(Path(plan.root) / "tasks.csv")) == 5
    assert "robust_accuracy" in result.output


def test_local_slots_pin_one_gpu_each_or_hide_gpus_for_cpu_workers():
    assert LocalExecutor(gpus=["0", "3"], tasks_per_gpu=2).slots == [
        {"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "0"},
        {"CUDA_VISIBLE_DEVICES": "3"}, {"CUDA_VISIBLE_DEVICES": "3"}]
    assert LocalExecutor(workers=3, gpus=[]).slots == [{"CUDA_VISIBLE_DEVICES": ""}] * 3
    with pytest.raises(LicliError, match="workers must be ≥ 1"):
        LocalExecutor(workers=0, gpus=[])


def test_an_interrupted_train_with_a_saved_state_resumes_instead_of_starting_over(tmp_path):
    from licli.sweep.executors import resumable
    from licli.training.loop import STATE_META

    plan = _plan(tmp_path)
    train, attack = plan.tasks[0], plan.tasks[1]
    assert resumable(train) is train  # nothing saved yet
    Path(train.run_dir).mkdir(parents=True)
    (Path(train.run_dir) / STATE_META).write_text("{}")
    assert resumable(train).argv == (*train.argv, "--resume", train.run_dir)
    assert resumable(attack) is attack
