"""A push body read from its bytes (sync/changeset.py `read_change_set`; issue 13, CPU per push).

The common push is decoded and type-checked by msgspec in one pass; any other body goes the general way,
`parse_change_set(json.loads(raw))`. Whatever the body, both must end the same: the same change set
(records, quarantined ones, decoded values, `_changed`), or the same refusal (error class, message, details).
Compared here on bodies drawn by hypothesis around every edge either way has (unknown tables and columns,
ids that are not UUIDs or not strings, wrong JSON types, NaN, big integers, control characters, lone
surrogates, duplicates, too many records, other body shapes, other encodings), and on typical WatermelonDB
pushes, which must go the common way (else the fast path would be dead code).
"""
from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from fieldservice.errors import DomainError
from sync.changeset import InvalidJsonBody, _NotCommon, _read_common, parse_change_set, read_change_set
from sync.schema import TABLES, Column

KNOWN = ["work_logs", "visits", "signoffs", "service_records", "stock_movements", "visit_charges"]
UNKNOWN = ["upload_queue", "", "bad\x01name", "changes", "lone\ud800"]
IDS = [str(uuid.UUID(int=n)) for n in range(1, 6)]  # a small pool: duplicates come up
NOW_MS = 1_796_000_000_000


def outcome(read: Any) -> tuple[Any, ...]:
    try:
        return ("ok", read())
    except DomainError as err:
        return ("refused", type(err), err.detail, err.extra)


def general(raw: bytes, max_records: int) -> tuple[Any, ...]:
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return ("refused", InvalidJsonBody, "the body is not valid JSON", {"errors": {"json": ["Invalid JSON body."]}})
    return outcome(lambda: parse_change_set(body, max_records=max_records))


def record_ids() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(IDS), st.uuids().map(str), st.uuids().map(lambda u: str(u).upper()),
        st.uuids().map(lambda u: u.hex), st.uuids().map(lambda u: f"{{{u}}}"),
        st.uuids().map(lambda u: f"urn:uuid:{u}"),
        st.just("abcdefghijklmnop"), st.just(""), st.just("1b4e28ba-2fa1-11d2-883f-0016d3cca42\x00"),
        st.just("é" * 36), st.integers(), st.none())


def wrong_values() -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(),
                     st.sampled_from(["", "x\x01y", "\ud800", "ok", "中文", "a" * 10_001, "1e3"]),
                     st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=2), st.integers(), max_size=2))


def values_of(column: Column, messy: bool) -> st.SearchStrategy[Any]:
    if column.kind == "boolean":
        good: st.SearchStrategy[Any] = st.one_of(st.booleans(), st.sampled_from([0, 1])) if messy else st.booleans()
    elif column.kind == "number":
        good = st.one_of(st.integers(0, 2 * NOW_MS), st.just(NOW_MS), st.floats(0, 1e12, allow_nan=False))
    elif column.name.endswith("_id") and not column.plain:
        good = st.one_of(st.sampled_from(IDS), st.just(""), st.uuids().map(str))
    else:
        good = st.text(max_size=12) if messy else st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=12)
    return sometimes_wrong(good, messy)


def sometimes_wrong(good: st.SearchStrategy[Any], messy: bool) -> st.SearchStrategy[Any]:
    """`good`; in a messy body, one draw in ten something of another JSON type or content."""
    return st.integers(0, 9).flatmap(lambda n: wrong_values() if n == 0 else good) if messy else good


@st.composite
def records(draw: Any, table_name: str, messy: bool) -> Any:
    table = TABLES.get(table_name)
    item: dict[str, Any] = {}
    if not messy or draw(st.integers(0, 9)):
        item["id"] = draw(record_ids() if messy else st.one_of(st.sampled_from(IDS), *[st.uuids().map(str)] * 9))
    columns = [c for c in table.columns if c.name != "id"] if table else []
    for column in columns:
        if draw(st.integers(0, 4)):
            item[column.name] = draw(values_of(column, messy))
    if draw(st.booleans()):
        item["local_only_column"] = draw(wrong_values() if messy else st.integers())
    if draw(st.booleans()):
        item["_status"] = draw(st.sampled_from(["created", "updated", 3]))
    if draw(st.integers(0, 2)):
        names = [c.name for c in columns] + ["nope", "", "id"]
        item["_changed"] = draw(st.one_of(st.lists(st.sampled_from(names), max_size=3).map(",".join),
                                          st.none(), *([st.integers()] if messy else [])))
    return draw(sometimes_wrong(st.just(item), messy))


@st.composite
def tables(draw: Any, messy: bool) -> Any:
    """The changes object; `messy`: with something wrong here and there (else as a phone that works sends it,
    which still may hold duplicates, an unknown table's records, or more records than allowed)."""
    changes: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(KNOWN + UNKNOWN if messy else KNOWN + UNKNOWN[:1]), max_size=3)):
        lists: dict[str, Any] = {}
        operations = ["created", "updated", "deleted", *(["extra"] if messy else [])]
        for operation in draw(st.lists(st.sampled_from(operations), max_size=3)):
            if operation == "deleted":
                items: Any = draw(st.lists(record_ids() if messy else st.uuids().map(str), max_size=3))
            elif name in TABLES or messy:
                items = draw(st.lists(records(name, messy), max_size=4))
            else:  # a local-only table, as a working app pushes it
                items = []
            lists[operation] = draw(sometimes_wrong(st.just(items), messy))
        changes[name] = draw(sometimes_wrong(st.just(lists), messy))
    return changes


@st.composite
def bodies(draw: Any) -> bytes:
    messy = draw(st.booleans())
    changes = draw(tables(messy))
    shape = draw(st.sampled_from(["wrapped", "wrapped", "wrapped", "bare", "extra key", "not an object"])
                 if messy else st.sampled_from(["wrapped", "bare"]))
    body: Any = {"wrapped": {"changes": changes}, "bare": changes, "extra key": {"changes": changes, "x": 1},
                 "not an object": [changes]}[shape]
    if draw(st.booleans()):
        raw = json.dumps(body).encode()  # \uXXXX escapes: lone surrogates, control characters as escapes
    else:
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    if messy and draw(st.integers(0, 3)) == 0:  # a few bytes changed: broken JSON, broken UTF-8, odd numbers
        data = bytearray(raw)
        for _ in range(draw(st.integers(1, 3))):
            if not data:
                break
            at = draw(st.integers(0, len(data) - 1))
            data[at:at + draw(st.integers(0, 2))] = draw(st.binary(max_size=2) | st.sampled_from(
                [b"NaN", b"-", b"e9", b"\\u", b'"', b"[", b"{", b"\xff", b"\xed\xa0\x80", b"1e400"]))
        raw = bytes(data)
    return raw


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(raw=bodies(), max_records=st.one_of(st.just(1000), st.integers(1, 20)))
def test_every_body_ends_as_the_general_way_decides(raw: bytes, max_records: int) -> None:
    try:
        records = len(_read_common(raw, max_records).records)
        event(f"read the common way: {'no' if not records else 'some'} records")
    except Exception:  # noqa: BLE001 (which one does not matter here: the outcome below does)
        event("read the general way")
    assert outcome(lambda: read_change_set(raw, max_records=max_records)) == general(raw, max_records)


RAW_EDGES = [
    b'{"changes": {"work_logs": {"created": [{"id": "%s", "description": NaN}]}}}' % IDS[0].encode(),
    b'{"changes": {"work_logs": {"created": [{"id": "%s", "started_at": 1e400}]}}}' % IDS[0].encode(),
    b'{"changes": {"work_logs": {"created": [], "created": [{"id": "%s"}]}}}' % IDS[0].encode(),
    b'{"changes": {"work_logs": {"created": [{"id": "%s", "description": "a", "description": 5}]}}}' % IDS[0].encode(),
    b'{"changes": {"work_logs": {"created": [{"id": "%s"}]}}, "changes": {}}' % IDS[0].encode(),
    b'\xef\xbb\xbf{"changes": {}}',
    '{"changes": {}}'.encode("utf-16"),
    b'{"changes": {"work_logs": {"created": [{"id": "%s", "description": "\xed\xa0\x80"}]}}}' % IDS[0].encode(),
    b'{"changes": {"work_logs": {"created": [{"id": "%s", "description": "\xff"}]}}}' % IDS[0].encode(),
    b'{"changes": {}} trailing',
    b'{"changes": {"work_logs": {"created": [{"id": "%s", "started_at": 123456789012345678901234567890}]}}}'
    % IDS[0].encode(),
    b"", b"null", b"[]", b'"changes"', b"{" * 5000,
    # nested deeper than the recursion limit, at every level the common way decodes on its own
    *(template.replace(b"DEEP", b"[" * 100_000 + b"]" * 100_000) for template in (
        b"DEEP", b'{"changes": DEEP}', b'{"changes": {"work_logs": DEEP}}', b'{"changes": {"upload_queue": DEEP}}',
        b'{"changes": {"work_logs": {"created": [{"id": "%s", "local_column": DEEP}]}}}' % IDS[0].encode())),
]


@pytest.mark.parametrize("raw", RAW_EDGES, ids=range(len(RAW_EDGES)))
def test_bytes_at_the_edges_end_as_the_general_way_decides(raw: bytes) -> None:
    assert outcome(lambda: read_change_set(raw, max_records=10)) == general(raw, 10)


def watermelon_push(count: int) -> bytes:
    """What WatermelonDB's synchronize() sends: every local table (a local-only one empty), whole raw records
    with local columns, '' for an empty reference, Chinese text as UTF-8."""
    visit = str(uuid.uuid4())
    logs = [{"id": str(uuid.uuid4()), "visit_id": visit, "technician_id": "", "started_at": NOW_MS + i,
             "ended_at": None, "description": f"更换轴承 {i}", "sync_status": "", "rejection_reason": "",
             "created_at": NOW_MS, "updated_at": NOW_MS, "_status": "created", "_changed": ""} for i in range(count)]
    edited = {**logs[0], "id": str(uuid.uuid4()), "description": "改", "_status": "updated",
              "_changed": "description,updated_at"}
    body = {"changes": {"work_logs": {"created": logs, "updated": [edited], "deleted": [str(uuid.uuid4())]},
                        "visits": {"created": [], "updated": [], "deleted": []},
                        "upload_queue": {"created": [], "updated": [], "deleted": []}}}
    return json.dumps(body, ensure_ascii=False).encode()


@pytest.mark.parametrize("bare", [False, True], ids=["wrapped", "bare"])
def test_a_typical_push_is_read_the_common_way_with_the_same_result(bare: bool) -> None:
    """As docs/sync.md shows (`{"changes": …}`), and bare, as WatermelonDB's own docs send `changes`."""
    raw = watermelon_push(50)
    if bare:
        raw = json.dumps(json.loads(raw)["changes"], ensure_ascii=False).encode()
    common = _read_common(raw, 1000)  # not _NotCommon, nor a msgspec error
    assert common == parse_change_set(json.loads(raw), max_records=1000)
    assert len(common.records) == 52 and not common.unroutable
    updated = next(r for r in common.records if r.operation == "updated")
    assert updated.changed == {"description", "updated_at"}  # `_changed` of an update is kept
    assert {r.operation for r in common.records} == {"created", "updated", "deleted"}


def test_what_the_common_way_leaves_to_the_general_one() -> None:
    """Quarantine and refusal are the general way's: the common way gives up on them (and is not wrong)."""
    local_records = json.dumps({"changes": {"upload_queue": {"created": [{"id": IDS[0]}]}}}).encode()
    short_id = json.dumps({"changes": {"work_logs": {"created": [{"id": "abcdefghijklmnop"}]}}}).encode()
    duplicate = json.dumps({"changes": {"work_logs": {"created": [{"id": IDS[0]}], "deleted": [IDS[0]]}}}).encode()
    for raw in (local_records, short_id, duplicate):
        with pytest.raises(_NotCommon):
            _read_common(raw, 1000)
    assert [u.code for u in read_change_set(local_records, max_records=10).unroutable] == ["unknown_table"]
    assert [u.code for u in read_change_set(short_id, max_records=10).unroutable] == ["id_not_uuid"]
    with pytest.raises(DomainError, match="appears twice"):
        read_change_set(duplicate, max_records=10)
