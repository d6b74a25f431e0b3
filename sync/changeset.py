"""Parsing a pushed change set: shape and JSON types are checked for the whole push before anything is
applied, so a malformed push is refused whole (4xx) and writes nothing. Business rules come later, per
record, and a record that breaks one is quarantined instead."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fieldservice.common import jsonsafety
from fieldservice.common.schemas import CONTROL_CHARACTERS
from fieldservice.errors import ValidationFailed
from sync.schema import TABLES, Column, SyncTable, from_millis

SYNC_FIELDS = ("_status", "_changed")
# WatermelonDB's timestamps of the record itself: the device's time for it
STAMP_COLUMNS = ("created_at", "updated_at")


@dataclass
class PushedRecord:
    table: SyncTable
    operation: str                     # created | updated | deleted
    id: uuid.UUID
    raw: dict[str, Any]                # as pushed, minus _status/_changed (kept in quarantine if refused)
    changed: frozenset[str]            # the columns the technician changed on the phone
    values: dict[str, Any] = field(default_factory=dict)   # decoded: UUIDs, datetimes, ...
    unusable: str | None = None        # content no service can take (a lone surrogate): quarantined as is

    @property
    def device_time(self) -> datetime | None:
        return self.values.get("updated_at") or self.values.get("created_at")


@dataclass
class ChangeSet:
    records: list[PushedRecord]

    def by_table(self, name: str) -> list[PushedRecord]:
        return [r for r in self.records if r.table.name == name]


def _fail(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{path}: {message}", errors={"json": {path: [message]}})


def _decode(column: Column, value: Any, path: str) -> Any:
    if value is None:
        return None
    if column.kind == "boolean":
        if isinstance(value, bool):
            return value
        if value in (0, 1) and not isinstance(value, float):
            return bool(value)
        raise _fail(path, "must be a boolean")
    if column.kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(path, "must be a number")
        if value != value or value in (float("inf"), float("-inf")):
            raise _fail(path, "must be a finite number")
        if column.is_time:
            if not 0 <= value <= 8_640_000_000_000:  # ECMAScript's date range, in ms
                raise _fail(path, "must be epoch milliseconds")
            return from_millis(value)
        return value
    if not isinstance(value, str):
        raise _fail(path, "must be a string")
    if len(value) > column.max_length:
        raise _fail(path, f"longer than {column.max_length} characters")
    if CONTROL_CHARACTERS.search(value):
        raise _fail(path, "contains control characters")
    if column.plain:
        return value
    if column.name.endswith("_id") and value != "":
        try:
            return uuid.UUID(value)
        except ValueError:
            raise _fail(path, "must be a UUID") from None
    if column.name.endswith("_id"):
        return None  # WatermelonDB sends '' for an empty reference
    return value


def _record_id(value: Any, path: str) -> uuid.UUID:
    if not isinstance(value, str):
        raise _fail(path, "id must be a UUID string (configure the app's id generator to make UUIDs)")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise _fail(path, f"id {value[:40]!r} is not a UUID (configure the app's id generator to make UUIDs)") from None


def parse_change_set(body: Any, *, max_records: int) -> ChangeSet:
    """Validate a pushed body (`{"changes": {...}}` or the bare changes object) into PushedRecords.

    Raises ValidationFailed (422) for anything malformed; PushTooLarge (413) past `max_records`."""
    from sync.errors import PushTooLarge

    if isinstance(body, dict) and set(body) == {"changes"} and isinstance(body["changes"], dict):
        body = body["changes"]
    if not isinstance(body, dict):
        raise _fail("changes", "must be an object of tables")
    records: list[PushedRecord] = []
    total = sum(len(v.get(op, [])) for v in body.values() if isinstance(v, dict)
                for op in ("created", "updated", "deleted") if isinstance(v.get(op, []), list))
    if total > max_records:
        raise PushTooLarge(f"a push may carry at most {max_records} records; this one has {total}. "
                           f"Push in batches.", limit=max_records, records=total)
    for table_name, lists in body.items():
        table = TABLES.get(table_name)
        if table is None:
            raise _fail(table_name, f"unknown table; known tables: {', '.join(TABLES)}")
        if not isinstance(lists, dict):
            raise _fail(table_name, "must be an object with created, updated and deleted lists")
        extra = set(lists) - {"created", "updated", "deleted"}
        if extra:
            raise _fail(table_name, f"unknown keys {sorted(extra)}; expected created, updated, deleted")
        for operation in ("created", "updated"):
            items = lists.get(operation, [])
            if not isinstance(items, list):
                raise _fail(f"{table_name}.{operation}", "must be a list")
            for i, item in enumerate(items):
                records.append(_parse_record(table, operation, item, f"{table_name}.{operation}[{i}]"))
        deleted = lists.get("deleted", [])
        if not isinstance(deleted, list):
            raise _fail(f"{table_name}.deleted", "must be a list of ids")
        for i, item in enumerate(deleted):
            record_id = _record_id(item, f"{table_name}.deleted[{i}]")
            records.append(PushedRecord(table, "deleted", record_id, {"id": str(record_id)}, frozenset()))
    seen: set[tuple[str, uuid.UUID]] = set()
    for record in records:
        key = (record.table.name, record.id)
        if key in seen:
            raise _fail(record.table.name, f"record {record.id} appears twice in one push")
        seen.add(key)
    return ChangeSet(records)


def _parse_record(table: SyncTable, operation: str, item: Any, path: str) -> PushedRecord:
    if not isinstance(item, dict):
        raise _fail(path, "must be a record object")
    record_id = _record_id(item.get("id"), f"{path}.id")
    unknown = set(item) - set(table.column_map) - {"id", *SYNC_FIELDS}
    if unknown:
        raise _fail(path, f"unknown columns {sorted(unknown)} for table {table.name}")
    changed_raw = item.get("_changed", "")
    if changed_raw is None:
        changed_raw = ""
    if not isinstance(changed_raw, str):
        raise _fail(f"{path}._changed", "must be a comma-separated string of column names")
    changed = frozenset(c for c in changed_raw.split(",") if c)
    if changed - set(table.column_map):
        raise _fail(f"{path}._changed", f"names unknown columns {sorted(changed - set(table.column_map))}")
    raw = {k: v for k, v in item.items() if k not in SYNC_FIELDS}
    unusable = jsonsafety.problem(raw)
    if unusable:  # this record's content only: it is quarantined (scrubbed), the rest of the push applies
        return PushedRecord(table, operation, record_id, jsonsafety.scrub(raw), changed, {},
                            unusable=unusable.replace("$", path, 1))
    values = {name: _decode(table.column_map[name], value, f"{path}.{name}")
              for name, value in raw.items() if name != "id"}
    if operation == "created" or not changed:
        # a created record is the phone's in full; an update without _changed is treated the same way
        changed = frozenset(values) - set(STAMP_COLUMNS)
    return PushedRecord(table, operation, record_id, raw, changed, values)
