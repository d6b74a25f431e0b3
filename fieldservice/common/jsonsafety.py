"""JSON a client sent that Python parses but nothing downstream can hold: a lone UTF-16 surrogate ("\\ud800"
is valid JSON but not Unicode text: no database, hash or UTF-8 response can take it) and nesting so deep
that recursive code (validation, canonical JSON) would exhaust the stack. Found with one iterative walk."""
from __future__ import annotations

import re
from typing import Any

MAX_DEPTH = 64
SURROGATE = re.compile("[\ud800-\udfff]")


def problem(value: Any, *, max_depth: int = MAX_DEPTH) -> str | None:
    """Why `value` (parsed JSON) cannot be taken, naming where (`$.lines[0].name`), or None."""
    stack: list[tuple[Any, str, int]] = [(value, "$", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > max_depth:
            return f"{path}: nested deeper than {max_depth} levels"
        if isinstance(item, str):
            if SURROGATE.search(item):
                return f"{path}: text with a lone UTF-16 surrogate (not Unicode)"
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and SURROGATE.search(key):
                    return f"{path}: a key with a lone UTF-16 surrogate (not Unicode)"
                stack.append((child, f"{path}.{SURROGATE.sub('?', str(key))[:60]}", depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
    return None


def scrub(value: Any) -> Any:
    """`value` with every lone surrogate replaced by U+FFFD (to keep what was refused, e.g. in quarantine);
    deeper than MAX_DEPTH levels is cut off with a marker."""
    def walk(item: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            return "…(nested too deep)"
        if isinstance(item, str):
            return SURROGATE.sub("\ufffd", item)
        if isinstance(item, dict):
            return {walk(k, depth) if isinstance(k, str) else k: walk(v, depth + 1) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v, depth + 1) for v in item]
        return item

    return walk(value, 0)
