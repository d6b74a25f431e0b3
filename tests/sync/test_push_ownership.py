"""Another technician's objects are never changed by a push (every object access checked against role and
ownership, STYLE.md; docs/sync.md "Push"), even by a record that asks for nothing the pusher owns.
Found by tests/sync/test_fuzz_push.py."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask

from fieldservice.extensions import db
from fieldservice.visits.models import WorkLog
from fieldservice.workorders.models import WorkOrder
from sync.models import RejectionKind, SyncRejection
from tests.factories import Factory


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _row(app: Flask, model: type, id_: Any) -> tuple[Any, ...]:
    with app.app_context():
        row = db.session.get(model, uuid.UUID(str(id_)))
        return row.change_seq, getattr(row, "version", None), row.updated_at


def test_a_server_owned_field_of_someone_elses_work_order_or_log_is_refused_not_merged(
        app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    theirs = make.dispatched_job(start=now - timedelta(hours=1))
    mine = make.dispatched_job(start=now - timedelta(hours=1))
    their_phone = phone_for(theirs.technician)
    their_phone.sync()
    their_phone.edit("visits", theirs.visit.id, status="in_progress", arrived_at=ms(now - timedelta(minutes=30)))
    their_log = their_phone.create("work_logs", visit_id=str(theirs.visit.id),
                                   started_at=ms(now - timedelta(minutes=20)), description="他的 theirs")
    assert their_phone.sync()["accepted"] == 2
    order_before, log_before = _row(app, WorkOrder, theirs.order.id), _row(app, WorkLog, their_log)

    phone = phone_for(mine.technician)
    phone.sync()
    changes = {
        # a dispatcher-owned field that differs: for the owner this merges; for anyone else it is not found
        "work_orders": {"created": [], "deleted": [], "updated": [
            {"id": str(theirs.order.id), "priority": "urgent", "status": "in_progress", "_status": "updated",
             "_changed": "priority,status"}]},
        # a server-owned field of someone else's log, its own fields unchanged
        "work_logs": {"created": [], "deleted": [], "updated": [
            {"id": their_log, "technician_id": str(mine.technician.id), "_status": "updated",
             "_changed": "technician_id"}]},
    }
    response = phone.client.post("/api/v1/sync/push", json={"changes": changes},
                                 headers={**phone.auth, "Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["merged"] == 0 and answer["accepted"] == 0
    assert answer["rejected_ids"] == {"work_orders": [str(theirs.order.id)], "work_logs": [their_log]}
    assert _row(app, WorkOrder, theirs.order.id) == order_before
    assert _row(app, WorkLog, their_log) == log_before
    with app.app_context():
        kept = db.session.scalars(sa.select(SyncRejection).where(
            SyncRejection.technician_id == mine.technician.id)).all()
        assert {(r.table_name, r.kind, r.reason_code) for r in kept} == {
            ("work_orders", RejectionKind.REJECTED, "not_found"), ("work_logs", RejectionKind.REJECTED, "not_found")}


def test_someone_elses_ledger_line_or_charge_is_not_found_not_accepted(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    """A re-push of another technician's stock movement or charge, unchanged, was answered "accepted" (the
    record counted as applied, its existence confirmed) without any ownership check. Now: not_found."""
    from fieldservice.auth.service import SYSTEM
    from fieldservice.db import unit_of_work
    from fieldservice.parts import service as parts
    from fieldservice.parts.models import LocationKind

    now = datetime.now(UTC)
    theirs = make.dispatched_job(start=now - timedelta(hours=1))
    make.warranty_repair(theirs.order.id)
    with app.app_context(), unit_of_work():
        van = parts.create_location(SYSTEM, {"code": "VAN-T", "name": "车", "kind": LocationKind.VAN,
                                             "technician_id": theirs.technician.id})
        part = parts.create_part(SYSTEM, {"part_number": "G-T", "name": "滤芯 filter"})
        parts.receive_stock(SYSTEM, {"part_id": part.id, "location_id": van.id, "quantity": 2})
        part_id = part.id
    their_phone = phone_for(theirs.technician)
    their_phone.sync()
    their_phone.edit("visits", theirs.visit.id, status="in_progress", arrived_at=ms(now - timedelta(minutes=30)))
    movement = their_phone.create("stock_movements", part_id=str(part_id), quantity=-1,
                                  work_order_id=str(theirs.order.id), visit_id=str(theirs.visit.id),
                                  occurred_at=ms(now))
    charge = their_phone.create("visit_charges", visit_id=str(theirs.visit.id), kind="labour", code="L-1",
                                quantity_centi=100)
    assert their_phone.sync()["accepted"] == 3
    sent = {"stock_movements": dict(their_phone.get("stock_movements", movement)),
            "visit_charges": dict(their_phone.get("visit_charges", charge))}

    mine = make.dispatched_job(start=now - timedelta(hours=1))
    phone = phone_for(mine.technician)
    phone.sync()
    changes = {table: {"created": [{**record, "_status": "created", "_changed": ""}], "updated": [], "deleted": []}
               for table, record in sent.items()}
    response = phone.client.post("/api/v1/sync/push", json={"changes": changes},
                                 headers={**phone.auth, "Idempotency-Key": str(uuid.uuid4())})
    answer = response.get_json()
    assert answer["accepted"] == 0 and answer["rejected_ids"] == {"stock_movements": [movement],
                                                                  "visit_charges": [charge]}, answer
    with app.app_context():
        codes = {r.reason_code for r in db.session.scalars(sa.select(SyncRejection).where(
            SyncRejection.technician_id == mine.technician.id))}
        assert codes == {"not_found"}
    # their own re-push of the same lines is still an unchanged replay
    again = their_phone.client.post("/api/v1/sync/push", json={"changes": changes},
                                    headers={**their_phone.auth, "Idempotency-Key": str(uuid.uuid4())}).get_json()
    assert again["accepted"] == 2 and again["rejected"] == 0, again


def test_someone_elses_signoff_id_is_not_found_not_a_replay(app: Flask, client, make: Factory,  # type: ignore[no-untyped-def]
                                                            phone_for) -> None:
    """A phone that re-sends another technician's sign-off (same id, record and hash) learns nothing: the
    replay answer ("accepted", nothing written) is only for the one who captured it or works the visit."""
    from tests.sync.test_records_push import _complete, _draft, _hash, _job, _signoff

    theirs, mine = _job(make), _job(make)
    their_phone = phone_for(theirs.technician)
    their_phone.sync()
    record_id = _draft(their_phone, theirs)
    _complete(their_phone, theirs)
    their_phone.sync()
    sha = _hash(client, their_phone, record_id)
    signoff_id = _signoff(their_phone, record_id, sha)
    assert their_phone.sync()["accepted"] == 1
    signed = their_phone.get("signoffs", signoff_id)

    phone = phone_for(mine.technician)
    phone.sync()
    copy = {k: v for k, v in signed.items() if not k.startswith("_") and k not in ("sync_status", "rejection_reason")}
    changes = {"signoffs": {"created": [copy], "updated": [], "deleted": []}}
    response = phone.client.post("/api/v1/sync/push", json={"changes": changes},
                                 headers={**phone.auth, "Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["accepted"] == 0 and answer["rejected_ids"] == {"signoffs": [signoff_id]}
    with app.app_context():
        rejection = db.session.scalar(sa.select(SyncRejection).where(SyncRejection.record_id == signoff_id))
        assert rejection is not None and rejection.kind is RejectionKind.REJECTED and rejection.reason_code == "not_found"
    # the one who captured it still gets the replay answer
    again = their_phone.client.post("/api/v1/sync/push", json={"changes": changes},
                                    headers={**their_phone.auth, "Idempotency-Key": str(uuid.uuid4())})
    assert again.status_code == 200 and again.get_json()["accepted"] == 1, again.get_data(as_text=True)
