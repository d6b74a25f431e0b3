"""R-RET-1: the report date the return and warranty windows count to is the server's (its receive time, or
the job's server-stamped report) or an evidenced date from the office, never a bare date from the caller.
Every path that reaches warranty.decide or returns.receive: `PUT /work-orders/{id}/warranty-decision`,
`POST /returns`, and the re-decision after an inspection (API and office page)."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.audit.models import AuditEvent
from fieldservice.auth.service import SYSTEM
from fieldservice.commerce.models import ReturnCase, WarrantyDecision
from fieldservice.db import unit_of_work, utcnow
from fieldservice.extensions import db
from fieldservice.servicerequests import service as requests
from fieldservice.servicerequests.models import Channel
from tests.commerce.conftest import COURIER_RECEIPT
from tests.commerce.test_returns import open_case
from tests.factories import Factory
from tests.signing.conftest import upload_photo


def decision_url(job: SimpleNamespace) -> str:
    return f"/api/v1/work-orders/{job.order.id}/warranty-decision"


def post_case(api: Any, auth: dict[str, str], job: SimpleNamespace, *, reason: str = "quality",
              **body: Any) -> tuple[int, Any]:
    """`POST /returns` with exactly the report fields given (open_case adds the courier receipt)."""
    return api("post", "/api/v1/returns", auth, json={
        "work_order_id": str(job.order.id), "asset_id": str(job.asset.id), "reason": reason,
        "description": "开机后异响，显示 E-07 报警", **body})


def audit_details(app: Flask, action: str, entity_id: str) -> dict[str, Any]:
    with app.app_context():
        details = db.session.scalars(sa.select(AuditEvent.details).where(
            AuditEvent.action == action, AuditEvent.entity_id == uuid.UUID(entity_id))
            .order_by(AuditEvent.at.desc())).first()
        assert details is not None
        return details


# ---- returns: POST /api/v1/returns ------------------------------------------------------------------

def test_backdated_return_without_evidence_gets_no_no_reason_refund(api, unit, office, count_rows) -> None:  # type: ignore[no-untyped-def]
    """R-RET-1 (seen): a caller's report date within the 7 days of the delivery (2026-11-02), before the job
    was opened, without evidence: refused, nothing written; without a date the server's receive day counts,
    past the window: a paid repair, no refund possible."""
    job = unit()
    before = count_rows()
    status, problem = post_case(api, office, job, reason="no_reason", reported_on="2026-11-05")
    assert status == 422 and problem["type"] == "/problems/validation_failed"
    assert "reported_on_evidence" in problem["errors"]["json"] and "R-RET-1" in problem["detail"]
    assert count_rows() == before
    status, case = post_case(api, office, job, reason="no_reason")
    assert status == 201, case
    assert case["reported_on"] == utcnow().date().isoformat() and case["reported_on_source"] == "received"
    assert case["warranty_option"] == "paid_repair" and "refund" not in case["allowed_outcomes"]


def test_evidenced_backdated_return_by_the_office_is_recorded_and_audited(app: Flask, api, unit, office,
                                                                         client: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    """R-RET-1: the office gives the courier receipt (with its photo): the no-reason window counts to that day;
    the date, its source and the evidence are on the case, the job's decision and both audit entries."""
    job = unit()
    receipt = upload_photo(client, job)
    evidence = {**COURIER_RECEIPT, "photo_id": receipt["id"]}
    status, case = post_case(api, office, job, reason="no_reason", reported_on="2026-11-05",
                             reported_on_evidence=evidence)
    assert status == 201, case
    assert case["warranty_option"] == "no_reason_return" and case["reported_on"] == "2026-11-05"
    assert case["reported_on_source"] == "evidence" and case["reported_on_evidence"] == evidence
    received = audit_details(app, "return.receive", case["id"])
    assert received["reported_on"] == "2026-11-05" and received["reported_on_evidence"] == evidence
    with app.app_context():
        decision = db.session.scalar(sa.select(WarrantyDecision).where(WarrantyDecision.work_order_id == job.order.id))
        assert decision.reported_on == date(2026, 11, 5) and decision.reported_on_source == "evidence"
        decided = audit_details(app, "warranty.decide", str(decision.id))
    assert decided["reported_on_source"] == "evidence" and decided["reported_on_evidence"] == evidence


def test_return_dates_in_the_future_are_refused(api, unit, office, count_rows) -> None:  # type: ignore[no-untyped-def]
    """R-RET-1: a report day that has begun nowhere yet, or a unit received in the future: 422, nothing written."""
    job = unit()
    before = count_rows()
    future = (utcnow() + timedelta(days=2)).date().isoformat()
    status, problem = post_case(api, office, job, reported_on=future)
    assert status == 422 and "reported_on" in problem["errors"]["json"]
    status, problem = open_case(api, office, job, reason="quality", reported_on=future)     # with evidence
    assert status == 422 and "reported_on" in problem["errors"]["json"]
    status, problem = post_case(api, office, job, received_at=(utcnow() + timedelta(hours=2)).isoformat())
    assert status == 422 and "received_at" in problem["errors"]["json"]
    assert count_rows() == before


def test_evidence_must_name_something_real(api, unit, office, count_rows, client: FlaskClient, make: Factory) -> None:  # type: ignore[no-untyped-def]
    """R-RET-1: a service request as evidence must be the customer's; an evidence photo must be the job's;
    evidence needs the date it is evidence of. Refusals write nothing."""
    job, other = unit(), unit("别家客户")
    foreign_photo = upload_photo(client, other)
    with make.app.app_context(), unit_of_work():
        foreign_request = requests.create_request(SYSTEM, {"customer_id": other.customer.id, "asset_id": other.asset.id,
                                                           "channel": Channel.PHONE, "problem": "异响"}).id
    before = count_rows()
    bad: list[tuple[dict[str, Any], str]] = [
        ({"kind": "service_request", "reference": str(foreign_request)}, "unknown_reference"),
        ({"kind": "service_request", "reference": "not-an-id"}, "unknown_reference"),
        ({**COURIER_RECEIPT, "photo_id": foreign_photo["id"]}, "unknown_reference"),
        ({"kind": "rumour", "reference": "x"}, "validation_failed"),
        ({"kind": "email"}, "validation_failed"),
    ]
    for evidence, problem_type in bad:
        status, problem = post_case(api, office, job, reported_on="2026-11-10", reported_on_evidence=evidence)
        assert status == 422 and problem["type"] == f"/problems/{problem_type}", (evidence, problem)
    status, problem = post_case(api, office, job, reported_on_evidence=COURIER_RECEIPT)
    assert status == 422 and "reported_on" in problem["errors"]["json"]
    assert count_rows() == before


# ---- warranty decisions: PUT /api/v1/work-orders/{id}/warranty-decision --------------------------------

def test_technician_cannot_backdate_a_warranty_decision(api, unit, headers, count_rows) -> None:  # type: ignore[no-untyped-def]
    """R-RET-1 (seen): the job's technician (or a dispatcher) names a day before the job's report: 403, with
    evidence or without; nothing written. The job's own day or a later one needs no evidence."""
    job, dispatcher = unit(), headers(role="dispatcher")
    before = count_rows()
    for auth in (job.auth, dispatcher):
        for extra in ({}, {"reported_on_evidence": COURIER_RECEIPT}):
            status, problem = api("put", decision_url(job), auth,
                                  json={"fault_type": "no_reason", "reported_on": "2026-11-05", **extra})
            assert status == 403 and "office" in problem["detail"], problem
    assert count_rows() == before
    today = utcnow().date().isoformat()
    status, body = api("put", decision_url(job), job.auth, json={"fault_type": "no_reason", "reported_on": today})
    assert status == 200 and body["reported_on_source"] == "caller" and body["option"] == "paid_repair"
    status, body = api("put", decision_url(job), job.auth, json={"fault_type": "no_reason"})
    assert status == 200 and body["reported_on"] == today and body["reported_on_source"] == "job_report"


def test_office_backdates_a_decision_only_with_evidence(app: Flask, api, unit, office, count_rows) -> None:  # type: ignore[no-untyped-def]
    """R-RET-1: the office without evidence: 422 naming reported_on_evidence; with the call record: accepted,
    recorded on the decision and in the audit. A future day is refused even for the office."""
    job = unit()
    before = count_rows()
    status, problem = api("put", decision_url(job), office, json={"fault_type": "quality", "reported_on": "2026-11-20"})
    assert status == 422 and "reported_on_evidence" in problem["errors"]["json"]
    future = (utcnow() + timedelta(days=3)).date().isoformat()
    status, problem = api("put", decision_url(job), office, json={
        "fault_type": "quality", "reported_on": future, "reported_on_evidence": COURIER_RECEIPT})
    assert status == 422 and "reported_on" in problem["errors"]["json"]
    assert count_rows() == before
    call = {"kind": "call_record", "reference": "CALL-20261120-0915"}
    status, body = api("put", decision_url(job), office, json={
        "fault_type": "quality", "reported_on": "2026-11-20", "reported_on_evidence": call})
    assert status == 200 and body["option"] == "quality_return_or_exchange"
    assert body["reported_on_source"] == "evidence" and body["reported_on_evidence"] == call
    details = audit_details(app, "warranty.decide", body["id"])
    assert details["reported_on"] == "2026-11-20" and details["reported_on_evidence"] == call


def test_a_job_opened_from_a_service_request_counts_from_the_request(app: Flask, api, make: Factory,
                                                                    headers) -> None:  # type: ignore[no-untyped-def]
    """R-RET-1: the job's report is its service request's creation as the server stamped it (the customer
    called ten days ago; the work order was opened three days later): the default, and the earliest day a
    caller may name without evidence."""
    line = make.product_line()
    product = make.product(line.id)
    tech = make.technician(certified_for=[line.id])
    customer = make.customer()
    site = make.site(customer.id)
    asset = make.asset(customer.id, site.id, product.id, install_date=date(2020, 1, 1),
                       warranty_start=date(2020, 1, 1), warranty_end=date(2021, 1, 1))
    called = datetime.now(UTC) - timedelta(days=10)
    with time_machine.travel(called, tick=False), app.app_context(), unit_of_work():
        request_id = requests.create_request(SYSTEM, {"customer_id": customer.id, "asset_id": asset.id,
                                                      "channel": Channel.PHONE, "problem": "不制冷"}).id
    with time_machine.travel(called + timedelta(days=3), tick=False), app.app_context(), unit_of_work():
        order_id = requests.open_work_order(SYSTEM, request_id, {}).id
    make.visit(order_id, technician_id=tech.id)
    auth = {"Authorization": f"Bearer {make.token(tech.user_id)}"}
    url = f"/api/v1/work-orders/{order_id}/warranty-decision"
    status, body = api("put", url, auth, json={"fault_type": "quality"})
    assert status == 200 and body["reported_on"] == called.date().isoformat()
    assert body["reported_on_source"] == "job_report"
    status, body = api("put", url, auth, json={"fault_type": "quality", "reported_on": called.date().isoformat()})
    assert status == 200 and body["reported_on_source"] == "caller"
    earlier = (called - timedelta(days=1)).date().isoformat()
    assert api("put", url, auth, json={"fault_type": "quality", "reported_on": earlier})[0] == 403
    # the request itself is evidence, but not of a day before it was reported
    status, problem = api("put", url, headers(role="office"), json={
        "fault_type": "quality", "reported_on": earlier,
        "reported_on_evidence": {"kind": "service_request", "reference": str(request_id)}})
    assert status == 422 and "reported_on" in problem["errors"]["json"]


# ---- the re-decision after an inspection (API and office page) ------------------------------------

def test_inspection_decides_again_on_the_cases_report_date(app: Flask, client: FlaskClient, api, unit,
                                                           office) -> None:  # type: ignore[no-untyped-def]
    """R-RET-1 on the office page path: an inspection that finds another fault decides the warranty again on
    the report date resolved when the unit was received (with its evidence); the form cannot name a date."""
    job = unit()
    status, case = open_case(api, office, job, reason="quality", reported_on="2026-11-10")
    assert status == 201 and case["warranty_option"] == "quality_return_or_exchange"
    response = client.post(f"/office/returns/{case['id']}/inspection", headers=office, data={
        "matches_description": "no", "findings": "进水，非质量问题", "found_fault_type": "water_damage",
        "reported_on": "2026-11-03"})
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        stored = db.session.get(ReturnCase, uuid.UUID(case["id"]))
        decision = db.session.scalar(sa.select(WarrantyDecision).where(WarrantyDecision.work_order_id == job.order.id))
        assert stored.status.value == "inspected" and stored.reported_on == date(2026, 11, 10)
        assert decision.fault_type == "water_damage" and decision.reported_on == date(2026, 11, 10)
        assert decision.reported_on_source == "evidence" and decision.reported_on_evidence == COURIER_RECEIPT
        # an unclear fault within the first month: company outbound, customer return (R-RET-2)
        assert (decision.shipping_outbound_payer.value, decision.shipping_return_payer.value) == ("company",
                                                                                                  "customer")
