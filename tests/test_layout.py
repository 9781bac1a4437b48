"""The rules the package layout keeps, read from the source with ``ast``: no import cycles, no production
module importing the sandbox, a docstring for every stage, modules of about 300 lines at most."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "notifier"
MAX_LINES = 300
SANDBOX = "notifier.sandbox"
# The CLI's demo, simulate and test-sink commands run the sandbox on purpose (imported inside them).
SANDBOX_USERS = {"notifier.cli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every notifier module this one imports, at any depth (functions and TYPE_CHECKING blocks too)."""
    found: set[str] = set()
    this = module_name(path)
    package = this if path.name == "__init__.py" else this.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in known else base)
    return {name for name in found if name in known}


def graph() -> dict[str, set[str]]:
    known = set(modules())
    return {name: imports_of(path, known) - {name} for name, path in modules().items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_graph_is_read_from_the_source() -> None:
    edges = graph()
    assert "notifier.delivery.single" in edges["notifier.delivery.batch"] or \
        "notifier.delivery.enqueue" in edges["notifier.delivery.batch"]
    assert "notifier.state.tracker" in edges["notifier.upstream.scan"]


def test_no_import_cycles() -> None:
    assert find_cycle(graph()) is None, " -> ".join(find_cycle(graph()) or [])


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_production_module_imports_the_sandbox() -> None:
    offenders = {
        name: sorted(target for target in targets if target.startswith(SANDBOX))
        for name, targets in graph().items()
        if not name.startswith(SANDBOX) and name not in SANDBOX_USERS
    }
    assert {name: found for name, found in offenders.items() if found} == {}
    workers = {path.name: imports_of(path, set(modules())) for path in (ROOT / "workers").glob("*.py")}
    assert {name: found for name, found in workers.items() if any(t.startswith(SANDBOX) for t in found)} == {}


def test_every_stage_says_what_it_does() -> None:
    for init in PACKAGE.rglob("__init__.py"):
        docstring = ast.get_docstring(ast.parse(init.read_text()))
        assert docstring and len(docstring) > 40, f"{init.relative_to(ROOT)} needs a docstring"


def test_modules_stay_small() -> None:
    long = {str(path.relative_to(ROOT)): n for path in PACKAGE.rglob("*.py")
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}
