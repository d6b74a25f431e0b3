"""Issue 13: on PostgreSQL, pulled records are JSON text written by the database (sync/rowsql.py). Every table
that has an SQL form must give exactly the record the Python path gives (sync/schema.py `raw_record`): same
keys, same JSON types, same values, for the demo's data plus awkward values (Chinese, quotes, backslashes,
control characters, microseconds, a date, null, a photo that is not ready)."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask import Flask

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.photos.models import Photo, PhotoKind, PhotoStatus
from fieldservice.visits import service as visits
from fieldservice.visits.models import WorkLog
from sync import rowsql
from sync.pull import PullContext
from sync.schema import TABLES, raw_record
from tests.factories import Factory

# tables whose records keep the Python path: a JSON text column (key order and escapes are Python's json), a
# quote's canonical text, serial number lists
PYTHON_TABLES = {"products", "service_records", "signoffs", "quotes", "visit_charges", "stock_movements"}
AWKWARD = 'a "quoted" \\ back\\slash, 中文 ✓ 😀, tab\there, new\nline, bell\x07, nul-ish \x01 end'


def _awkward_rows(app: Flask, make: Factory) -> uuid.UUID:
    job = make.dispatched_job(start=datetime.now(UTC).replace(microsecond=999_999) - timedelta(hours=1))
    with app.app_context(), unit_of_work():
        visits.record_arrival(SYSTEM, job.visit.id)
        visits.add_work_log(SYSTEM, job.visit.id, {
            "started_at": datetime(2026, 3, 1, 8, 0, 0, 123_456, tzinfo=UTC), "description": AWKWARD})
        visits.add_work_log(SYSTEM, job.visit.id, {"started_at": datetime(2026, 3, 1, 8, 0, 0, 999_999, tzinfo=UTC),
                                                   "ended_at": datetime(2026, 3, 1, 9, 0, 0, 1, tzinfo=UTC),
                                                   "description": ""})
        for status in PhotoStatus:
            db.session.add(Photo(
                id=uuid.uuid4(), work_order_id=job.order.id, visit_id=job.visit.id, kind=PhotoKind.FAULT,
                sha256="0" * 64, size_bytes=10, content_type="image/jpeg", width=640, height=480, orientation=1,
                captured_at=datetime(1999, 12, 31, 23, 59, 59, 999_500, tzinfo=UTC), latitude=31.230416,
                longitude=121.473701, status=status, processing_error=AWKWARD if status.value != "ready" else None,
                technician_id=job.technician.id))
    return job.technician.id


@pytest.mark.postgres
def test_every_sql_record_equals_the_python_record(app: Flask, make: Factory) -> None:
    from fieldservice.demo import seed_demo

    with app.app_context(), unit_of_work():
        seed_demo()
    technician_id = _awkward_rows(app, make)
    checked: dict[str, int] = {}
    with app.app_context():
        assert db.engine.dialect.name == "postgresql"
        ctx = PullContext(technician_id)
        for name, table in TABLES.items():
            expr = rowsql.record_sql(table)
            if expr is None:
                assert name in PYTHON_TABLES, f"{name} lost its SQL form"
                continue
            assert name not in PYTHON_TABLES, f"{name} has an SQL form now: take it out of PYTHON_TABLES"
            source = table.model.__table__
            rows = db.session.execute(sa.select(source, expr.label("json")), {"tech": technician_id}).all()
            for row in rows:
                expected = raw_record(table, row, ctx)
                for status in (None, ("rejected", AWKWARD), ("merged", None)):
                    got = json.loads(rowsql.with_status(table, row.json, status))
                    want = raw_record(table, row, ctx, status)
                    assert got == want, (name, row.id)
                    # same JSON types too (True is not 1, 1.0 is not 1)
                    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in want.items()}, name
                assert set(json.loads(row.json)) == set(expected) - set(rowsql.STATUS_COLUMNS)
            checked[name] = len(rows)
    for name in ("work_logs", "visits", "photos", "customers", "sites", "work_orders", "quote_lines"):
        assert checked.get(name), f"no {name} rows were compared"
    assert checked["photos"] == len(PhotoStatus)


def test_pull_result_text_is_the_json_of_the_result() -> None:
    """The response body joins record texts as they are and encodes everything else."""
    text = rowsql.RawJson('{"id" : "x", "n" : 1}')
    result = {"changes": {"work_logs": {"created": [text], "updated": [{"id": "y", "d": AWKWARD}],
                                        "deleted": ["z"]}},
              "timestamp": 42, "has_more": False}
    assert json.loads(rowsql.dumps(result)) == {
        "changes": {"work_logs": {"created": [{"id": "x", "n": 1}], "updated": [{"id": "y", "d": AWKWARD}],
                                  "deleted": ["z"]}}, "timestamp": 42, "has_more": False}
    assert "中文" in rowsql.dumps(result)  # UTF-8, not \\u escapes, as every other response


def test_rows_remember_the_number_they_were_created_with(app: Flask, make: Factory, on_site) -> None:  # type: ignore[no-untyped-def]
    """created_seq (issue 13, what lets a pull's walk skip rows created after its cursor): a pushed work log
    (bulk insert) and an office work log (ORM insert) get their first change number; an update keeps it."""
    job, phone = on_site
    pushed = phone.create("work_logs", visit_id=str(job.visit.id), started_at=1_795_939_200_000,
                          description="推送的记录")
    phone.sync()
    with app.app_context(), unit_of_work():
        office = visits.add_work_log(SYSTEM, job.visit.id, {"started_at": datetime.now(UTC), "description": "办公室"})
        office_id = office.id
    with app.app_context():
        rows = {str(r.id): r for r in db.session.execute(sa.select(WorkLog.id, WorkLog.change_seq, WorkLog.created_seq)
                                                         .where(WorkLog.id.in_([uuid.UUID(pushed), office_id])))}
    assert rows[pushed].created_seq == rows[pushed].change_seq > 0
    assert rows[str(office_id)].created_seq == rows[str(office_id)].change_seq > rows[pushed].change_seq
    with app.app_context(), unit_of_work():
        visits.update_work_log(SYSTEM, office_id, {"description": "改过"})
    with app.app_context():
        row = db.session.execute(sa.select(WorkLog.change_seq, WorkLog.created_seq).where(WorkLog.id == office_id)).one()
    assert row.created_seq == rows[str(office_id)].created_seq < row.change_seq
