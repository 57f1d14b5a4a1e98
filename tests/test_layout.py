"""The package's shape: imports flow one way (no cycle among unetexp's modules, lazy imports
inside functions included), no module grows past 320 lines, and every test that starts a local
Ray is in one module (the suite runs a module on one worker)."""

from __future__ import annotations

import ast
from pathlib import Path

import unetexp

PACKAGE = Path(unetexp.__file__).parent
# 250 lines in the hand-wrapped style before `ruff format`, which spreads calls over lines
# (+20 % on this codebase: 6,332 -> 7,632 lines); a module past 320 is split by concern
MAX_LINES = 320


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(path: Path, known: set[str]) -> set[str]:
    """The unetexp modules a file imports, anywhere in it (`from unetexp.a import b` counts as
    unetexp.a.b when b is a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
    return {name for name in found if name in known}


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle as [a, b, ..., a], or [] (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return []


def test_no_import_cycle_among_unetexp_modules():
    found = modules()
    graph = {name: imports(path, set(found)) - {name} for name, path in found.items()}
    assert graph["unetexp.experiment"], "the import scan found nothing: it is broken"
    assert find_cycle(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) == []


def test_no_module_over_320_lines():
    long = {
        name: n
        for name, path in modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_top_level_names_the_architecture():
    folders = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert folders == ["commands", "config", "data", "results", "tracking", "training", "tuning"]


def test_every_local_ray_test_is_in_test_ray():
    """pytest-xdist runs a module on one worker (`--dist loadscope`): Ray tests elsewhere could
    start two Ray clusters at once on a 2-core machine."""
    tests = Path(__file__).parent
    elsewhere = [
        str(path.relative_to(tests))
        for path in sorted(tests.rglob("test_*.py"))
        if path.name not in ("test_ray.py", Path(__file__).name)
        and "hydra/launcher=ray" in path.read_text()
    ]
    assert elsewhere == []
    assert "hydra/launcher=ray" in (tests / "e2e" / "test_ray.py").read_text()
