"""Pulled records as JSON text built by PostgreSQL (issue 13: "pages come from plain row queries, or JSON built
in SQL on PostgreSQL").

A page of a first sync is a thousand records. Built in Python, each row's values are parsed by the driver (UUIDs,
timestamps), encoded to their WatermelonDB JSON type (sync/schema.py `raw_record`) and serialised again: most
of a page's time. Here PostgreSQL writes each record's JSON object (`json_build_object`) with the same types:
ids and references as UUID strings, enums as their values, times as whole epoch milliseconds, dates as
'YYYY-MM-DD', booleans, numbers; Python only joins the texts into the response (`RawJson`).

A table whose columns all have an SQL form gets one (`record_sql`); a computed column without an `sql` form
(JSON text columns, a quote's canonical text, serial number lists) keeps its table on the Python path.
`sync_status`/`rejection_reason` are left out and added by `with_status` (few records have a rejection).
tests/sync/test_rowsql.py checks that both paths give the same record for every table.
"""
from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa

from sync.schema import SyncTable

STATUS_COLUMNS = ("sync_status", "rejection_reason")


class RawJson(str):
    """A value already encoded as JSON text (written into the response as it is)."""

    __slots__ = ()


TECHNICIAN = sa.bindparam("tech", type_=sa.Uuid())
"""The pulling technician's id, a bound parameter of the record expressions (`is_read_only`)."""


def _column_sql(table: SyncTable, column: Any, technician: Any) -> Any | None:
    source = table.model.__table__
    if column.sql is not None:
        return column.sql(source, technician)
    if column.value is not None:
        return None
    col = source.c.get(column.attr or column.name)
    if col is None:
        return None
    if column.is_time:
        return sa.cast(sa.func.floor(sa.extract("epoch", col) * 1000), sa.BigInteger)
    if column.is_date:
        return sa.func.to_char(col, "YYYY-MM-DD")
    if isinstance(col.type, sa.JSON):
        return None  # JSON text columns are encoded by Python's json (key order, escapes)
    if column.kind == "number" and isinstance(col.type, sa.Boolean):
        return sa.cast(col, sa.Integer)
    return col


_CACHE: dict[str, Any] = {}


def record_sql(table: SyncTable) -> Any | None:
    """The expression for the table's records as JSON text (without sync_status/rejection_reason), or None when
    a column has no SQL form. Statements using it bind `tech` (TECHNICIAN) to the pulling technician's id."""
    if table.name in _CACHE:
        return _CACHE[table.name]
    args: list[Any] = [constant("id"), table.model.__table__.c.id]
    for column in table.columns:
        if column.name in STATUS_COLUMNS:
            continue
        expr = _column_sql(table, column, TECHNICIAN)
        if expr is None:
            _CACHE[table.name] = None
            return None
        args += [constant(column.name), expr]
    built = sa.cast(sa.func.json_build_object(*args), sa.Text)
    _CACHE[table.name] = built
    return built


def constant(name: str) -> Any:
    """A name of ours (a table, a column, an event kind) written into the SQL as a string literal rather than
    bound: statements built once keep few parameters (psycopg caches its parsing of a statement only up to 50
    parameters)."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
        raise ValueError(f"not a plain name: {name!r}")
    return sa.literal_column(f"'{name}'", sa.String())


def has_status(table: SyncTable) -> bool:
    return "sync_status" in table.column_map


def with_status(table: SyncTable, text: str, status: tuple[str, str | None] | None) -> RawJson:
    """The record text with `sync_status`/`rejection_reason` added when its table has them (as raw_record)."""
    if not has_status(table):
        return RawJson(text)
    if status is None:
        return RawJson(text[:-1] + _SYNCED)
    sync_status, reason = status
    return RawJson(f'{text[:-1]}, "sync_status" : {json.dumps(sync_status)}, '
                   f'"rejection_reason" : {json.dumps(reason, ensure_ascii=False)}}}')


_SYNCED = ', "sync_status" : "synced", "rejection_reason" : null}'


def dumps(value: Any) -> str:
    """JSON text of a pull result whose record lists may hold RawJson texts."""
    if isinstance(value, RawJson):
        return value
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):  # records: RawJson texts or dicts of plain values
        return "[" + ",".join(item if isinstance(item, RawJson) else
                              json.dumps(item, ensure_ascii=False, separators=(",", ":")) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
