"""Batch audit events (`audit.service.record_many`, a push's "work_log.create_many") are handed to the hash chain
whole and inserted at commit already linked (fieldservice/integrity/links.py `append_at_commit`): one INSERT,
no read back and no UPDATE. The chain stays whole (`flask verify-archive`), also with writers committing at
once; an event recorded inside a savepoint that is rolled back is never written."""
from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from fieldservice.audit import service as audit_service
from fieldservice.audit.models import AuditEvent
from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.visits import service as visits
from tests.factories import Factory
from tests.statements import statements


def _verified(app: Flask) -> str:
    result = app.test_cli_runner().invoke(args=["verify-archive", "--no-progress"])
    assert result.exit_code == 0, result.output
    return result.stdout


def _push_logs(app: Flask, make: Factory, count: int) -> tuple[Any, list[str], list[str]]:
    """A technician on site pushes `count` new work logs; returns the job, the ids and the statements sent."""
    now = datetime.now(UTC).replace(microsecond=0)
    job = make.dispatched_job(start=now - timedelta(hours=2))
    with app.app_context(), unit_of_work():
        visits.record_arrival(SYSTEM, job.visit.id)
    stamp = int(now.timestamp() * 1000)
    ids = [str(uuid.uuid4()) for _ in range(count)]
    records = [{"id": i, "visit_id": str(job.visit.id), "started_at": stamp - 60_000, "ended_at": None,
                "description": f"批量日志 {n}", "created_at": stamp, "updated_at": stamp, "_status": "created",
                "_changed": ""} for n, i in enumerate(ids)]
    client = app.test_client()
    auth = {"Authorization": f"Bearer {make.token(job.technician.user_id)}"}
    with statements(app) as sent:
        response = client.post("/api/v1/sync/push", json={"changes": {"work_logs": {
            "created": records, "updated": [], "deleted": []}}}, headers={**auth, "Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["accepted"] == count
    return job, ids, sent


def test_a_pushs_batch_event_is_inserted_linked_in_one_statement(app: Flask, make: Factory) -> None:
    job, ids, sent = _push_logs(app, make, 40)
    audit_writes = [s for s in sent if "audit_events" in s and s.lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert len(audit_writes) == 1 and audit_writes[0].lstrip().upper().startswith("INSERT"), audit_writes
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == "work_log.create_many", AuditEvent.entity_id == job.visit.id)).one()
        assert event.details == {"work_log_ids": ids}
        assert event.chain_seq is not None and event.hash and event.prev_hash
    assert "audit_events" in _verified(app)


def test_an_event_recorded_in_a_rolled_back_savepoint_is_never_written(app: Flask, make: Factory) -> None:
    kept, dropped = uuid.uuid4(), uuid.uuid4()
    with app.app_context(), unit_of_work():
        audit_service.record_many(SYSTEM, "test.batch", "visits", [(kept, {"n": 1})])
        savepoint = db.session.begin_nested()
        audit_service.record_many(SYSTEM, "test.batch", "visits", [(dropped, {"n": 2})])
        inner = db.session.begin_nested()  # nested in the rolled-back one: goes with it
        audit_service.record_many(SYSTEM, "test.batch", "visits", [(dropped, {"n": 3})])
        inner.commit()
        savepoint.rollback()
        released = db.session.begin_nested()  # a released savepoint keeps its events
        audit_service.record_many(SYSTEM, "test.batch", "visits", [(kept, {"n": 4})])
        released.commit()
        # not in the database before the commit
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "test.batch")) == 0
    with app.app_context():
        rows = db.session.execute(sa.select(AuditEvent.entity_id, AuditEvent.details, AuditEvent.chain_seq).where(
            AuditEvent.action == "test.batch").order_by(AuditEvent.chain_seq)).all()
        assert [(r.entity_id, r.details) for r in rows] == [(kept, {"n": 1}), (kept, {"n": 4})]
        assert rows[1].chain_seq == rows[0].chain_seq + 1
    with app.app_context(), unit_of_work():
        audit_service.record_many(SYSTEM, "test.batch", "visits", [(dropped, {"n": 5})])
        db.session.rollback()  # the whole transaction: nothing of it
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.entity_id == dropped)) == 0
    _verified(app)


@pytest.mark.postgres
def test_batch_events_of_writers_committing_at_once_make_one_chain(app: Flask, make: Factory) -> None:
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            with app.app_context(), unit_of_work():
                barrier.wait()
                audit_service.record_many(SYSTEM, "test.concurrent", "visits",
                                          [(uuid.uuid4(), {"writer": i, "n": n}) for n in range(3)])
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    with app.app_context():
        seqs = sorted(db.session.scalars(sa.select(AuditEvent.chain_seq).where(
            AuditEvent.action == "test.concurrent")))
    assert len(seqs) == 12 and None not in seqs
    _verified(app)
