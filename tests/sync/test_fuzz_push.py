"""Property test: a phone can lie; the server decides (docs/sync.md "Push").

A technician with a real dispatched job pushes change sets drawn by hypothesis: for every pushable table
(and some read-only and unknown ones) records that mix valid-looking values with wrong JSON types, unknown
ids, ids of another technician's objects, huge strings, control characters, NaN/inf, negative quantities,
timestamps far in the past or future, missing fields, duplicate ids and deletes of records that do not exist.
Whatever arrives:
- the answer is never a 5xx; a refusal is application/problem+json and writes nothing;
- an accepted push accounts for every record: accepted + merged + rejected == sent, and each rejected or
  merged record is in the quarantine with a reason (nothing silently dropped);
- the other technician's objects never change (rules in the service layer, every access checked against
  ownership);
- replaying the same push under the same Idempotency-Key gives the same answer and writes nothing;
- afterwards an ordinary push and pull still work for that technician.
"""
from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.parts import service as parts
from fieldservice.parts.models import LocationKind
from sync.models import RejectionStatus, SyncRejection
from sync.schema import TABLES, Column
from tests.factories import Factory
from tests.records.conftest import repair_content

PUSHABLE = [name for name, table in TABLES.items() if table.pushable]
READ_ONLY = ["customers", "parts", "quotes", "photos"]
# the tables whose rows belong to someone: the other technician's rows among them must never change
OWNED_TABLES = ["visits", "work_orders", "work_logs", "service_records", "signoffs", "stock_movements",
                "stock_balances", "visit_charges", "quote_consents", "stock_locations"]
ENUM_WORDS = ["planned", "in_progress", "completed", "cancelled", "work_complete", "closed", "open", "draft",
              "signed", "repair_record", "installation_record", "accepted", "declined", "part", "labour", "fee",
              "customer", "issue", "synced", "rejected"]
NOW = datetime.now(UTC)
DEEP_JSON = "{\"a\":" * 200 + "1" + "}" * 200          # parses, but deeper than anything may be
TOO_DEEP_JSON = "[" * 100_000 + "]" * 100_000           # Python's parser gives up (RecursionError)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _van(technician_id: uuid.UUID, quantity: int) -> SimpleNamespace:
    with unit_of_work():
        van = parts.create_location(SYSTEM, {"code": f"VAN-{uuid.uuid4().hex[:6]}", "name": "车",
                                             "kind": LocationKind.VAN, "technician_id": technician_id})
        part = parts.create_part(SYSTEM, {"part_number": f"G-{uuid.uuid4().hex[:6]}", "name": "滤芯 filter"})
        parts.receive_stock(SYSTEM, {"part_id": part.id, "location_id": van.id, "quantity": quantity})
        return SimpleNamespace(id=van.id, part_id=part.id)


def _working_job(app: Flask, make: Factory, phone_for: Any) -> SimpleNamespace:
    """A dispatched repair under way (arrived, a work log and a record draft pushed from the phone), and a
    visit planned for tomorrow."""
    job = make.dispatched_job(start=NOW - timedelta(hours=1))
    make.warranty_repair(job.order.id)
    with app.app_context():
        van = _van(job.technician.id, 5)
    phone = phone_for(job.technician)
    phone.sync()
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(NOW - timedelta(minutes=50)))
    log_id = phone.create("work_logs", visit_id=str(job.visit.id), started_at=ms(NOW - timedelta(minutes=45)),
                          description="检查 checked")
    record_id = phone.create("service_records", kind="repair_record", visit_id=str(job.visit.id),
                             content_json=json.dumps(repair_content(), ensure_ascii=False))
    result = phone.sync()
    assert result["accepted"] == 3 and result["rejected"] == 0, result
    planned = make.dispatched_job(start=NOW + timedelta(days=1), technician=job.technician)
    by_table = {"visits": {str(job.visit.id), str(planned.visit.id)},
                "work_orders": {str(job.order.id), str(planned.order.id)}, "technicians": {str(job.technician.id)},
                "stock_locations": {str(van.id)}, "parts": {str(van.part_id)}, "work_logs": {log_id},
                "service_records": {record_id}}
    return SimpleNamespace(job=job, planned=planned, van=van, phone=phone, log_id=log_id, record_id=record_id,
                           by_table=by_table)


# ---- strategies -----------------------------------------------------------------------------------

def hostile_strings(limit: int) -> st.SearchStrategy[str]:
    """Strings of the right JSON type whose content is hostile (typed mode: the push parses)."""
    return st.one_of(
        st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
        st.sampled_from(ENUM_WORDS), st.just(""), st.just("压缩机 compressor" * 3),
        st.sampled_from(["{}", "[]", "null", '["SN-1"]', '[""]', '{"a": 1}', "[1, 2]", "not json",
                         json.dumps(repair_content(), ensure_ascii=False)]),
        # at the column's limit (a huge name or note must not overflow a database column)
        st.just("长" * min(limit, 50_000)), st.just("x" * min(limit, 10_000)),
        # issue 15: a lone UTF-16 surrogate (quarantines that record only), CR/LF, JSON text nested deeper than
        # the schemas (and than Python's parser) go: never a 500, never the whole push refused
        st.sampled_from(["\ud800", "a\udfffb", "回\r\n车 CR/LF\r\n",
                         *(text for text in (DEEP_JSON, TOO_DEEP_JSON) if len(text) <= limit)]),
    )


def malformed_values(column: Column) -> st.SearchStrategy[Any]:
    """Values the change-set parser must refuse (a 422 for the whole push)."""
    wrong_type = (st.sampled_from([1.5, 7, True]) if column.kind == "string"
                  else st.sampled_from(["1790000000000", "true", [], {}]))
    bad = [wrong_type]
    if column.kind == "string":
        bad += [st.just("a\x00b"), st.just("\x1b[31m"), st.just("y" * (column.max_length + 1))]
        if column.name.endswith("_id") and not column.plain:
            bad.append(st.sampled_from(["visit-1", "a1b2c3d4e5f6g7h8"]))
    if column.kind == "number":
        bad.append(st.sampled_from([float("nan"), float("inf"), float("-inf")]))
        if column.is_time:
            bad.append(st.sampled_from([-1, ms(NOW - timedelta(days=36500)), 8_640_000_000_001, 10**20]))
    if column.kind == "boolean":
        bad.append(st.sampled_from([2, "yes", 0.5]))
    return st.one_of(*bad)


def typed_values(column: Column, ids: list[str]) -> st.SearchStrategy[Any]:
    """Values of the column's JSON type that may still break every rule (wrong owner, far times, ...)."""
    if column.kind == "boolean":
        return st.booleans() | st.sampled_from([0, 1]) | st.none()
    if column.is_time:
        return st.one_of(
            st.integers(ms(NOW - timedelta(days=2)), ms(NOW + timedelta(hours=2))),
            st.sampled_from([0, 1, 8_640_000_000_000, ms(NOW + timedelta(days=3650)),
                             ms(NOW - timedelta(days=365))]),
            st.floats(0, 8_640_000_000_000, allow_nan=False), st.none())
    if column.kind == "number":
        return st.one_of(st.integers(-3, 3), st.integers(-(10**30), 10**30),
                         st.floats(allow_nan=False, allow_infinity=False), st.none())
    if column.name.endswith("_id") and not column.plain:
        return some_id(ids) | st.just("") | st.none()
    return hostile_strings(column.max_length) | st.none()


def one_in(n: int) -> st.SearchStrategy[bool]:
    return st.sampled_from([False] * (n - 1) + [True])


def some_id(ids: list[str]) -> st.SearchStrategy[str]:
    """Mostly ids nobody has, often a known one (own or the other technician's objects)."""
    return one_in(3).flatmap(lambda known: st.sampled_from(ids) if known else st.uuids().map(str))


def plausible(table: str, mine: SimpleNamespace) -> dict[str, Any]:
    """A record that would apply for this technician, before hypothesis spoils some of its fields."""
    now = ms(NOW)
    visit, order = str(mine.job.visit.id), str(mine.job.order.id)
    templates: dict[str, dict[str, Any]] = {
        "visits": {"id": visit, "status": "completed", "arrived_at": now - 3_000_000, "departed_at": now,
                   "work_complete": True, "notes": "好了 done", "customer_confirmed": True,
                   "customer_confirmed_at": now - 9_000_000, "confirmation_note": "ok"},
        "work_logs": {"visit_id": visit, "started_at": now - 600_000, "ended_at": now, "description": "换 relay"},
        "work_orders": {"id": order, "status": "work_complete"},
        "service_records": {"id": mine.record_id, "kind": "repair_record", "visit_id": visit, "lock_version": 1,
                            "content_json": json.dumps(repair_content(work_done="改 changed"), ensure_ascii=False)},
        "signoffs": {"record_id": mine.record_id, "content_sha256": "0" * 64, "signer_name": "张客户",
                     "signer_role": "customer", "signature_png": "iVBORw0KGgo=", "strokes_json": "[]",
                     "device_id": "phone-1", "device_time": now, "latitude": 31.2, "longitude": 121.5},
        "stock_movements": {"part_id": str(mine.van.part_id), "work_order_id": order, "visit_id": visit,
                            "quantity": -1, "occurred_at": now},
        "quote_consents": {"quote_id": str(uuid.uuid4()), "decision": "accepted", "content_sha256": "0" * 64,
                           "signer_name": "张客户", "visit_id": visit},
        "visit_charges": {"visit_id": visit, "kind": "labour", "code": "L-1", "quantity_centi": 100},
    }
    return dict(templates.get(table, {}))


@st.composite
def records(draw: st.DrawFn, table: str, ids: list[str], malformed: bool,
            mine: SimpleNamespace | None = None) -> dict[str, Any]:
    columns = TABLES[table].columns
    values = {c.name: typed_values(c, ids) for c in columns}
    record = draw(st.fixed_dictionaries({}, optional=values))
    if mine is not None and draw(st.booleans()):  # a plausible record with a few fields spoilt (or none)
        base = plausible(table, mine)
        if table == "visits" and draw(st.booleans()):  # the planned visit: confirmation with the customer
            base["id"] = str(mine.planned.visit.id)
        spoilt = draw(st.lists(st.sampled_from(columns), max_size=3, unique_by=lambda c: c.name))
        base.update({c.name: draw(values[c.name]) for c in spoilt})
        for c in spoilt:
            if draw(one_in(4)):
                base.pop(c.name, None)  # a missing field
        record = base
    if malformed and columns and draw(st.booleans()):
        column = draw(st.sampled_from(columns))
        record[column.name] = draw(malformed_values(column))
    bad_ids = st.sampled_from(["a1b2c3d4e5f6g7h8", "", 42, None]) if malformed else st.nothing()
    if "id" not in record or draw(st.booleans()):
        record["id"] = draw(some_id(ids) | bad_ids)
    names = [c.name for c in columns] + (["price"] if malformed else [])
    if draw(st.booleans()):
        record["_changed"] = ",".join(draw(st.lists(st.sampled_from(names), max_size=4, unique=True)))
    else:  # what a phone sends: the columns it edited
        record["_changed"] = ",".join(k for k in record if k != "id")
    if malformed and draw(one_in(10)):
        record["color"] = "red"  # an unknown column
    return record


@st.composite
def change_sets(draw: st.DrawFn, ids: list[str], mine: SimpleNamespace) -> tuple[dict[str, Any], bool]:
    """A push body, and whether it is well-formed (then no rule it breaks may refuse it whole)."""
    malformed = draw(one_in(5))
    chosen = draw(st.lists(st.sampled_from(PUSHABLE + READ_ONLY), min_size=1, max_size=4, unique=True))
    changes: dict[str, Any] = {}
    for table in chosen:
        created = draw(st.lists(records(table, ids, malformed, mine), max_size=3))
        updated = draw(st.lists(records(table, ids, malformed, mine), max_size=3))
        for r in created:
            r["_status"] = "created"
        for r in updated:
            r["_status"] = "updated"
        deleted = draw(st.lists(some_id(ids), max_size=2, unique=True))
        if malformed and draw(one_in(6)):
            deleted.append(draw(st.sampled_from([42, "nope", None])))
        if not malformed:  # each record once per table, so that the push is well-formed
            seen: set[Any] = set()
            for i, r in enumerate(created + updated):
                if r["id"] in seen:
                    r["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{table}/{i}/{r['id']}"))
                seen.add(r["id"])
            deleted = [x for x in deleted if x not in seen]
        changes[table] = {"created": created, "updated": updated, "deleted": deleted}
    if malformed and draw(one_in(6)):
        changes["invoices"] = {"created": [{"id": str(uuid.uuid4())}], "updated": [], "deleted": []}
    twin = draw(one_in(10))
    if twin:  # the same record in created and updated
        table = chosen[0]
        record = dict(draw(records(table, ids, False, mine)), _status="updated")
        changes[table]["updated"].append(record)
        changes[table]["created"].append(dict(record, _status="created"))
    return {"changes": changes}, not (malformed or twin)


# ---- observations ---------------------------------------------------------------------------------

def count_all() -> dict[str, int]:
    return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t)) or 0
            for t in db.metadata.sorted_tables}


def rows_touching(ids: dict[str, set[str]]) -> dict[str, list[dict[str, Any]]]:
    """Every row of an owned table that is one of `ids` ({table: ids}: the other technician's objects) or
    points at one of them."""
    refs = set().union(*ids.values())
    found: dict[str, list[dict[str, Any]]] = {}
    for name in OWNED_TABLES:
        table = db.metadata.tables[name]
        rows = [dict(row._mapping) for row in db.session.execute(sa.select(table))]
        mine = [r for r in rows if str(r["id"]) in ids.get(name, set())
                or any(str(v) in refs for k, v in r.items() if k != "id" and v is not None)]
        found[name] = sorted(mine, key=lambda r: str(r["id"]))
    return found


def diff(before: dict[str, list[dict[str, Any]]], after: dict[str, list[dict[str, Any]]]) -> list[Any]:
    changes = []
    for name in before:
        old = {str(r["id"]): r for r in before[name]}
        new = {str(r["id"]): r for r in after[name]}
        for key in old.keys() | new.keys():
            if old.get(key) != new.get(key):
                a, b = old.get(key) or {}, new.get(key) or {}
                changes.append((name, key, {k: (a.get(k), b.get(k)) for k in a.keys() | b.keys()
                                            if a.get(k) != b.get(k)}))
    return changes


def sent_ids(body: dict[str, Any]) -> dict[str, list[str]]:
    return {table: [r["id"] for r in lists["created"] + lists["updated"]] + list(lists["deleted"])
            for table, lists in body["changes"].items()}


def open_quarantine(technician_id: uuid.UUID) -> set[tuple[str, str, str]]:
    return {(r.table_name, r.record_id, r.kind.value) for r in db.session.scalars(sa.select(SyncRejection).where(
        SyncRejection.technician_id == technician_id, SyncRejection.status == RejectionStatus.OPEN,
        SyncRejection.reason != ""))}


def test_a_phone_can_lie_and_the_server_decides(app: Flask, client: FlaskClient, make: Factory,
                                               phone_for: Any) -> None:
    """Pushes drawn by hypothesis against one technician's real jobs, with another technician's jobs beside
    them; the properties in the module docstring are checked after every push and its replay."""
    mine = _working_job(app, make, phone_for)
    theirs = _working_job(app, make, phone_for)
    tech = mine.job.technician
    auth = mine.phone.auth
    ids = sorted(set().union(*mine.by_table.values(), *theirs.by_table.values()))

    # no shrinking: the database keeps what earlier examples wrote, so a shrunk body would not replay the
    # failure, and shrinking against a database is slow; the failing body is reported as generated
    @settings(max_examples=int(os.environ.get("FUZZ_PUSH_EXAMPLES", "120")), deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(drawn=change_sets(ids, mine))
    def push(drawn: tuple[dict[str, Any], bool]) -> None:
        body, well_formed = drawn
        key = str(uuid.uuid4())
        data = json.dumps(body)  # NaN and Infinity go out as the bare literals a lying client can send
        with app.app_context():
            before = count_all()
            theirs_before = rows_touching(theirs.by_table)
        response = client.post("/api/v1/sync/push?last_pulled_at=null", data=data,
                               headers={**auth, "Idempotency-Key": key})
        assert response.status_code < 500, (body, response.get_data(as_text=True))
        # a well-formed push is never refused whole: what breaks a rule is quarantined, the rest applies
        assert response.status_code == 200 or not well_formed, response.get_data(as_text=True)
        with app.app_context():
            after = count_all()
            if response.status_code >= 400:
                assert response.mimetype == "application/problem+json", response.mimetype
                assert after == before, {k: (before[k], v) for k, v in after.items() if before[k] != v}
            else:
                answer = response.get_json()
                sent = sent_ids(body)
                assert answer["accepted"] + answer["merged"] + answer["rejected"] == sum(map(len, sent.values()))
                assert answer["rejected"] == sum(len(v) for v in answer["rejected_ids"].values())
                quarantined = open_quarantine(tech.id)
                for table, record_ids in answer["rejected_ids"].items():
                    for record_id in record_ids:
                        assert record_id in sent[table]
                        assert (table, record_id, "rejected") in quarantined, (table, record_id, answer)
            theirs_after = rows_touching(theirs.by_table)
            assert theirs_after == theirs_before, diff(theirs_before, theirs_after)
        replay = client.post("/api/v1/sync/push?last_pulled_at=null", data=data,
                             headers={**auth, "Idempotency-Key": key})
        assert replay.status_code == response.status_code
        if response.status_code == 200:
            assert replay.get_json() == response.get_json()
        else:
            assert replay.get_json()["type"] == response.get_json()["type"]
        with app.app_context():
            assert count_all() == after

    push()

    # afterwards the technician's phone still syncs normally: a new job, arrival and a work log
    # (its window starts after the first job's and soon enough that the technician may arrive now, R-REP-2)
    later = make.dispatched_job(start=NOW + timedelta(minutes=70), technician=tech)
    phone = phone_for(tech)
    phone.sync()
    phone.edit("visits", later.visit.id, status="in_progress", arrived_at=ms(datetime.now(UTC)))
    log_id = phone.create("work_logs", visit_id=str(later.visit.id), started_at=ms(datetime.now(UTC)),
                          description="正常 normal")
    result = phone.sync()
    assert result["accepted"] == 2 and result["rejected"] == 0, result
    merged, _ = phone.pull_all()
    assert log_id in merged["work_logs"]["updated"] or log_id in phone.ids("work_logs")
    assert phone.get("visits", later.visit.id)["status"] == "in_progress"
