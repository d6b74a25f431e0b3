"""Push: offline work arrives through the service rules; replays change nothing; bad records are
quarantined, never lost; malformed pushes are refused whole."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.extensions import db
from fieldservice.visits.models import Visit, VisitStatus, WorkLog
from fieldservice.workorders.models import WorkOrder, WorkOrderStatus
from sync.models import RejectionStatus, SyncReceipt, SyncRejection
from tests.factories import Factory
from tests.records.conftest import repair_content


def hours_ago(hours: float):  # type: ignore[no-untyped-def]
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0)

DOMAIN_TABLES = ("visits", "work_logs", "work_orders", "audit_events", "sync_rejections", "sync_receipts",
                 "sync_scope")


def ms(dt) -> int:  # type: ignore[no-untyped-def]
    return int(dt.timestamp() * 1000)


def domain_counts(count_rows) -> dict[str, int]:  # type: ignore[no-untyped-def]
    counts = count_rows()
    return {k: counts[k] for k in DOMAIN_TABLES}


def test_offline_day_arrives_on_the_server(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = make.dispatched_job(start=hours_ago(4))
    phone = phone_for(job.technician)
    phone.sync()
    arrived, left = hours_ago(3.9), hours_ago(1.5)
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(arrived))
    log_id = phone.create("work_logs", visit_id=str(job.visit.id), technician_id=str(job.technician.id),
                          started_at=ms(arrived), ended_at=ms(left), description="更换主轴轴承")
    phone.create("service_records", kind="repair_record", visit_id=str(job.visit.id),  # R-REP-5, before leaving
                 content_json=json.dumps(repair_content(), ensure_ascii=False))
    phone.edit("visits", job.visit.id, status="completed", departed_at=ms(left), work_complete=True,
               notes="客户满意")
    result = phone.sync()
    assert result["accepted"] == 3 and result["rejected"] == 0
    with app.app_context():
        visit = db.session.get(Visit, job.visit.id)
        assert visit.status is VisitStatus.COMPLETED and visit.arrived_at == arrived and visit.departed_at == left
        assert visit.notes == "客户满意" and visit.work_complete is True
        assert db.session.get(WorkOrder, job.order.id).status is WorkOrderStatus.WORK_COMPLETE
        entry = db.session.get(WorkLog, uuid.UUID(log_id))
        assert entry is not None and entry.technician_id == job.technician.id and entry.description == "更换主轴轴承"
        # device facts: the phone's time for each record and the server's receive time
        receipts = db.session.scalars(sa.select(SyncReceipt)).all()
        assert sorted(r.table_name for r in receipts) == ["service_records", "visits"]
        assert all(r.device_time is not None and r.received_at is not None for r in receipts)
        assert entry.device_time is not None and entry.received_at is not None  # new logs carry them
    # a second device of the same technician sees the work
    other = phone_for(job.technician)
    other.sync()
    assert other.get("work_logs", log_id)["description"] == "更换主轴轴承"
    assert other.get("visits", job.visit.id)["status"] == "completed"


def test_replay_with_the_same_key_writes_nothing(app: Flask, make: Factory, phone_for, count_rows, client) -> None:  # type: ignore[no-untyped-def]
    job = make.dispatched_job()
    phone = phone_for(job.technician)
    phone.sync()
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(hours_ago(1)))
    key = uuid.uuid4()
    pending = {name: dict(records) for name, records in phone.tables.items()}
    first = phone.push(key=key)
    before = count_rows()
    # the answer was lost: the phone sends the same body again with the same key
    phone.tables = pending
    for record in phone.tables["visits"].values():
        record.status, record.changed = "updated", {"status", "arrived_at", "updated_at"}
    second = phone.push(key=key)
    assert second == first
    assert count_rows() == before


def test_same_key_different_body_is_409(client: FlaskClient, make: Factory) -> None:
    job = make.dispatched_job()
    auth = {"Authorization": f"Bearer {make.token(job.technician.user_id)}", "Idempotency-Key": str(uuid.uuid4())}
    body = {"changes": {"work_logs": {"created": [], "updated": [], "deleted": []}}}
    assert client.post("/api/v1/sync/push", data=json.dumps(body), headers=auth).status_code == 200
    body["changes"]["work_logs"]["deleted"] = [str(uuid.uuid4())]
    response = client.post("/api/v1/sync/push", data=json.dumps(body), headers=auth)
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "/problems/idempotency_key_reused"


def test_repush_under_a_new_key_changes_nothing(app: Flask, make: Factory, phone_for, count_rows) -> None:  # type: ignore[no-untyped-def]
    """synchronize() has no retry: after a lost answer the phone pushes the same records under a new key."""
    job = make.dispatched_job()
    phone = phone_for(job.technician)
    phone.sync()
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(hours_ago(1)))
    log_id = phone.create("work_logs", visit_id=str(job.visit.id), started_at=ms(hours_ago(1)),
                          description="检查")
    foreign = make.dispatched_job()
    bad_id = phone.create("work_logs", visit_id=str(foreign.visit.id), started_at=ms(hours_ago(1)),
                          description="不是我的")
    snapshot = {name: {k: (v.status, set(v.changed), dict(v.data)) for k, v in recs.items()}
                for name, recs in phone.tables.items()}
    phone.push()
    before = domain_counts(count_rows)
    for name, recs in snapshot.items():
        for record_id, (status, changed, data) in recs.items():
            phone.tables[name][record_id].status = status
            phone.tables[name][record_id].changed = changed
            phone.tables[name][record_id].data = data
    again = phone.push()
    assert again["accepted"] == 2 and again["rejected"] == 1
    assert domain_counts(count_rows) == before
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkLog)) == 1
        assert db.session.get(WorkLog, uuid.UUID(log_id)) is not None
        assert db.session.get(WorkLog, uuid.UUID(bad_id)) is None


def test_rule_breaking_record_is_quarantined_and_the_rest_applies(app: Flask, make: Factory, phone_for,
                                                                   headers) -> None:  # type: ignore[no-untyped-def]
    job = make.dispatched_job()
    foreign = make.dispatched_job()
    phone = phone_for(job.technician)
    phone.sync()
    good = phone.create("work_logs", visit_id=str(job.visit.id), started_at=ms(hours_ago(1)), description="ok")
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(hours_ago(1)))
    bad = phone.create("work_logs", visit_id=str(foreign.visit.id), started_at=ms(hours_ago(1)),
                       description="someone else's visit")
    # the state machine: a technician cannot close the work order
    phone.edit("work_orders", job.order.id, status="closed")
    result = phone.sync()
    assert result["accepted"] == 2 and result["rejected"] == 2
    assert set(result["rejected_ids"]["work_logs"]) == {bad}
    with app.app_context():
        assert db.session.get(WorkLog, uuid.UUID(good)) is not None
        assert db.session.get(WorkLog, uuid.UUID(bad)) is None
        assert db.session.get(WorkOrder, job.order.id).status is WorkOrderStatus.IN_PROGRESS
    # the phone learns it on the next pull
    phone.sync()
    rejected_log = phone.get("work_logs", bad)
    assert rejected_log["sync_status"] == "rejected" and "not found" in rejected_log["rejection_reason"]
    assert rejected_log["description"] == "someone else's visit"  # kept, not lost
    order = phone.get("work_orders", job.order.id)
    assert order["sync_status"] == "rejected" and "allowed" in order["rejection_reason"]
    assert order["status"] == "in_progress"
    assert phone.get("work_logs", good)["sync_status"] == "synced"
    # and the dispatcher sees the quarantine
    listed = phone.client.get("/api/v1/sync/rejections?status=open", headers=headers(role="dispatcher")).get_json()
    assert {(r["table_name"], r["record_id"]) for r in listed["items"]} == {
        ("work_logs", bad), ("work_orders", str(job.order.id))}
    rejection_id = next(r["id"] for r in listed["items"] if r["table_name"] == "work_logs")
    resolved = phone.client.post(f"/api/v1/sync/rejections/{rejection_id}/resolve", json={"note": "re-entered"},
                                 headers=headers(role="dispatcher"))
    assert resolved.status_code == 200 and resolved.get_json()["status"] == "resolved"


def test_visit_state_machine_holds_on_push(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = make.dispatched_job()
    phone = phone_for(job.technician)
    phone.sync()
    phone.edit("visits", job.visit.id, status="cancelled")
    result = phone.sync()
    assert result["rejected"] == 1
    with app.app_context():
        assert db.session.get(Visit, job.visit.id).status is VisitStatus.PLANNED
    phone.sync()
    visit = phone.get("visits", job.visit.id)
    assert visit["status"] == "planned" and visit["sync_status"] == "rejected"
    # a later accepted push clears the mark
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(hours_ago(1)))
    phone.sync()
    phone.sync()
    assert phone.get("visits", job.visit.id)["sync_status"] == "synced"
    with app.app_context():
        statuses = {r.status for r in db.session.scalars(sa.select(SyncRejection))}
    assert statuses == {RejectionStatus.SUPERSEDED}


def test_deleted_work_log_leaves_other_devices(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = make.dispatched_job()
    first, second = phone_for(job.technician), phone_for(job.technician)
    first.sync()
    first.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(hours_ago(1)))
    log_id = first.create("work_logs", visit_id=str(job.visit.id), started_at=ms(hours_ago(1)), description="x")
    first.sync()
    second.sync()
    assert log_id in second.ids("work_logs")
    first.destroy("work_logs", log_id)
    first.sync()
    second.sync()
    assert log_id not in second.ids("work_logs")
    with app.app_context():
        assert db.session.get(WorkLog, uuid.UUID(log_id)) is None


def test_repush_of_a_merged_record_changes_nothing(app: Flask, make: Factory, phone_for, count_rows) -> None:  # type: ignore[no-untyped-def]
    """A field the technician does not own is kept aside and the record re-sent once, not on every re-push."""
    job = make.dispatched_job()
    phone = phone_for(job.technician)
    phone.sync()
    phone.edit("visits", job.visit.id, notes="gate code 1234", scheduled_start=ms(hours_ago(30)))
    record = phone.tables["visits"][str(job.visit.id)]
    pending = (record.status, set(record.changed), dict(record.data))
    assert phone.push()["merged"] == 1
    with app.app_context():
        seq_after_first = db.session.get(Visit, job.visit.id).change_seq
    before = domain_counts(count_rows)
    record.status, record.changed, record.data = pending[0], set(pending[1]), dict(pending[2])
    assert phone.push()["merged"] == 1  # same answer...
    assert domain_counts(count_rows) == before  # ...and nothing written
    with app.app_context():
        assert db.session.get(Visit, job.visit.id).change_seq == seq_after_first
