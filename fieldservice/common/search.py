"""Substring search for the office lists: a user's text matched literally (its `%`, `_` and `\\` escaped),
case-insensitive (ILIKE on PostgreSQL, LIKE on SQLite), Chinese included."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa


def contains(column: Any, q: str) -> sa.ColumnElement[bool]:
    """`column` contains the text `q` (no wildcards of its own)."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")  # type: ignore[no-any-return]
