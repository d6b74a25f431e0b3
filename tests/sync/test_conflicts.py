"""Conflicts by field ownership (technician: work facts; dispatcher: schedule and assignee), the
reassignment hand-over, and untrustworthy phone clocks."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.visits import service as visits
from fieldservice.visits.models import Visit, VisitHandover, VisitStatus, WorkLog
from sync.models import RejectionKind, SyncRejection
from tests.factories import Factory


def ago(hours: float) -> datetime:
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def server_visit(app: Flask, visit_id):  # type: ignore[no-untyped-def]
    with app.app_context():
        visit = db.session.get(Visit, visit_id)
        db.session.expunge(visit)
        return visit


def test_ownership_merge_field_by_field(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    """The phone pulled, then the dispatcher moved the visit and recorded the customer's confirmation;
    offline, the technician edited notes, arrival, and (a lying phone) the schedule and assignee."""
    start = ago(2)
    job = make.dispatched_job(start=start)
    other_tech = make.technician(certified_for=[job.line.id])
    phone = phone_for(job.technician)
    phone.sync()
    new_start = start + timedelta(minutes=30)
    with app.app_context(), unit_of_work():
        visits.reschedule_visit(SYSTEM, job.visit.id, {"scheduled_start": new_start,
                                                       "scheduled_end": new_start + timedelta(hours=2)})
        visits.confirm_with_customer(SYSTEM, job.visit.id, note="dispatcher called 陈静")
    arrived = ago(1)
    phone.edit("visits", job.visit.id, notes="门禁卡在前台", status="in_progress", arrived_at=ms(arrived),
               scheduled_start=ms(start - timedelta(hours=5)), technician_id=str(other_tech.id))
    result = phone.push()  # pushes before pulling the dispatcher's change (stale base)
    assert result["merged"] == 1 and result["rejected"] == 0

    visit = server_visit(app, job.visit.id)
    outcome = {
        "notes (technician, changed on phone)": visit.notes,
        "status (technician)": visit.status,
        "arrived_at (technician)": visit.arrived_at,
        "scheduled_start (dispatcher, changed on both)": visit.scheduled_start,
        "technician_id (dispatcher, changed on phone)": visit.technician_id,
        "customer_confirmed (changed on server only)": visit.customer_confirmed,
        "confirmation_note (changed on server only)": visit.confirmation_note,
    }
    assert outcome == {
        "notes (technician, changed on phone)": "门禁卡在前台",
        "status (technician)": VisitStatus.IN_PROGRESS,
        "arrived_at (technician)": arrived,
        "scheduled_start (dispatcher, changed on both)": new_start,
        "technician_id (dispatcher, changed on phone)": job.technician.id,
        "customer_confirmed (changed on server only)": True,
        "confirmation_note (changed on server only)": "dispatcher called 陈静",
    }
    # the phone's values for fields it does not own are kept, not dropped
    with app.app_context():
        kept = db.session.scalars(sa.select(SyncRejection)).one()
        assert kept.kind is RejectionKind.OVERRIDDEN
        assert set(kept.payload) >= {"scheduled_start", "technician_id"}
        assert "scheduled_start" in kept.reason and "technician_id" in kept.reason
    # and the phone converges on the next sync
    phone.sync()
    local = phone.get("visits", job.visit.id)
    assert local["scheduled_start"] == ms(new_start)
    assert local["technician_id"] == str(job.technician.id)
    assert local["notes"] == "门禁卡在前台" and local["customer_confirmed"] is True
    assert local["sync_status"] == "merged"


def test_technician_owned_field_wins_over_newer_server_change(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = make.dispatched_job(start=ago(3))
    phone = phone_for(job.technician)
    phone.sync()
    with app.app_context(), unit_of_work():
        visits.record_arrival(SYSTEM, job.visit.id, arrived_at=ago(2.5))  # dispatcher records it from a call
    arrived = ago(2.4)                      # one instant: two ago() calls can fall either side of a second
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(arrived))
    phone.push()
    assert server_visit(app, job.visit.id).arrived_at == arrived


def test_unchanged_columns_of_a_stale_record_are_not_applied(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    """Only the columns in `_changed` are the technician's edits; the rest of the stale record is ignored."""
    job = make.dispatched_job(start=ago(3))
    phone = phone_for(job.technician)
    phone.sync()
    with app.app_context(), unit_of_work():
        visits.confirm_with_customer(SYSTEM, job.visit.id, note="confirmed by the office")
    phone.edit("visits", job.visit.id, notes="bring ladder")  # the record still says customer_confirmed=false
    result = phone.push()
    assert result["accepted"] == 1 and result["merged"] == 0
    visit = server_visit(app, job.visit.id)
    assert visit.customer_confirmed is True and visit.notes == "bring ladder"


def test_reassignment_keeps_offline_work_then_leaves_the_old_phone(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    """Offline edits + reassignment + old phone syncs -> edits on the server; only a later pull deletes."""
    job = make.dispatched_job(start=ago(2))
    new_tech = make.technician(certified_for=[job.line.id])
    old_phone, new_phone = phone_for(job.technician), phone_for(new_tech)
    old_phone.sync()
    new_phone.sync()
    assert str(job.visit.id) in old_phone.ids("visits") and not new_phone.ids("visits")

    # offline on the old phone: a work log and a note, and a status change
    log_id = old_phone.create("work_logs", visit_id=str(job.visit.id), started_at=ms(ago(1.5)),
                              description="已检查压缩机 checked the compressor")
    old_phone.edit("visits", job.visit.id, notes="需要更换电容 capacitor needed", status="in_progress",
                   arrived_at=ms(ago(1.6)))
    # meanwhile the dispatcher gives the visit to someone else
    with app.app_context(), unit_of_work():
        visits.assign_technician(SYSTEM, job.visit.id, new_tech.id)

    # 1st sync of the old phone: the visit comes as updated and read-only, NOT deleted; then it pushes
    merged, cursor = old_phone.pull_all(unpushed=old_phone.has_unpushed())
    assert str(job.visit.id) not in merged["visits"]["deleted"]
    pulled = merged["visits"]["updated"][str(job.visit.id)]
    assert pulled["is_read_only"] is True and pulled["technician_id"] == str(new_tech.id)
    old_phone.apply(merged, cursor)
    assert old_phone.get("work_logs", log_id) is not None  # the unpushed work survived the pull
    result = old_phone.push()
    assert (result["accepted"], result["merged"], result["rejected"]) == (1, 1, 0)  # the log; the visit: note only
    with app.app_context():
        entry = db.session.get(WorkLog, uuid.UUID(log_id))
        assert entry is not None and entry.technician_id == job.technician.id
        visit = db.session.get(Visit, job.visit.id)
        assert visit.notes == "需要更换电容 capacitor needed"   # delivered
        assert visit.status is VisitStatus.PLANNED               # the arrival is no longer theirs to report
        kept = db.session.scalars(sa.select(SyncRejection)).one()  # the arrival is kept aside, not lost
        assert kept.kind is RejectionKind.OVERRIDDEN and kept.payload["status"] == "in_progress"
        assert "arrived_at" in kept.reason and "status" in kept.reason

    # 2nd sync: now the visit and what only it needed leave the old phone
    old_phone.sync()
    assert str(job.visit.id) not in old_phone.ids("visits")
    assert str(job.order.id) not in old_phone.ids("work_orders")
    assert log_id not in old_phone.ids("work_logs")
    with app.app_context():
        assert db.session.scalars(sa.select(VisitHandover)).one().completed_at is not None

    # the new technician has the visit and the old technician's log
    new_phone.sync()
    assert new_phone.get("visits", job.visit.id)["is_read_only"] is False
    assert log_id in new_phone.ids("work_logs")


def test_reassigned_visit_stays_while_the_phone_has_unpushed_work(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = make.dispatched_job(start=ago(2))
    new_tech = make.technician(certified_for=[job.line.id])
    phone = phone_for(job.technician)
    phone.sync()
    with app.app_context(), unit_of_work():
        visits.assign_technician(SYSTEM, job.visit.id, new_tech.id)
    phone.sync()  # delivered, read-only
    # the push of the next sync fails (no signal): the phone still holds an unpushed edit
    phone.create("work_logs", visit_id=str(job.visit.id), started_at=ms(ago(1)), description="late note")
    for _ in range(2):
        merged, cursor = phone.pull_all(unpushed=True)
        phone.apply(merged, cursor)
        assert str(job.visit.id) in phone.ids("visits")
    phone.sync()  # pushes the log, still reports unpushed=true on the way in
    phone.sync()
    assert str(job.visit.id) not in phone.ids("visits")


def test_future_arrival_from_a_wrong_clock_is_flagged(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = make.dispatched_job(start=ago(1))
    phone = phone_for(job.technician)
    phone.sync()
    wrong = datetime.now(UTC) + timedelta(hours=3)
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(wrong))
    phone.push()
    visit = server_visit(app, job.visit.id)
    assert visit.arrived_at < wrong - timedelta(hours=2)          # not trusted
    assert visit.time_flags and visit.time_flags[0]["field"] == "arrived_at"
    assert "future" in visit.time_flags[0]["problem"]
    assert visit.time_flags[0]["device_value"].startswith(wrong.isoformat()[:16])  # kept as data
