"""The layout keeps itself: every import goes downward and no module takes another's private name.

The import graph is read from the source with ``ast`` — imports inside functions included,
``if TYPE_CHECKING:`` imports excluded (they never run) — and checked for cycles and for
``from module import _private`` across modules. Module size is checked too (about 400 lines).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "src"
MAX_LINES = 440  # "most modules under ~400 lines"


def modules(root: Path = ROOT) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's __init__)."""
    found = {}
    for path in sorted((root / "rnnlab").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if package else parts)] = (path, package)
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:``."""
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                for sub in ast.walk(inner):
                    skipped.add(id(sub))
    return skipped


def _absolute(module: str | None, level: int, current: str, package: bool) -> str:
    if not level:
        return module or ""
    base = current.split(".") if package else current.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def import_graph(source: dict[str, str]) -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """From {module: (code, is_package)}: the edges between project modules and the private
    names imported across modules (importer, module, name)."""
    names = set(source)
    edges: dict[str, set[str]] = {name: set() for name in names}
    private = []
    for current, (code, package) in source.items():
        tree = ast.parse(code)
        skipped = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                edges[current].update(a.name for a in node.names if a.name in names)
            elif isinstance(node, ast.ImportFrom):
                target = _absolute(node.module, node.level, current, package)
                if target not in names:
                    continue
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    if full in names:  # `from package import module`
                        edges[current].add(full)
                        continue
                    edges[current].add(target)
                    if alias.name.startswith("_") and not alias.name.startswith("__") and target != current:
                        private.append((current, target, alias.name))
        edges[current].discard(current)
    return edges, private


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle through each strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def project_source() -> dict[str, tuple[str, bool]]:
    return {name: (path.read_text(), package) for name, (path, package) in modules().items()}


def test_no_import_cycles():
    edges, _ = import_graph(project_source())
    assert cycles(edges) == []


def test_no_private_names_across_modules():
    _, private = import_graph(project_source())
    assert private == []


def test_modules_stay_small():
    sizes = {name: len(path.read_text().splitlines()) for name, (path, _) in modules().items()}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}


def test_fast_engine_imports_nothing_above_it():
    edges, _ = import_graph(project_source())
    upward = {(m, t) for m, targets in edges.items() if m.startswith("rnnlab.fast")
              for t in targets if not t.startswith(("rnnlab.fast", "rnnlab.errors"))}
    assert upward <= {("rnnlab.fast.layout", "rnnlab.config")}


# -- the checks can fail ---------------------------------------------------------------------------


def _with(extra: dict[str, str]) -> dict[str, tuple[str, bool]]:
    source = project_source()
    source.update({name: (code, False) for name, code in extra.items()})
    return source


def test_a_cycle_is_found():
    # the series preparation importing the trainer that imports it back, inside a function
    source = project_source()
    code, package = source["rnnlab.data.prepared"]
    source["rnnlab.data.prepared"] = (code + "\n\ndef f():\n    from ..training import train\n", package)
    found = cycles(import_graph(source)[0])
    assert any({"rnnlab.data.prepared", "rnnlab.training"} <= set(c) for c in found)


def test_a_private_import_is_found():
    source = _with({"rnnlab.extra": "from .training.common import _hidden\n"})
    assert ("rnnlab.extra", "rnnlab.training.common", "_hidden") in import_graph(source)[1]


def test_type_checking_imports_do_not_count():
    source = _with({"rnnlab.a": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import X\n",
                    "rnnlab.b": "from .a import Y\n"})
    assert not any({"rnnlab.a", "rnnlab.b"} <= set(c) for c in cycles(import_graph(source)[0]))


@pytest.mark.parametrize("level,module,current,package,expected", [
    (1, "data", "rnnlab.plot", False, "rnnlab.data"),
    (2, "errors", "rnnlab.data.prepared", False, "rnnlab.errors"),
    (1, "prepared", "rnnlab.data", True, "rnnlab.data.prepared"),
    (0, "rnnlab.config", "rnnlab.x", False, "rnnlab.config"),
])
def test_relative_imports_resolve(level, module, current, package, expected):
    assert _absolute(module, level, current, package) == expected
