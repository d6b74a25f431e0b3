"""Issue 12: no import circle among the domain services, and the lifecycle core sits below its reactions.

The graph is read from the source (every `import`, at module level or inside a function, since a
function-level import is a dependency all the same), so a circle cannot hide behind a lazy import."""
from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("fieldservice", "sync", "media", "schedules")
REACTIONS = ("fieldservice.reactions", "fieldservice.sla", "fieldservice.followups", "fieldservice.kpi",
             "fieldservice.notifications", "fieldservice.maintenance")
CORE = ("fieldservice.lifecycle.states", "fieldservice.lifecycle.events", "fieldservice.lifecycle.gate",
        "fieldservice.lifecycle.guard", "fieldservice.lifecycle.service", "fieldservice.workorders.service",
        "fieldservice.visits.service")


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def _resolve(base: str, name: str) -> str:
    """`from base import name`: the submodule base.name if there is one, else the module base."""
    candidate = f"{base}.{name}"
    parts = candidate.split(".")
    if (ROOT.joinpath(*parts).with_suffix(".py")).exists() or ROOT.joinpath(*parts).is_dir():
        return candidate
    return base


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            module = _module_name(path)
            graph[module]  # noqa: B018  (every module is a node, even one importing nothing of ours)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                targets: list[str] = []
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    targets = [_resolve(node.module, alias.name) for alias in node.names]
                elif isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                graph[module].update(t for t in targets if t.split(".")[0] in PACKAGES and t != module)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        node = todo.pop()
        for nxt in graph.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_there_is_no_import_circle_anywhere() -> None:
    """Before this change workorders, visits, sla, records, maintenance, assets and archive imported each other
    in a circle (seven modules in one strongly connected component)."""
    assert cycles(import_graph()) == []


def test_the_lifecycle_core_imports_none_of_its_reactions() -> None:
    """entry points -> reactions -> lifecycle core -> models: from the core no import path leads to the SLA
    clocks, follow-ups, KPI facts, notifications or maintenance bookkeeping."""
    graph = import_graph()
    for module in CORE:
        assert module in graph, module
        leaks = sorted(m for m in reachable(graph, module) if m.startswith(REACTIONS))
        assert leaks == [], f"{module} reaches {leaks}"


def test_the_core_imports_in_a_fresh_interpreter_with_the_reactions_blocked() -> None:
    """The same, proven by Python itself: a fresh interpreter where importing any reaction module fails can
    still import the lifecycle, the work-order and visit services, and move nothing but its own code."""
    program = f"""
import importlib.abc, sys
BLOCKED = {REACTIONS!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name in BLOCKED or name.startswith(tuple(b + "." for b in BLOCKED)):
            raise ImportError("blocked reaction module " + name)
        return None
sys.meta_path.insert(0, Block())
for name in {CORE!r}:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m.startswith(BLOCKED))
assert loaded == [], loaded
print("ok", len([m for m in sys.modules if m.startswith("fieldservice")]))
"""
    done = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok ")
