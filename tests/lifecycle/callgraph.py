"""A static call graph of the project's own code, read from the source with `ast`: which functions can reach
which. Good enough to find every entry point (URL rule, sync table handler, CLI command, scheduler job) that
can reach the lifecycle's status-changing functions; the walk test then exercises each one for real.

Nodes are qualified names: `module.function`, `module.Class.method`, and `module.NAME` for a module-level
assignment (so a registry such as sync.push.HANDLERS links to the handlers it lists). An edge is any
reference (a call or a function passed as a value) that resolves through the module's imports, its own
top-level names, or `self.` inside a class.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("fieldservice", "sync", "media", "schedules")


def _module_name(path: Path) -> str:
    name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


class _Module(ast.NodeVisitor):
    def __init__(self, name: str, tree: ast.Module, graph: dict[str, set[str]]) -> None:
        self.name, self.graph = name, graph
        self.imports: dict[str, str] = {}
        self.top: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.top.add(node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                self.top.update(t.id for t in targets if isinstance(t, ast.Name))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.imports[alias.asname] = alias.name          # import a.b as c: c is a.b
                    else:
                        head = alias.name.split(".")[0]
                        self.imports[head] = head                        # import a.b: the name bound is a
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        self.tree = tree

    def _resolve(self, node: ast.AST, cls: str | None) -> str | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        parts.reverse()
        head = node.id
        if head == "self" and cls and parts:
            return f"{self.name}.{cls}.{parts[0]}"
        if head in self.imports:
            base = self.imports[head]
        elif head in self.top:
            base = f"{self.name}.{head}"
        else:
            return None
        return ".".join([base, *parts]) if parts else base

    def _edges(self, source: str, body: Iterable[ast.AST], cls: str | None) -> None:
        todo = list(body)
        while todo:
            node = todo.pop()
            if isinstance(node, ast.Name | ast.Attribute) and isinstance(getattr(node, "ctx", None), ast.Load):
                target = self._resolve(node, cls)
                if target is not None:  # a whole dotted name: not its parts (`service.x` is not `service`)
                    if target.split(".")[0] in PACKAGES and target != source:
                        self.graph[source].add(target)
                    continue
            todo.extend(ast.iter_child_nodes(node))

    def build(self) -> None:
        for node in self.tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self._edges(f"{self.name}.{node.name}", [*node.body, *node.decorator_list], None)
            elif isinstance(node, ast.ClassDef):
                CLASSES.add(f"{self.name}.{node.name}")
                for item in node.body:
                    if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                        self._edges(f"{self.name}.{node.name}.{item.name}", item.body, node.name)
                    elif isinstance(item, ast.Assign | ast.AnnAssign) and item.value is not None:
                        self._edges(f"{self.name}.{node.name}", [item.value], node.name)
            elif isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        self._edges(f"{self.name}.{target.id}", [node.value], None)


def call_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = _module_name(path)
            _Module(name, ast.parse(path.read_text(encoding="utf-8")), graph).build()
    return graph


CLASSES: set[str] = set()


def _expand(graph: dict[str, set[str]], node: str) -> set[str]:
    """`module.Class` stands for its methods too (a class passed as a value, e.g. a view or a handler)."""
    if node not in graph and node not in CLASSES and "." in node:
        parent = node.rsplit(".", 1)[0]     # `REGISTRY.get` or `obj.method`: what the name is an attribute of
        if parent in graph or parent in CLASSES:
            return {parent}
    found = set(graph.get(node, ()))
    if node in CLASSES:
        prefix = node + "."
        found.update(n for n in graph if n.startswith(prefix) and n.count(".") == node.count(".") + 1)
    return found


def reaches(graph: dict[str, set[str]], start: str, targets: tuple[str, ...]) -> list[str] | None:
    """A path from `start` to a node starting with one of `targets`, or None."""
    parents: dict[str, str | None] = {start: None}
    todo = [start]
    while todo:
        node = todo.pop(0)
        if node.startswith(targets):
            path = [node]
            while parents[path[-1]] is not None:
                path.append(parents[path[-1]])  # type: ignore[arg-type]
            return list(reversed(path))
        for nxt in _expand(graph, node):
            if nxt not in parents:
                parents[nxt] = node
                todo.append(nxt)
    return None
