"""Parsing a pushed change set: shape and JSON types are checked for the whole push before anything is
applied, so a malformed push is refused whole (4xx) and writes nothing. Business rules come later, per
record, and a record that breaks one is quarantined instead.

WatermelonDB as apps really use it (issue 13 point 5): `synchronize()` pushes every local table, local-only
ones included, and whole raw records with every local column. So
- a table the server does not sync, with empty lists, is ignored; one with records is not refused whole:
  its records are quarantined (`unknown_table`);
- columns the server does not know are ignored and never stored (nor named in `_changed`);
- a record whose id is a string but not a UUID (WatermelonDB's default 16-character ids) is quarantined
  (`id_not_uuid`), the rest of the push applies.
Both kinds are `Unroutable`: no handler can take them. What stays a 422 is malformed structure: a table that
is not an object, lists that are not lists, records that are not objects, an id that is not a string, wrong
JSON types in known columns, duplicates."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

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


# the lengths of sync_rejections.table_name and record_id: what an unroutable record is filed under
TABLE_NAME_LENGTH = 60
RECORD_ID_LENGTH = 64
ID_GENERATOR = ("setGenerator(() => uuid()) from @nozbe/watermelondb/utils/common/randomId "
                "(e.g. uuid = () => crypto.randomUUID())")


@dataclass
class Unroutable:
    """A pushed record no handler can take (issue 13 point 5): a record of a table the server does not sync,
    or with an id that is not a UUID. Quarantined with `code`; never applied, never sent back on pull."""

    table_name: str                    # as filed: truncated to TABLE_NAME_LENGTH
    record_id: str                     # as filed: truncated to RECORD_ID_LENGTH
    operation: str                     # created | updated | deleted
    payload: dict[str, Any]            # the record as pushed, minus _status/_changed and unknown columns
    changed: list[str]
    code: str                          # unknown_table | id_not_uuid
    reason: str


@dataclass
class ChangeSet:
    records: list[PushedRecord]
    unroutable: list[Unroutable] = field(default_factory=list)

    def by_table(self, name: str) -> list[PushedRecord]:
        return [r for r in self.records if r.table.name == name]


def _fail(path: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{path}: {message}", errors={"json": {path: [message]}})


class _Bad(Exception):
    """A value of the wrong JSON type or content: the caller names where (the path is built only then)."""


_INFINITIES = (float("inf"), float("-inf"))


def _converter(column: Column) -> Callable[[Any, dict[Any, Any]], Any]:
    """How a pushed value of `column` is checked and decoded: one function per column, chosen once (not a chain
    of tests per value). `cache` is the push's own memo of decoded references and times (the many records of a
    push share their visit, and often their times); a UUID or datetime is immutable, so sharing is safe.
    Raises _Bad with the message of the 422."""
    if column.kind == "boolean":
        def boolean(value: Any, cache: dict[Any, Any]) -> Any:
            if value is None or isinstance(value, bool):
                return value
            if value in (0, 1) and not isinstance(value, float):
                return bool(value)
            raise _Bad("must be a boolean")
        return boolean
    if column.kind == "number":
        is_time = column.is_time

        def number(value: Any, cache: dict[Any, Any]) -> Any:
            if value is None:
                return None
            kind = type(value)
            if kind is not int and kind is not float:
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise _Bad("must be a number")
            if value != value or value in _INFINITIES:
                raise _Bad("must be a finite number")
            if not is_time:
                return value
            if not 0 <= value <= 8_640_000_000_000:  # ECMAScript's date range, in ms
                raise _Bad("must be epoch milliseconds")
            key = ("t", value)
            found = cache.get(key)
            if found is None:
                found = cache[key] = from_millis(value)
            return found
        return number
    max_length = column.max_length
    reference = not column.plain and column.name.endswith("_id")
    search = CONTROL_CHARACTERS.search

    def string(value: Any, cache: dict[Any, Any]) -> Any:
        if value is None:
            return None
        if type(value) is not str:
            if not isinstance(value, str):
                raise _Bad("must be a string")
        if len(value) > max_length:
            raise _Bad(f"longer than {max_length} characters")
        if not value.isprintable() and search(value):  # printable text has no control characters
            raise _Bad("contains control characters")
        if not reference:
            return value
        if value == "":
            return None  # WatermelonDB sends '' for an empty reference
        found = cache.get(value)
        if found is None:
            try:
                found = cache[value] = uuid.UUID(value)
            except ValueError:
                raise _Bad("must be a UUID") from None
        return found
    return string


# per table: column name -> its converter (the keys are the table's columns, as in column_map)
_CONVERTERS: dict[str, dict[str, Callable[[Any, dict[Any, Any]], Any]]] = {
    table.name: {column.name: _converter(column) for column in table.columns} for table in TABLES.values()}


def _record_id(value: Any, path: str) -> uuid.UUID | str:
    """The record's UUID; or, for a string that is not one (WatermelonDB's default ids), the string itself,
    for the caller to quarantine. Anything else is malformed (422)."""
    if not isinstance(value, str):
        raise _fail(path, f"id must be a UUID string (set the app's id generator: {ID_GENERATOR})")
    if not (value.isascii() and value.isprintable()) and (  # printable ASCII has neither
            CONTROL_CHARACTERS.search(value) or jsonsafety.SURROGATE.search(value)):
        raise _fail(path, "id contains control characters")
    try:
        return uuid.UUID(value)
    except ValueError:
        return value


def _printable_id(value: Any) -> uuid.UUID | str | None:
    """`_record_id`'s answer for its common case, a string of printable ASCII (no control character, no
    surrogate: nothing to refuse), without building the error path first: the UUID, or the string when it is
    not one. None for anything else: `_record_id` decides."""
    if type(value) is not str or not (value.isascii() and value.isprintable()):
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return value


def _named_changed(changed_raw: str | None, converters: dict[str, Any]) -> frozenset[str]:
    """The columns a record's `_changed` names that the server knows (the others are never applied)."""
    return frozenset(c for c in changed_raw.split(",") if c in converters) if changed_raw else frozenset()


def _not_uuid_reason(record_id: str) -> str:
    return (f"id {record_id[:40]!r} is not a UUID: records are created offline, so the app must make UUID ids "
            f"with WatermelonDB's id generator: {ID_GENERATOR} (docs/sync.md, Record ids)")


def _storable(value: Any) -> Any:
    """A payload the quarantine's JSON column can hold: lone surrogates replaced, nesting cut, NaN and
    infinities as text (for tables the server does not know, whose values were never type-checked)."""
    value = jsonsafety.scrub(value)

    def walk(item: Any) -> Any:
        if isinstance(item, float) and (item != item or item in (float("inf"), float("-inf"))):
            return str(item)
        if isinstance(item, dict):
            return {str(k): walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    return walk(value)


def parse_change_set(body: Any, *, max_records: int) -> ChangeSet:
    """Validate a pushed body (`{"changes": {...}}` or the bare changes object) into PushedRecords, and the
    Unroutable records to quarantine (unknown tables, ids that are not UUIDs; issue 13 point 5).

    Raises ValidationFailed (422) for anything malformed; PushTooLarge (413) past `max_records`."""
    from sync.errors import PushTooLarge

    if isinstance(body, dict) and set(body) == {"changes"} and isinstance(body["changes"], dict):
        body = body["changes"]
    if not isinstance(body, dict):
        raise _fail("changes", "must be an object of tables")
    records: list[PushedRecord] = []
    unroutable: list[Unroutable] = []
    total = sum(len(v.get(op, [])) for v in body.values() if isinstance(v, dict)
                for op in ("created", "updated", "deleted") if isinstance(v.get(op, []), list))
    if total > max_records:
        raise PushTooLarge(f"a push may carry at most {max_records} records; this one has {total}. "
                           f"Push in batches.", limit=max_records, records=total)
    seen: set[tuple[str, Any]] = set()
    cache: dict[Any, Any] = {}  # decoded references and times, shared by the push's records

    def once(table_name: str, record_id: Any) -> None:
        if (table_name, record_id) in seen:
            raise _fail(table_name[:TABLE_NAME_LENGTH], f"record {str(record_id)[:40]} appears twice in one push")
        seen.add((table_name, record_id))

    for table_name, lists in body.items():
        if CONTROL_CHARACTERS.search(table_name) or jsonsafety.SURROGATE.search(table_name) or not table_name:
            raise _fail("changes", "a table name is empty or contains control characters")
        table = TABLES.get(table_name)
        if not isinstance(lists, dict):
            raise _fail(table_name, "must be an object with created, updated and deleted lists")
        extra = set(lists) - {"created", "updated", "deleted"}
        if extra:
            raise _fail(table_name, f"unknown keys {sorted(extra)}; expected created, updated, deleted")
        for operation in ("created", "updated", "deleted"):
            items = lists.get(operation, [])
            if not isinstance(items, list):
                raise _fail(f"{table_name}.{operation}", "must be a list" if operation != "deleted"
                            else "must be a list of ids")
            for i, item in enumerate(items):
                path = f"{table_name}.{operation}[{i}]"
                if table is None:  # a local-only table (or one of a newer app): only its records are kept
                    found = _unknown_table_record(table_name, operation, item, path)
                    once(table_name, found.payload.get("id"))
                    unroutable.append(found)
                    continue
                parsed = (_parse_deleted(table, item, path) if operation == "deleted"
                          else _parse_record(table, operation, item, path, cache))
                if isinstance(parsed, Unroutable):
                    once(table_name, parsed.payload.get("id"))
                    unroutable.append(parsed)
                else:
                    once(table_name, parsed.id)
                    records.append(parsed)
    return ChangeSet(records, unroutable)


def _unknown_table_record(table_name: str, operation: str, item: Any, path: str) -> Unroutable:
    """A record of a table this server does not sync: its id must still be a string (structure), the rest is
    kept as pushed (made storable) for a dispatcher to see."""
    if operation == "deleted":
        raw: dict[str, Any] = {"id": item}
    elif isinstance(item, dict):
        raw = {k: v for k, v in item.items() if k not in SYNC_FIELDS}
    else:
        raise _fail(path, "must be a record object")
    record_id = _record_id(raw.get("id"), f"{path}.id")
    changed = item.get("_changed") if isinstance(item, dict) else None
    return Unroutable(
        table_name=table_name[:TABLE_NAME_LENGTH], record_id=str(record_id)[:RECORD_ID_LENGTH], operation=operation,
        payload=_storable(raw), changed=sorted(c for c in changed.split(",") if c)[:100]
        if isinstance(changed, str) else [], code="unknown_table",
        reason=f"table {table_name[:TABLE_NAME_LENGTH]!r} is not synced by this server, so its records are kept "
               f"here, not applied. Keep local-only tables (an upload queue) out of the push (docs/sync.md, Push); "
               f"the synced tables are {', '.join(TABLES)}")


def _parse_deleted(table: SyncTable, item: Any, path: str) -> PushedRecord | Unroutable:
    record_id = _record_id(item, path)
    if isinstance(record_id, str):
        return Unroutable(table.name, record_id[:RECORD_ID_LENGTH], "deleted", {"id": record_id}, [],
                          "id_not_uuid", _not_uuid_reason(record_id))
    return PushedRecord(table, "deleted", record_id, {"id": str(record_id)}, frozenset())


def _parse_record(table: SyncTable, operation: str, item: Any, path: str,
                  cache: dict[Any, Any] | None = None) -> PushedRecord | Unroutable:
    """One created/updated record of a synced table. Columns the server does not know (a newer app's, or
    local-only ones) are dropped here, also from `_changed`: never applied, never stored. `cache`: the push's
    memo of decoded values (see _converter)."""
    if not isinstance(item, dict):
        raise _fail(path, "must be a record object")
    value = item.get("id")
    record_id = _printable_id(value)
    if record_id is None:
        record_id = _record_id(value, f"{path}.id")
    changed_raw = item.get("_changed", "")
    if changed_raw is None:
        changed_raw = ""
    if not isinstance(changed_raw, str):
        raise _fail(f"{path}._changed", "must be a comma-separated string of column names")
    converters = _CONVERTERS[table.name]
    changed = _named_changed(changed_raw, converters)
    # the known columns, and whether they certainly pass jsonsafety.problem: only scalars and no text with a
    # lone surrogate (ASCII text has none: no regex needed); otherwise the full walk decides and names the place
    raw: dict[str, Any] = {}
    clean = True
    search = jsonsafety.SURROGATE.search
    for key, value in item.items():
        if key in converters or key == "id":
            raw[key] = value
            if type(value) is str:
                if not value.isascii() and search(value):
                    clean = False
            elif isinstance(value, dict | list):
                clean = False
    unusable = None if clean else jsonsafety.problem(raw)
    if unusable:  # this record's content only: it is quarantined (scrubbed), the rest of the push applies
        if isinstance(record_id, str):
            return Unroutable(table.name, record_id[:RECORD_ID_LENGTH], operation, jsonsafety.scrub(raw),
                              sorted(changed), "id_not_uuid", _not_uuid_reason(record_id))
        return PushedRecord(table, operation, record_id, jsonsafety.scrub(raw), changed, {},
                            unusable=unusable.replace("$", path, 1))
    if cache is None:
        cache = {}
    values: dict[str, Any] = {}
    column = ""
    try:
        for column, value in raw.items():
            if column != "id":
                values[column] = converters[column](value, cache)
    except _Bad as bad:
        raise _fail(f"{path}.{column}", str(bad)) from None
    if isinstance(record_id, str):  # well-formed, but no handler can take it: quarantined, not a 422
        return Unroutable(table.name, record_id[:RECORD_ID_LENGTH], operation, raw, sorted(changed),
                          "id_not_uuid", _not_uuid_reason(record_id))
    if operation == "created" or not changed:
        # a created record is the phone's in full; an update without _changed is treated the same way
        changed = frozenset(values).difference(STAMP_COLUMNS)
    return PushedRecord(table, operation, record_id, raw, changed, values)


# ---- the bytes of a push --------------------------------------------------------------------------------

class InvalidJsonBody(ValidationFailed):
    """The push body is not JSON at all."""


class _NotCommon(Exception):
    """A push body `_read_common` does not take: the general way decides."""


def read_change_set(raw: bytes, *, max_records: int) -> ChangeSet:
    """The change set of a push body, from its bytes. The common push (`{"changes": {...}}` or the bare changes
    object, of synced tables, every value of its column's JSON type, every id a UUID) is decoded and
    type-checked in one pass by msgspec into one struct per record, without building the JSON tree first
    (issue 13: CPU per push). Anything else (unknown tables with records, ids that are not UUIDs, wrong types,
    duplicates, lone surrogates, NaN, a body too large, ...) goes the general way,
    `parse_change_set(json.loads(raw))`, which decides the outcome. Both give the same change set where the
    common way takes a body (tests/sync/test_changeset_read.py compares them on generated bodies).

    Raises InvalidJsonBody (422) for bytes that are not JSON, and what parse_change_set raises."""
    try:
        return _read_common(raw, max_records)
    # msgspec's ValidationError is a DecodeError; bytes that are not UTF-8 raise UnicodeDecodeError, and JSON
    # nested deeper than the interpreter's recursion limit RecursionError
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError, _NotCommon):
        pass
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidJsonBody("the body is not valid JSON", errors={"json": ["Invalid JSON body."]}) from None
    return parse_change_set(body, max_records=max_records)


_JSON_TYPES: dict[str, Any] = {"boolean": bool | None | msgspec.UnsetType,
                               "number": int | float | None | msgspec.UnsetType,
                               "string": str | None | msgspec.UnsetType}


@dataclass(frozen=True)
class _CommonTable:
    """How `_read_common` decodes one synced table's lists: a struct per record with the table's columns (a
    column absent from the record is UNSET: absent and null differ, as in `_parse_record`), and the columns
    with their converters in the struct's order."""

    decoder: msgspec.json.Decoder[Any]
    columns: tuple[tuple[str, Callable[[Any, dict[Any, Any]], Any]], ...]


def _common_table(table: SyncTable) -> _CommonTable:
    columns = [c for c in table.columns if c.name != "id"]
    record = msgspec.defstruct(f"{table.name}_record", [
        ("id", str), ("changed_", str | None, msgspec.field(default="", name="_changed")),
        *((c.name, _JSON_TYPES[c.kind], msgspec.UNSET) for c in columns)])
    lists = msgspec.defstruct(f"{table.name}_lists", [
        ("created", list[record], msgspec.field(default_factory=list)),  # type: ignore[valid-type]
        ("updated", list[record], msgspec.field(default_factory=list)),  # type: ignore[valid-type]
        ("deleted", list[str], msgspec.field(default_factory=list))], forbid_unknown_fields=True)
    converters = _CONVERTERS[table.name]
    return _CommonTable(msgspec.json.Decoder(lists), tuple((c.name, converters[c.name]) for c in columns))


class _UnknownTable(msgspec.Struct, forbid_unknown_fields=True):
    created: list[Any] = msgspec.field(default_factory=list)
    updated: list[Any] = msgspec.field(default_factory=list)
    deleted: list[Any] = msgspec.field(default_factory=list)


_OBJECT = msgspec.json.Decoder(dict[str, msgspec.Raw])  # an object, its values left encoded
_UNKNOWN_TABLE = msgspec.json.Decoder(_UnknownTable)
_COMMON = {name: _common_table(table) for name, table in TABLES.items()}


def _uuid(value: str) -> uuid.UUID:
    """`_record_id`'s answer for an id `_read_common` takes: a UUID in printable ASCII."""
    record_id = _printable_id(value)
    if not isinstance(record_id, uuid.UUID):
        raise _NotCommon
    return record_id


def _read_common(raw: bytes, max_records: int) -> ChangeSet:
    """`parse_change_set(json.loads(raw))` for the common push, or _NotCommon / a msgspec error for any other.
    Each step mirrors the general one; where that would quarantine or refuse, this one gives up instead."""
    records: list[PushedRecord] = []
    seen: set[tuple[str, uuid.UUID]] = set()
    cache: dict[Any, Any] = {}
    every_column: dict[tuple[str, ...], frozenset[str]] = {}
    total = 0
    tables = _OBJECT.decode(raw)
    if tables.keys() == {"changes"}:  # {"changes": {...}}, as docs/sync.md shows; else the bare changes object
        tables = _OBJECT.decode(tables["changes"])
    for table_name, encoded in tables.items():
        common = _COMMON.get(table_name)
        if common is None:  # a local-only table: ignored when empty (its records are quarantined: not common)
            unknown = _UNKNOWN_TABLE.decode(encoded)
            if unknown.created or unknown.updated or unknown.deleted or not table_name or (
                    CONTROL_CHARACTERS.search(table_name) or jsonsafety.SURROGATE.search(table_name)):
                raise _NotCommon
            continue
        lists = common.decoder.decode(encoded)
        total += len(lists.created) + len(lists.updated) + len(lists.deleted)
        if total > max_records:
            raise _NotCommon
        table, converters = TABLES[table_name], _CONVERTERS[table_name]
        for operation, items in (("created", lists.created), ("updated", lists.updated)):
            for item in items:
                record_id = _uuid(item.id)
                raw_values: dict[str, Any] = {"id": item.id}
                values: dict[str, Any] = {}
                try:
                    for name, convert in common.columns:
                        value = getattr(item, name)
                        if value is not msgspec.UNSET:
                            raw_values[name] = value
                            values[name] = convert(value, cache)
                except _Bad:
                    raise _NotCommon from None
                changed_raw = item.changed_
                changed = _named_changed(changed_raw, converters) if operation != "created" else frozenset()
                if operation == "created" or not changed:  # the same few sets for a whole push: made once each
                    present = tuple(values)
                    changed = every_column.get(present)  # type: ignore[assignment]
                    if changed is None:
                        changed = every_column[present] = frozenset(present).difference(STAMP_COLUMNS)
                records.append(PushedRecord(table, operation, record_id, raw_values, changed, values))
        for item in lists.deleted:
            record_id = _uuid(item)
            records.append(PushedRecord(table, "deleted", record_id, {"id": str(record_id)}, frozenset()))
    for record in records:
        key = (record.table.name, record.id)
        if key in seen:
            raise _NotCommon
        seen.add(key)
    return ChangeSet(records)
