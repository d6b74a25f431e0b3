"""Issue 12: rules that held on the main path and failed on a second one, each tested on the path where it
was seen (JSON API transitions, sync push, sign-offs). Every refusal is the lifecycle gate's 409
`conditions_not_met` naming the unmet conditions with their rule ids, and nothing changes."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.audit.models import AuditEvent
from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.followups.models import FollowUpTask
from fieldservice.lifecycle.gate import ConditionsNotMet
from fieldservice.visits import service as visits
from fieldservice.visits.models import Visit
from tests.factories import Factory
from tests.lifecycle.conftest import (
    ago,
    arrive,
    canonical_hash,
    depart,
    dispatcher,
    ms,
    office,
    open_rejections,
    pushed_signoff,
    record_status,
    revoke_certifications,
    status,
    transition,
)
from tests.problems import gate_refusal, problem, unmet_codes
from tests.records.conftest import (
    ACCEPTED,
    create_record,
    finish_visit,
    installation_content,
    maintenance_content,
    repair_content,
    sheet_for,
    sign,
)

MISMATCH = [{"item": "model", "expected": "XR-200", "found": "XR-100"}]


def followups(app: Flask, order_id: Any) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(FollowUpTask)
                                 .where(FollowUpTask.work_order_id == order_id)) or 0


# ---- R-INS-3 / R-SIG-2: the transition bypass --------------------------------------------------------

def test_r_ins_3_transition_to_work_complete_with_an_open_mismatch_is_refused(
        app: Flask, client: FlaskClient, job_of, count_rows) -> None:  # type: ignore[no-untyped-def]
    """Seen: departure refused for the mismatch, but POST /transitions {"to": "work_complete"} succeeded and the
    customer's acceptance was then signed (order signed, sheet a draft, unit not installed, follow-ups made)."""
    job = job_of("installation")
    sheet = create_record(client, job, "installation_sheet", installation_content(contract_check=MISMATCH))
    acceptance = create_record(client, job, "work_order_acceptance", ACCEPTED)
    assert arrive(client, job).status_code == 200
    gate_refusal(depart(client, job), "contract_mismatch")
    before = count_rows()
    body = gate_refusal(transition(client, job, "work_complete"), "visit_in_progress", "work_not_reported_complete",
                        "contract_mismatch")
    assert {c["rule"] for c in body["unmet_conditions"]} == {"R-SIG-2", "R-INS-3"}
    assert count_rows() == before
    problem(sign(client, job, acceptance["id"]), 409, "work_not_complete")
    assert status(client, job) == ("in_progress", "in_progress")
    assert record_status(app, sheet["id"]) == record_status(app, acceptance["id"]) == "draft"
    assert followups(app, job.order.id) == 0


def test_r_ins_3_pushed_work_order_status_and_acceptance_are_quarantined(
        app: Flask, client: FlaskClient, job_of, phone_for) -> None:  # type: ignore[no-untyped-def]
    """Seen through sync: a pushed `work_orders.status` and a pushed acceptance sign-off were accepted."""
    job = job_of("installation")
    phone = phone_for(job.technician)
    phone.sync()
    phone.create("service_records", kind="installation_sheet", visit_id=str(job.visit.id),
                 content_json=json.dumps(installation_content(contract_check=MISMATCH), ensure_ascii=False))
    acceptance_id = phone.create("service_records", kind="work_order_acceptance", visit_id=str(job.visit.id),
                                 content_json=json.dumps(ACCEPTED, ensure_ascii=False))
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(ago(20)))
    assert phone.sync()["rejected"] == 0
    phone.edit("work_orders", job.order.id, status="work_complete")
    signoff_id = pushed_signoff(phone, acceptance_id, canonical_hash(client, phone.auth, acceptance_id))
    answer = phone.sync()
    assert answer["rejected_ids"] == {"work_orders": [str(job.order.id)], "signoffs": [signoff_id]}
    [order_refusal] = open_rejections(app, "work_orders")
    assert order_refusal.reason_code == "conditions_not_met"
    assert "contract_mismatch" in [c["code"] for c in order_refusal.unmet_conditions]
    [signoff_refusal] = open_rejections(app, "signoffs")
    assert [c["code"] for c in signoff_refusal.unmet_conditions] == ["work_not_complete", "visit_in_progress"]
    assert status(client, job) == ("in_progress", "in_progress")
    assert record_status(app, acceptance_id) == "draft"


# ---- R-TEC-1: a certification revoked after assignment ----------------------------------------------

def test_r_tec_1_revoked_before_the_visit_refuses_the_arrival_on_the_api_and_the_phone(
        app: Flask, client: FlaskClient, make: Factory, job_of, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = job_of("repair")
    revoke_certifications(client, make, job.technician.id)
    body = gate_refusal(arrive(client, job), "technician_not_certified")
    assert body["unmet_conditions"][0]["rule"] == "R-TEC-1"
    phone = phone_for(job.technician)
    phone.sync()
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(ago(5)))
    assert phone.sync()["rejected_ids"] == {"visits": [str(job.visit.id)]}
    assert [c["code"] for c in open_rejections(app, "visits")[0].unmet_conditions] == ["technician_not_certified"]
    assert status(client, job) == ("dispatched", "planned")


def test_r_tec_1_revoked_during_the_visit_refuses_the_completion(client: FlaskClient, make: Factory,
                                                                 job_of) -> None:  # type: ignore[no-untyped-def]
    job = job_of("repair")
    create_record(client, job, "repair_record", repair_content())
    assert arrive(client, job).status_code == 200
    revoke_certifications(client, make, job.technician.id)
    gate_refusal(depart(client, job), "technician_not_certified")
    assert status(client, job) == ("in_progress", "in_progress")
    # the visit can still end without the work complete: another (certified) technician finishes the job
    assert depart(client, job, work_complete=False).status_code == 200
    assert status(client, job) == ("new", "completed")


# ---- R-SIG-2: signing only after the work ------------------------------------------------------------

def test_r_sig_2_corrected_record_and_survey_are_not_signed_during_rework(
        app: Flask, client: FlaskClient, job_of) -> None:  # type: ignore[no-untyped-def]
    """Seen: a corrected repair record and a satisfaction survey were signed while the job was in rework."""
    job = job_of("repair")
    rejection = create_record(client, job, "work_order_acceptance",
                              {"outcome": "rejected", "rejection_reason": "还在漏水 still leaking"})
    record = finish_visit(client, job)
    assert record is not None and sign(client, job, record["id"]).status_code == 201
    assert sign(client, job, rejection["id"]).status_code == 201
    assert status(client, job)[0] == "rework"
    corrected = client.post(f"/api/v1/records/{record['id']}/corrections", headers=job.auth,
                            json={"content": repair_content(work_done="更换密封圈"), "reason": "返工 rework"})
    assert corrected.status_code == 201, corrected.get_data(as_text=True)
    survey = create_record(client, job, "satisfaction_survey",
                           {"ratings": {"response_time": 2, "attitude": 3, "quality": 1, "overall": 2}})
    for record_id in (corrected.get_json()["id"], survey["id"]):
        body = problem(sign(client, job, record_id), 409, "work_not_complete")
        assert body["unmet_conditions"][0]["details"]["work_order_status"] == "rework"
        assert record_status(app, record_id) == "draft"


# ---- R-REP-5, R-MNT-3, R-INS-6, R-FUP-2: the job's records ------------------------------------------

def test_r_rep_5_r_fup_2_repair_accepted_and_closed_only_with_its_records(
        app: Flask, client: FlaskClient, make: Factory, job_of) -> None:  # type: ignore[no-untyped-def]
    """Seen: a repair order accepted and closed without a repair record."""
    job = job_of("repair")
    acceptance = create_record(client, job, "work_order_acceptance", ACCEPTED)
    assert arrive(client, job).status_code == 200
    body = gate_refusal(depart(client, job), "record_missing")
    assert body["unmet_conditions"][0]["rule"] == "R-REP-5"
    record = create_record(client, job, "repair_record", repair_content())
    assert depart(client, job).status_code == 200
    gate_refusal(sign(client, job, acceptance["id"]), "record_unsigned")
    assert sign(client, job, record["id"]).status_code == 201
    assert sign(client, job, acceptance["id"]).status_code == 201
    assert status(client, job)[0] == "signed"
    # R-FUP-2: closing needs the customer's satisfaction survey...
    body = gate_refusal(transition(client, job, "closed", office(make)), "survey_missing")
    assert body["unmet_conditions"][0]["overridable_by"] == ["admin", "dispatcher", "office"]
    # ...or the office's override with the customer's refusal as the reason (audited); not a technician's
    problem(transition(client, job, "closed", job.auth,
                       overrides=[{"condition": "survey_missing", "reason": "x"}]), 403, "forbidden")
    problem(transition(client, job, "closed", office(make), overrides=[{"condition": "survey_missing", "reason": " "}]),
            422, "validation_failed")
    done = transition(client, job, "closed", office(make),
                      overrides=[{"condition": "survey_missing", "reason": "客户拒绝填写问卷 declined the survey"}])
    assert done.status_code == 200 and done.get_json()["status"] == "closed"
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.entity_id == job.order.id, AuditEvent.action == "work_order.status")
            .order_by(AuditEvent.at.desc()).limit(1)).one()
        assert event.details["to"] == "closed"
        assert event.details["overrides"] == {"survey_missing": "客户拒绝填写问卷 declined the survey"}


def test_r_fup_2_closing_with_the_signed_survey_needs_no_override(client: FlaskClient, make: Factory,
                                                                  job_of) -> None:  # type: ignore[no-untyped-def]
    job = job_of("repair")
    acceptance = create_record(client, job, "work_order_acceptance", ACCEPTED)
    survey = create_record(client, job, "satisfaction_survey",
                           {"ratings": {"response_time": 5, "attitude": 5, "quality": 4, "overall": 5}})
    record = finish_visit(client, job)
    assert record is not None
    for record_id in (record["id"], acceptance["id"], survey["id"]):
        assert sign(client, job, record_id).status_code == 201
    assert transition(client, job, "closed", office(make)).status_code == 200


def test_r_mnt_3_maintenance_order_needs_its_signed_record(client: FlaskClient, job_of) -> None:  # type: ignore[no-untyped-def]
    """Seen: a maintenance order accepted without a maintenance record."""
    job = job_of("maintenance")
    acceptance = create_record(client, job, "work_order_acceptance", ACCEPTED)
    assert arrive(client, job).status_code == 200
    assert gate_refusal(depart(client, job), "record_missing")["unmet_conditions"][0]["rule"] == "R-MNT-3"
    record = create_record(client, job, "maintenance_record", maintenance_content())
    assert depart(client, job).status_code == 200
    assert gate_refusal(sign(client, job, acceptance["id"]), "record_unsigned")["unmet_conditions"][0]["rule"] == "R-MNT-3"
    assert sign(client, job, record["id"]).status_code == 201
    assert sign(client, job, acceptance["id"]).status_code == 201


def test_r_ins_6_installation_is_signed_only_with_its_signed_sheet(app: Flask, client: FlaskClient, make: Factory,
                                                                   job_of) -> None:  # type: ignore[no-untyped-def]
    """Seen: an installation order signed without a signed installation sheet (the unit never entered the
    archive)."""
    job = job_of("installation")
    acceptance = create_record(client, job, "work_order_acceptance", ACCEPTED)
    assert arrive(client, job).status_code == 200
    assert gate_refusal(depart(client, job), "record_missing")["unmet_conditions"][0]["rule"] == "R-INS-6"
    sheet = create_record(client, job, "installation_sheet", sheet_for(job))
    assert depart(client, job).status_code == 200
    assert gate_refusal(sign(client, job, acceptance["id"]), "record_unsigned")["unmet_conditions"][0]["rule"] == "R-INS-6"
    assert client.get(f"/api/v1/work-orders/{job.order.id}", headers=job.auth).get_json()["asset_id"] is None
    assert sign(client, job, sheet["id"]).status_code == 201
    assert sign(client, job, acceptance["id"]).status_code == 201
    order = client.get(f"/api/v1/work-orders/{job.order.id}", headers=job.auth).get_json()
    assert order["status"] == "signed" and order["asset_id"] is not None   # the unit is in the archive


# ---- R-MNT-2 / R-REP-2: confirmed, and at the agreed time -------------------------------------------

def test_r_rep_2_unconfirmed_visit_two_days_early_is_not_started(app: Flask, client: FlaskClient, make: Factory,
                                                                 phone_for) -> None:  # type: ignore[no-untyped-def]
    """Seen: a technician started an unconfirmed visit two days before its date."""
    job = make.dispatched_job(start=datetime.now(UTC) + timedelta(days=2), confirmed=False)
    job.auth = {"Authorization": f"Bearer {make.token(job.technician.user_id)}"}
    body = gate_refusal(arrive(client, job), "visit_not_confirmed", "before_visit_window")
    assert {c["rule"] for c in body["unmet_conditions"]} == {"R-REP-2"}
    phone = phone_for(job.technician)
    phone.sync()
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(ago(1)))
    assert phone.sync()["rejected_ids"] == {"visits": [str(job.visit.id)]}
    assert sorted(c["code"] for c in open_rejections(app, "visits")[0].unmet_conditions) == [
        "before_visit_window", "visit_not_confirmed"]
    # confirmed by the customer, it is still two days early: the dispatcher reschedules, then it may start
    assert client.post(f"/api/v1/visits/{job.visit.id}/confirmation", json={}, headers=job.auth).status_code == 200
    gate_refusal(arrive(client, job), "before_visit_window")
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    moved = client.patch(f"/api/v1/visits/{job.visit.id}", headers=dispatcher(make),
                         json={"scheduled_start": start.isoformat(), "scheduled_end": (start + timedelta(hours=2)).isoformat()})
    assert moved.status_code == 200 and moved.get_json()["customer_confirmed"] is False  # a new time: confirm again
    gate_refusal(arrive(client, job), "visit_not_confirmed")
    assert client.post(f"/api/v1/visits/{job.visit.id}/confirmation", json={}, headers=job.auth).status_code == 200
    assert arrive(client, job).status_code == 200


def test_r_mnt_2_dispatcher_waives_the_confirmation_with_a_reason(app: Flask, client: FlaskClient, make: Factory,
                                                                  count_rows) -> None:  # type: ignore[no-untyped-def]
    job = make.dispatched_job(confirmed=False)
    job.auth = {"Authorization": f"Bearer {make.token(job.technician.user_id)}"}
    gate_refusal(arrive(client, job), "visit_not_confirmed")
    url = f"/api/v1/visits/{job.visit.id}/confirmation-waiver"
    desk = dispatcher(make)
    before = count_rows()
    problem(client.post(url, json={"reason": "我自己确认 self-approved"}, headers=job.auth), 403, "forbidden")
    problem(client.post(url, json={"reason": "   "}, headers=desk), 422, "validation_failed")
    problem(client.post(url, json={}, headers=desk), 422, "validation_failed")
    assert count_rows() == before
    waived = client.post(url, json={"reason": "客户电话关机，紧急报修按约上门 phone off, urgent"}, headers=desk)
    assert waived.status_code == 200
    body = waived.get_json()
    assert body["confirmation_waived_at"] and body["confirmation_waiver_reason"].startswith("客户电话关机")
    assert body["customer_confirmed"] is False  # shown as a waiver, never as the customer's confirmation
    assert arrive(client, job).status_code == 200
    with app.app_context():
        actions = set(db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.entity_id == job.visit.id)))
    assert {"visit.confirmation_waived", "visit.arrive"} <= actions


def test_a_corrected_arrival_time_cannot_move_the_start_before_the_window(client: FlaskClient,
                                                                          make: Factory) -> None:
    """R-REP-2 also holds when the phone corrects a recorded arrival to days earlier (the sync push's time
    correction)."""
    job = make.dispatched_job()
    auth = {"Authorization": f"Bearer {make.token(job.technician.user_id)}"}
    assert client.post(f"/api/v1/visits/{job.visit.id}/arrival", json={}, headers=auth).status_code == 200
    with make.app.app_context(), pytest.raises(ConditionsNotMet) as refused, unit_of_work():
        visits.apply_field_changes(SYSTEM, job.visit.id, {"arrived_at": datetime.now(UTC) - timedelta(days=2)})
    assert unmet_codes(refused.value.extra) == ["before_visit_window"]


def test_r_mnt_2_the_phone_sees_the_waiver_and_cannot_make_one(app: Flask, client: FlaskClient, make: Factory,
                                                               phone_for) -> None:  # type: ignore[no-untyped-def]
    """The waiver is the dispatcher's: the phone pulls it (so the app lets the technician start) and a phone
    that pushes its own waiver is overridden (kept aside as not owned), the visit unchanged."""
    job = make.dispatched_job(confirmed=False)
    waived = client.post(f"/api/v1/visits/{job.visit.id}/confirmation-waiver", headers=dispatcher(make),
                         json={"reason": "老客户长期约定，随到随修 standing agreement"})
    assert waived.status_code == 200
    phone = phone_for(job.technician)
    phone.sync()
    pulled = phone.get("visits", job.visit.id)
    assert pulled["confirmation_waived_at"] and pulled["confirmation_waiver_reason"].startswith("老客户")
    other = make.dispatched_job(confirmed=False, technician=job.technician,
                                start=datetime.now(UTC) + timedelta(hours=3))
    phone.sync()
    phone.edit("visits", other.visit.id, confirmation_waived_at=ms(ago(1)), confirmation_waiver_reason="我说行")
    answer = phone.sync()
    assert answer["merged"] == 1 and answer["rejected"] == 0
    with app.app_context():
        visit = db.session.get(Visit, other.visit.id)
        assert visit.confirmation_waived_at is None and visit.confirmation_waiver_reason is None
