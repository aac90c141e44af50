"""The shape of the code: no import circles, and no module past the size we split at."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

SRC = ROOT / "src"
#: A module past this many lines is split along its seams (the brief says ~400).
MAX_LINES = 420


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """Every mlbridge module `path` imports, at any depth of the file (lazy imports and
    TYPE_CHECKING blocks count: a circle there is still a circle in the design)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name.startswith("mlbridge"):
                found.add(name)
    return found


def test_the_import_graph_has_no_circles():
    paths = {module_name(p): p for p in SRC.rglob("*.py")}
    graph = {name: imports(path, set(paths)) - {name} for name, path in paths.items()}
    # A package's __init__ re-exporting its own modules is not a circle of the design.
    graph = {name: {t for t in targets if not t.startswith(f"{name}.")}
             for name, targets in graph.items()}
    circles, stack, done = [], [], set()

    def visit(name: str) -> None:
        if name in stack:
            circles.append([*stack[stack.index(name):], name])
            return
        if name in done:
            return
        stack.append(name)
        for target in sorted(graph[name]):
            visit(target)
        stack.pop()
        done.add(name)

    for name in sorted(graph):
        visit(name)
    assert circles == [], "\n".join(" → ".join(circle) for circle in circles)


def test_no_module_is_past_the_size_we_split_at():
    files = [*(ROOT / "src").rglob("*.py"), *(ROOT / "bench").glob("*.py")]
    sizes = {p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines()) for p in files}
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
