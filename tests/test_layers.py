"""Layers import downward only, and no two modules import each other (docs/design.md, "Layers").

Every ``import licli…`` of every module under licli/ is read with ``ast``: those at module level (including
``if TYPE_CHECKING:`` blocks) and those deferred inside functions. A module's layer is the row of ``LAYERS``
whose prefix names it (the longest prefix wins); it may import its own layer and the layers below, never
one above. The import graph, deferred imports included, has no cycle. A deferred import carries a
``# deferred: <reason>`` comment (on its line, or above it in its block of imports): it exists only to keep
start-up cheap.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("foundation", ("licli.version", "licli.errors", "licli.registry", "licli.progress", "licli.statistics",
                    "licli.host_syncs", "licli.parsing")),
    ("contracts", ("licli.io", "licli.contract", "licli.runtime", "licli.config")),
    ("data", ("licli.data",)),
    ("hooks", ("licli.hooks",)),
    ("mechanisms", ("licli.mechanisms",)),
    ("models", ("licli.models",)),
    ("checkpoints", ("licli.checkpoints", "licli.sources")),
    ("saliency", ("licli.saliency",)),
    ("objectives", ("licli.objectives",)),
    ("training", ("licli.training",)),
    ("attacks", ("licli.attacks",)),
    ("evaluations", ("licli.evaluations",)),
    ("reporting", ("licli.reporting", "licli.runs")),
    ("workflows", ("licli.reproduction", "licli.sweep", "licli.demo", "licli.api")),
    ("cli", ("licli.cli", "licli.__main__", "licli")),
)
"""Lowest first; mirrored in docs/design.md."""


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    deferred: bool
    reason: bool
    """Whether a ``# deferred:`` comment explains a deferred import."""


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / "licli").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def layer_of(module: str) -> int:
    matches = [(len(prefix), index) for index, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
               if module == prefix or module.startswith(prefix + ".")]
    assert matches, f"{module} is in no layer: add it to LAYERS (and docs/design.md)"
    return max(matches)[1]


def explained(lines: list[str], line: int) -> bool:
    """Whether the import at ``line`` (1-based), or the block of imports and comments just above it, says
    ``# deferred:``."""
    index = line - 1
    while index >= 0:
        text = lines[index].strip()
        if "# deferred:" in text:
            return True
        if index < line - 1 and not text.startswith(("from ", "import ", "#")):
            return False
        index -= 1
    return False


@functools.cache
def imports() -> tuple[Import, ...]:
    known = modules()

    def target(name: str) -> str:
        while name not in known:
            name = name.rpartition(".")[0]
        return name

    found = []
    for module, path in known.items():
        source = path.read_text()
        lines = source.splitlines()

        def visit(node: ast.AST, deferred: bool) -> None:
            for child in ast.iter_child_nodes(node):
                inside = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                names: list[str] = []
                if isinstance(child, ast.Import):
                    names = [alias.name for alias in child.names if alias.name.split(".")[0] == "licli"]
                elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module \
                        and child.module.split(".")[0] == "licli":
                    names = [f"{child.module}.{alias.name}" for alias in child.names]
                elif isinstance(child, ast.ImportFrom) and child.level:
                    raise AssertionError(f"{path}:{child.lineno}: relative import; write licli.… in full")
                for name in names:
                    found.append(Import(module, target(name), child.lineno, deferred, explained(lines, child.lineno)))
                visit(child, inside)

        visit(ast.parse(source, str(path)), False)
    return tuple(item for item in found if item.importer != item.imported)


def test_every_module_has_a_layer():
    for module in modules():
        layer_of(module)


def test_imports_point_downward():
    upward = sorted({f"{i.importer} ({LAYERS[layer_of(i.importer)][0]}) imports {i.imported} "
              f"({LAYERS[layer_of(i.imported)][0]}) at line {i.line}{' (deferred)' if i.deferred else ''}"
              for i in imports() if layer_of(i.imported) > layer_of(i.importer)})
    assert not upward, "imports that point upward:\n" + "\n".join(upward)


def test_deferred_imports_give_their_reason():
    silent = sorted({f"{i.importer} line {i.line} imports {i.imported}" for i in imports() if i.deferred and not i.reason})
    assert not silent, "deferred imports without a '# deferred: <reason>' comment:\n" + "\n".join(silent)


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(edges.get(node, ())):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def test_cycles_finds_a_circle_and_nothing_else():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_import_cycles():
    edges: dict[str, set[str]] = {}
    for item in imports():
        edges.setdefault(item.importer, set()).add(item.imported)
    found = cycles(edges)
    listing = "\n".join(
        " ↔ ".join(component) + "\n" + "\n".join(f"    {i.importer} → {i.imported} line {i.line}"
                                               for i in imports() if {i.importer, i.imported} <= set(component))
        for component in found)
    assert not found, "import cycles:\n" + listing


def test_the_checker_reads_layers_and_reasons():
    assert layer_of("licli.training.loop") > layer_of("licli.mechanisms.inhibition") > layer_of("licli.hooks")
    assert layer_of("licli") == layer_of("licli.cli.app") == len(LAYERS) - 1  # the package itself is the top
    lines = ["def f():", "    # deferred: torch", "    from licli.data import DATASETS", "    from licli.models import MODELS",
             "    x = 1", "    from licli.training.loop import fit"]
    assert explained(lines, 3) and explained(lines, 4) and not explained(lines, 6)
