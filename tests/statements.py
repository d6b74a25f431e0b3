"""Watch the SQL statements the app sends (observed on the engine's `before_cursor_execute`, nothing replaced;
statements sent straight to the driver announce themselves there too, fieldservice/db.py `announce`)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask

from fieldservice.changes import NEW_ROWS_SAVEPOINT
from fieldservice.extensions import db


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The statements sent while the block runs, in order."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)


def record_savepoints(sent: list[str]) -> list[str]:
    """The savepoints of the push's per-record path among `sent` (not the bulk insert's own,
    fieldservice/changes.py `insert_numbered`)."""
    return [s for s in sent if s.upper().startswith("SAVEPOINT") and NEW_ROWS_SAVEPOINT not in s]
