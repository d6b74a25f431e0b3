"""A text longer than its column, pushed from a phone, is quarantined with the reason; the rest of the push
applies (docs/sync.md "Push": rule violations in a well-formed push are not errors). Found by
tests/sync/test_fuzz_push.py: the push skips the API's schemas, and on PostgreSQL the value reached the
database and refused the whole push (422 unstorable_value), so the phone could never sync again."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask

from fieldservice.commerce.models import VisitCharge
from fieldservice.extensions import db
from fieldservice.visits.models import Visit, WorkLog
from sync.models import SyncRejection
from tests.factories import Factory


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def test_overlong_confirmation_note_and_charge_code_are_quarantined(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    job = make.dispatched_job(start=now - timedelta(hours=1))
    make.warranty_repair(job.order.id)  # free repair: a charge needs no consent (R-REP-4), only a storable code
    planned = make.dispatched_job(start=now + timedelta(days=1), technician=job.technician, confirmed=False)
    phone = phone_for(job.technician)
    phone.sync()
    phone.edit("visits", planned.visit.id, customer_confirmed=True, customer_confirmed_at=ms(now),
               confirmation_note="长" * 501)
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(now - timedelta(minutes=30)))
    charge_id = phone.create("visit_charges", visit_id=str(job.visit.id), kind="labour", code="L" * 81,
                             quantity_centi=100, description="d" * 501)
    result = phone.sync()
    assert result["accepted"] == 1 and result["rejected_ids"] == {"visits": [str(planned.visit.id)],
                                                                   "visit_charges": [charge_id]}
    with app.app_context():
        assert db.session.get(Visit, planned.visit.id).customer_confirmed is False
        assert db.session.get(Visit, job.visit.id).arrived_at is not None
        assert db.session.get(VisitCharge, uuid.UUID(charge_id)) is None
        reasons = {r.table_name: r.reason for r in db.session.scalars(sa.select(SyncRejection))}
        assert "confirmation_note" in reasons["visits"]
        assert "code" in reasons["visit_charges"] and "description" in reasons["visit_charges"]


def test_unknown_visit_status_is_quarantined_not_a_500(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    """Found by tests/sync/test_fuzz_push.py: a visits record with status "accepted" (not a visit status)
    raised ValueError in visits.apply_field_changes and the push answered 500."""
    job = make.dispatched_job(start=datetime.now(UTC) - timedelta(hours=1))
    phone = phone_for(job.technician)
    phone.sync()
    phone.edit("visits", job.visit.id, status="accepted", notes="到了 here")
    result = phone.sync()
    assert result["rejected_ids"] == {"visits": [str(job.visit.id)]}
    with app.app_context():
        rejection = db.session.scalars(sa.select(SyncRejection)).one()
        assert rejection.reason_code == "validation_failed" and "accepted" in rejection.reason
        assert db.session.get(Visit, job.visit.id).notes is None  # the record is refused whole, kept in quarantine


def test_work_log_edit_that_clears_a_required_field_is_quarantined(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    """Found by tests/sync/test_fuzz_push.py (PostgreSQL run): an updated work_logs record of the technician's
    own log with started_at null reached the NOT NULL column; the IntegrityError refused the whole push (409
    integrity_conflict) instead of quarantining the record."""
    now = datetime.now(UTC)
    job = make.dispatched_job(start=now - timedelta(hours=1))
    phone = phone_for(job.technician)
    phone.sync()
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(now - timedelta(minutes=30)))
    log_id = phone.create("work_logs", visit_id=str(job.visit.id), started_at=ms(now - timedelta(minutes=20)),
                          description="检查 checked")
    assert phone.sync()["accepted"] == 2
    phone.edit("work_logs", log_id, started_at=None)
    other = phone.create("work_logs", visit_id=str(job.visit.id), started_at=ms(now - timedelta(minutes=10)),
                         description="")  # an empty description: refused on create already
    phone.edit("visits", job.visit.id, notes="门禁 gate code 1234")
    result = phone.sync()
    assert result["accepted"] == 1 and sorted(result["rejected_ids"]["work_logs"]) == sorted([log_id, other])
    phone.edit("work_logs", log_id, description="")
    result = phone.sync()
    assert result["rejected_ids"] == {"work_logs": [log_id]}
    with app.app_context():
        entry = db.session.get(WorkLog, uuid.UUID(log_id))
        assert entry.started_at is not None and entry.description == "检查 checked"
        assert db.session.get(Visit, job.visit.id).notes == "门禁 gate code 1234"
