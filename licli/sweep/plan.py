"""Plan a sweep: a grid file or a recipe expands into tasks with stable ids, dependencies and exact run folders.

A grid file (TOML)::

    [sweep]
    name = "robustness"
    tasks_per_process = 1                 # tasks one submitit job runs one after another

    [resources]                           # per task; an entry's own [tasks.resources] overrides
    gpus = 0
    cpus = 1
    timeout_min = 60

    [[tasks]]
    id = "train"
    command = ["train"]
    args = ["--dataset", "mnist-mini", "--epochs", "1", "--seed", "{seed}"]
    axes = { seed = [0, 1] }

    [[tasks]]
    id = "attack"
    command = ["attack"]
    args = ["--checkpoint", "{run:train}", "--eps", "{eps}", "--seed", "{seed}"]
    axes = { seed = [0, 1], eps = ["2/255", "8/255"] }

Each entry becomes one task per point of the product of its axes, ``{axis}`` filled in. ``{run:<entry>}``
is the run folder of the task of that entry whose axis values agree on the axes both share (its axes must
be a subset of this entry's), resolved at plan time; it also makes the task depend on that one.

A task's id is ``<entry>[-<axis values>]-<hash>``: the hash is of its canonical argv (with references
written as task ids), so the same command always gets the same id and the same run folder
``<root>/runs/<id>``, whatever the root.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from licli.errors import LicliError
from licli.io import atomic_write_json
from licli.registry import pick
from licli.reproduction import SCALES, load_recipe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RUN_REFERENCE = re.compile(r"\{run:([^}]+)\}")
PLAN_FILE = "plan.json"
RUNS_FOLDER = "runs"
LOGS_FOLDER = "logs"


@dataclass(frozen=True)
class Resources:
    """What one task needs (submitit passes these to SLURM; the local executor uses ``gpus`` only)."""

    gpus: int = 0
    cpus: int = 1
    timeout_min: int = 60

    def __post_init__(self) -> None:
        for name in ("gpus", "cpus", "timeout_min"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "gpus" else 1):
                raise LicliError(f"resources.{name} must be a {'non-negative' if name == 'gpus' else 'positive'} "
                                 f"integer (got {value!r})", "fix the grid file's [resources]")


@dataclass(frozen=True)
class Entry:
    """One ``[[tasks]]`` entry of a grid file (or one recipe step): a command, its arguments, its axes."""

    id: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    axes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    resources: Resources = Resources()


@dataclass(frozen=True)
class Task:
    id: str
    entry: str
    argv: tuple[str, ...]
    """``licli`` arguments, ``--run-dir`` included (run folders of dependencies filled in)."""
    run_dir: str
    log: str
    depends: tuple[str, ...] = ()
    axes: Mapping[str, str] = field(default_factory=dict)
    resources: Resources = Resources()


@dataclass(frozen=True)
class Plan:
    name: str
    root: str
    tasks: tuple[Task, ...]
    tasks_per_process: int = 1
    recipe: str | None = None
    scale: str | None = None

    def task(self, task_id: str) -> Task:
        return next(t for t in self.tasks if t.id == task_id)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_-")


def task_id(entry: str, values: Mapping[str, str], canonical: Sequence[str]) -> str:
    """``<entry>[-<values>]-<8 hex of sha256(canonical argv)>``; the readable part is cut at 48 characters."""
    digest = hashlib.sha256(json.dumps(list(canonical)).encode()).hexdigest()[:8]
    readable = "-".join([_slug(entry), *(_slug(v) for v in values.values())])[:48].rstrip("-_")
    return f"{readable}-{digest}"


def _fill(text: str, values: Mapping[str, str]) -> str:
    return re.sub(r"\{([A-Za-z_][\w-]*)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def expand(entries: Sequence[Entry], root: str | Path, *, name: str, tasks_per_process: int = 1,
           recipe: str | None = None, scale: str | None = None) -> Plan:
    """Every entry × the product of its axes → tasks, references resolved to the referenced tasks' run folders."""
    root = Path(root).expanduser().absolute()
    known: dict[str, list[Task]] = {}
    tasks: list[Task] = []
    for entry in entries:
        if entry.id in known:
            raise LicliError(f"sweep {name}: two entries are called {entry.id!r}", "give every entry its own id")
        axes = list(entry.axes)
        known[entry.id] = []
        for point in itertools.product(*(entry.axes[a] for a in axes)):
            values = dict(zip(axes, (str(v) for v in point)))
            args = [_fill(a, values) for a in entry.args]
            depends: dict[str, Task] = {}
            for reference in (r for a in args for r in RUN_REFERENCE.findall(a)):
                depends.setdefault(reference, _referenced(known, entry, reference, values, name))
            canonical = [*entry.command, *(RUN_REFERENCE.sub(lambda m: f"{{run:{depends[m.group(1)].id}}}", a)
                                           for a in args)]
            identity = task_id(entry.id, values, canonical)
            run_dir = root / RUNS_FOLDER / identity
            argv = [*entry.command, *(RUN_REFERENCE.sub(lambda m: depends[m.group(1)].run_dir, a) for a in args),
                    "--run-dir", run_dir.as_posix()]
            task = Task(identity, entry.id, tuple(argv), run_dir.as_posix(),
                        (root / LOGS_FOLDER / f"{identity}.log").as_posix(),
                        tuple(dict.fromkeys(t.id for t in depends.values())), values, entry.resources)
            known[entry.id].append(task)
            tasks.append(task)
    ids = [t.id for t in tasks]
    if len(set(ids)) != len(ids):
        raise LicliError(f"sweep {name}: two tasks run the same command", "remove the duplicate entry or axis value")
    if not isinstance(tasks_per_process, int) or tasks_per_process < 1:
        raise LicliError(f"sweep {name}: tasks_per_process must be a positive integer (got {tasks_per_process!r})",
                         "fix [sweep] tasks_per_process")
    return Plan(name, root.as_posix(), tuple(tasks), tasks_per_process, recipe, scale)


def _referenced(known: Mapping[str, list[Task]], entry: Entry, reference: str, values: Mapping[str, str],
                name: str) -> Task:
    if reference not in known or reference == entry.id:
        raise LicliError(f"sweep {name}: entry {entry.id} refers to {{run:{reference}}}, which is not an earlier entry",
                         "list the entry it needs before it")
    matches = [t for t in known[reference] if all(values.get(k) == v for k, v in t.axes.items())]
    if len(matches) != 1 or not set(matches[0].axes) <= set(values):
        raise LicliError(f"sweep {name}: {{run:{reference}}} in entry {entry.id} does not name one task "
                         f"({len(matches)} match)", f"give {reference} only axes that {entry.id} also has")
    return matches[0]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float, bool)) for v in value):
        raise LicliError(f"{where} must be a list of strings or numbers", "fix the grid file")
    return tuple(str(v) for v in value)


def parse_grid(data: Mapping[str, Any], source: str, root: str | Path | None = None) -> Plan:
    """A grid document (see the module docstring) → its plan (LicliError naming the first problem)."""
    head = data.get("sweep") or {}
    name = str(head.get("name") or Path(source).stem)
    unknown = sorted(set(data) - {"sweep", "resources", "tasks"})
    if unknown:
        raise LicliError(f"grid {source}: unknown table(s) {', '.join(unknown)}", "use [sweep], [resources] and [[tasks]]")
    try:
        defaults = Resources(**(data.get("resources") or {}))
    except TypeError as error:
        raise LicliError(f"grid {source}: bad [resources] ({error})", "use gpus, cpus and timeout_min") from None
    entries = []
    for index, item in enumerate(data.get("tasks") or []):
        where = f"grid {source}: task {item.get('id', index)}"
        if not item.get("id") or not item.get("command"):
            raise LicliError(f"{where} needs an id and a command", 'write e.g. id = "train", command = ["train"]')
        try:
            resources = replace(defaults, **(item.get("resources") or {}))
        except TypeError as error:
            raise LicliError(f"{where}: bad resources ({error})", "use gpus, cpus and timeout_min") from None
        axes = {str(k): _strings(v, f"{where}: axis {k}") for k, v in (item.get("axes") or {}).items()}
        entries.append(Entry(str(item["id"]), _strings(item["command"], f"{where}: command"),
                             _strings(item.get("args", []), f"{where}: args"), axes, resources))
    if not entries:
        raise LicliError(f"grid {source} holds no [[tasks]]", "add at least one [[tasks]] entry")
    return expand(entries, root or Path("reports") / "sweeps" / name, name=name,
                  tasks_per_process=head.get("tasks_per_process", 1))


def load_grid(path: str | Path, root: str | Path | None = None) -> Plan:
    path = Path(path)
    try:
        return parse_grid(tomllib.loads(path.read_text()), str(path), root)
    except FileNotFoundError:
        raise LicliError(f"grid file {path} not found", "pass the path of a grid TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise LicliError(f"grid file {path} is not valid TOML ({error})", "fix the file's syntax") from None


def recipe_plan(name: str, scale: str, root: str | Path | None = None, resources: Resources = Resources()) -> Plan:
    """A reproduction recipe at ``scale`` as a plan: one task per step, ``{run:<step>}`` as dependencies."""
    recipe = load_recipe(name)
    pick({s: s for s in SCALES}, scale, "scale")
    root = Path(root or Path("reports") / "sweeps" / f"{name}-{scale}").expanduser().absolute()
    variables = {k: str(v) for k, v in recipe.variables(scale, root).items()}
    entries = [Entry(step.id, step.command, tuple(step.arguments(scale, variables)), {}, resources)
               for step in recipe.steps if scale in step.scales]
    return expand(entries, root, name=f"{name}-{scale}", recipe=name, scale=scale)


def save_plan(plan: Plan) -> Path:
    return atomic_write_json(Path(plan.root) / PLAN_FILE, asdict(plan))


def load_plan(root: str | Path) -> Plan:
    path = Path(root).expanduser() / PLAN_FILE
    try:
        data = json.loads(path.read_text())
        tasks = tuple(Task(**{**t, "argv": tuple(t["argv"]), "depends": tuple(t["depends"]),
                              "resources": Resources(**t["resources"])}) for t in data.pop("tasks"))
        return Plan(**data, tasks=tasks)
    except FileNotFoundError:
        raise LicliError(f"no sweep plan at {path}", "pass the root=… of a sweep started with `licli sweep run`",
                         field="root") from None
    except (ValueError, TypeError, KeyError) as error:
        raise LicliError(f"sweep plan {path} is unreadable ({error})", "run `licli sweep run` again to rewrite it") from None
