"""Returned units (R-RET-1/2/3): the job's warranty decision says which outcomes are possible (no-reason return
within 7 days, quality fault within 1 month at the company's cost, else paid repair; shipping follows fault),
the unit is inspected against the customer's photos and description before any refund, exchange or repair,
and the states run received -> inspected -> decided -> closed. Refusals are problems and write nothing."""
from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.audit.models import AuditEvent
from fieldservice.commerce.models import ReturnCase, WarrantyDecision
from fieldservice.extensions import db
from tests.commerce.conftest import COURIER_RECEIPT
from tests.factories import Factory
from tests.signing.conftest import upload_photo


def open_case(api: Any, auth: dict[str, str], job: SimpleNamespace, *, reason: str, reported_on: str | None,
              photo_ids: list[str] | None = None, **extra: Any) -> tuple[int, Any]:
    """Open a case; a report day before the job's creation comes with the courier receipt (R-RET-1)."""
    body = {"work_order_id": str(job.order.id), "asset_id": str(job.asset.id), "reason": reason,
            "description": "开机后异响，显示 E-07 报警", "photo_ids": photo_ids or []}
    if reported_on is not None:
        body.update(reported_on=reported_on, reported_on_evidence=COURIER_RECEIPT)
    return api("post", "/api/v1/returns", auth, json={**body, **extra})


def inspect(api: Any, auth: dict[str, str], case_id: str, **body: Any) -> tuple[int, Any]:
    data = {"matches_description": True, "findings": "与客户照片一致：轴承异响", **body}
    return api("post", f"/api/v1/returns/{case_id}/inspection", auth, json=data)


def outcome(api: Any, auth: dict[str, str], case_id: str, value: str) -> tuple[int, Any]:
    return api("post", f"/api/v1/returns/{case_id}/outcome", auth, json={"outcome": value, "note": "按规定处理"})


# ---- R-RET-1 / R-RET-2: the warranty decision says which outcomes are possible ------------------------

def test_no_reason_return_within_7_days_runs_to_a_refund(app: Flask, api, unit, office, client: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    """R-RET-1 (7-day no-reason return), R-RET-2 (the customer pays its shipping), R-RET-3, full life cycle."""
    job = unit()
    photo = upload_photo(client, job)
    status, case = open_case(api, office, job, reason="no_reason", reported_on="2026-11-08", photo_ids=[photo["id"]])
    assert status == 201, case
    assert case["status"] == "received" and case["warranty_option"] == "no_reason_return"
    assert case["allowed_outcomes"] == ["refund", "exchange", "refused"]
    assert (case["shipping_outbound_payer"], case["shipping_return_payer"]) == ("customer", "customer")
    assert case["photo_ids"] == [photo["id"]] and case["serial_number"] == job.asset.serial_number
    inspection_photo = upload_photo(client, job, colour=(10, 200, 10))
    status, case = inspect(api, office, case["id"], photo_ids=[inspection_photo["id"]], inspector_name="质检 李工")
    assert status == 200, case
    assert case["status"] == "inspected" and case["matches_description"] is True
    assert case["inspector_name"] == "质检 李工" and case["inspection_photo_ids"] == [inspection_photo["id"]]
    status, case = outcome(api, office, case["id"], "refund")
    assert status == 200 and case["status"] == "decided" and case["outcome"] == "refund"
    status, case = api("post", f"/api/v1/returns/{case['id']}/close", office)
    assert status == 200 and case["status"] == "closed" and case["closed_at"]
    with app.app_context():
        actions = list(db.session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.entity_id == uuid.UUID(case["id"])).order_by(AuditEvent.at, AuditEvent.action)))
        assert actions == ["return.receive", "return.inspect", "return.decide", "return.close"]
        # the decision is stored on the job by the warranty service
        assert db.session.scalar(sa.select(WarrantyDecision.option).where(
            WarrantyDecision.work_order_id == job.order.id)).value == "no_reason_return"


def test_no_reason_after_7_days_is_a_paid_repair_and_refund_is_refused(app: Flask, api, unit, office,
                                                                        count_rows) -> None:  # type: ignore[no-untyped-def]
    """R-RET-1: day 8 is past the no-reason window: paid repair only."""
    job = unit()
    status, case = open_case(api, office, job, reason="no_reason", reported_on="2026-11-09")
    assert status == 201 and case["warranty_option"] == "paid_repair" and case["chargeable"] is True
    assert case["allowed_outcomes"] == ["repair", "refused"]
    assert inspect(api, office, case["id"])[0] == 200
    before = count_rows()
    for refused in ("refund", "exchange"):
        status, problem = outcome(api, office, case["id"], refused)
        assert status == 409 and problem["type"] == "/problems/outcome_not_allowed"
        assert problem["allowed_outcomes"] == ["repair", "refused"] and problem["warranty_option"] == "paid_repair"
    assert count_rows() == before
    status, case = outcome(api, office, case["id"], "repair")
    assert status == 200 and case["outcome"] == "repair"


def test_quality_fault_within_a_month_is_exchanged_at_the_companys_cost(api, unit, office) -> None:  # type: ignore[no-untyped-def]
    """R-RET-1 (quality within 1 month: return or exchange, company's cost), R-RET-2 (company at fault pays)."""
    job = unit()
    status, case = open_case(api, office, job, reason="quality", reported_on="2026-11-30")
    assert status == 201 and case["warranty_option"] == "quality_return_or_exchange"
    assert case["allowed_outcomes"] == ["refund", "exchange", "repair", "refused"]
    assert (case["shipping_outbound_payer"], case["shipping_return_payer"]) == ("company", "company")
    assert case["chargeable"] is False
    assert inspect(api, office, case["id"])[0] == 200
    status, case = outcome(api, office, case["id"], "exchange")
    assert status == 200 and case["outcome"] == "exchange"


def test_quality_fault_after_a_month_is_a_free_repair_not_a_refund(api, unit, office) -> None:  # type: ignore[no-untyped-def]
    """R-RET-1: after the first month a quality fault in warranty is repaired (free), not refunded."""
    job = unit()
    status, case = open_case(api, office, job, reason="quality", reported_on="2026-12-02")
    assert status == 201 and case["warranty_option"] == "warranty_repair" and case["in_warranty"] is True
    assert case["allowed_outcomes"] == ["repair", "refused"]
    assert inspect(api, office, case["id"])[0] == 200
    status, problem = outcome(api, office, case["id"], "refund")
    assert status == 409 and problem["type"] == "/problems/outcome_not_allowed"


def test_unclear_fault_within_the_first_month_splits_shipping(api, unit, office) -> None:  # type: ignore[no-untyped-def]
    """R-RET-2: an unclear case: the company pays outbound, the customer pays the return."""
    job = unit()
    status, case = open_case(api, office, job, reason="intermittent_noise", reported_on="2026-11-20")
    assert status == 201 and case["warranty_option"] == "paid_repair"
    assert (case["shipping_outbound_payer"], case["shipping_return_payer"]) == ("company", "customer")


# ---- R-RET-3: inspected against the photos and description before any outcome ---------------------

@pytest.mark.parametrize("value", ["refund", "exchange", "repair", "refused"])
def test_no_outcome_before_the_inspection(app: Flask, api, unit, office, count_rows, value: str) -> None:  # type: ignore[no-untyped-def]
    job = unit()
    status, case = open_case(api, office, job, reason="quality", reported_on="2026-11-10")
    assert status == 201
    before = count_rows()
    status, problem = outcome(api, office, case["id"], value)
    assert status == 409 and problem["type"] == "/problems/inspection_required"
    assert problem["current_status"] == "received"
    assert count_rows() == before
    with app.app_context():
        stored = db.session.get(ReturnCase, uuid.UUID(case["id"]))
        assert stored.status.value == "received" and stored.outcome is None and stored.decided_at is None


def test_a_unit_that_does_not_match_is_decided_again_for_the_fault_found(app: Flask, api, unit, office) -> None:  # type: ignore[no-untyped-def]
    """The customer reports a quality fault within the month; the inspection finds misuse (a cracked housing
    not in the photos): the warranty is decided again and only a paid repair or a refusal remain."""
    job = unit()
    status, case = open_case(api, office, job, reason="quality", reported_on="2026-11-10")
    assert status == 201 and "refund" in case["allowed_outcomes"]
    status, problem = inspect(api, office, case["id"], matches_description=False, findings="外壳摔裂，照片中未显示")
    assert status == 422 and "found_fault_type" in problem["detail"]
    status, case = inspect(api, office, case["id"], matches_description=False, findings="外壳摔裂，照片中未显示",
                           found_fault_type="misuse")
    assert status == 200, case
    assert case["matches_description"] is False and case["found_fault_type"] == "misuse"
    assert case["warranty_option"] == "paid_repair" and case["allowed_outcomes"] == ["repair", "refused"]
    assert (case["shipping_outbound_payer"], case["shipping_return_payer"]) == ("customer", "customer")
    status, problem = outcome(api, office, case["id"], "refund")
    assert status == 409 and problem["type"] == "/problems/outcome_not_allowed"
    status, case = outcome(api, office, case["id"], "refused")
    assert status == 200 and case["outcome"] == "refused"


def test_states_are_enforced(api, unit, office) -> None:  # type: ignore[no-untyped-def]
    job = unit()
    status, case = open_case(api, office, job, reason="quality", reported_on="2026-11-10")
    status, problem = api("post", f"/api/v1/returns/{case['id']}/close", office)
    assert status == 409 and problem["current_status"] == "received"
    assert inspect(api, office, case["id"])[0] == 200
    status, problem = inspect(api, office, case["id"])
    assert status == 409 and problem["current_status"] == "inspected"
    assert outcome(api, office, case["id"], "repair")[0] == 200
    status, problem = outcome(api, office, case["id"], "refund")
    assert status == 409 and problem["current_status"] == "decided"
    # the job has an open case: a second one is refused until it is closed
    status, problem = open_case(api, office, job, reason="quality", reported_on="2026-11-10")
    assert status == 409 and problem["existing_number"] == case["number"]
    assert api("post", f"/api/v1/returns/{case['id']}/close", office)[0] == 200
    assert open_case(api, office, job, reason="quality", reported_on="2026-11-12")[0] == 201


# ---- input: unit, photos ---------------------------------------------------------------------------

def test_bad_references_are_refused_and_nothing_is_written(api, unit, office, count_rows, client) -> None:  # type: ignore[no-untyped-def]
    job, other = unit(), unit("另一家客户")
    foreign_photo = upload_photo(client, other)
    before = count_rows()
    cases: list[tuple[dict[str, Any], int]] = [
        ({"photo_ids": [str(uuid.uuid4())]}, 422),                       # unknown photo
        ({"photo_ids": [foreign_photo["id"]]}, 422),                     # another job's photo
        ({"asset_id": str(other.asset.id)}, 422),                        # another customer's unit
        ({"serial_number": "NOT-THE-SERIAL"}, 422),                      # serial does not match the unit
        ({"work_order_id": str(uuid.uuid4())}, 422),                     # unknown job
        ({"reason": "不是故障类型"}, 422),                                 # not a fault type id
        ({"description": ""}, 422),
    ]
    for extra, expected in cases:
        status, problem = open_case(api, office, job, reason=extra.pop("reason", "quality"),
                                    reported_on="2026-11-10", **extra)
        assert status == expected, (extra, problem)
    assert count_rows() == before


def test_the_unit_is_found_by_its_serial(api, unit, office) -> None:  # type: ignore[no-untyped-def]
    job = unit()
    status, case = api("post", "/api/v1/returns", office, json={
        "work_order_id": str(job.order.id), "serial_number": job.asset.serial_number, "reason": "quality",
        "description": "不制冷", "reported_on": "2026-11-10", "reported_on_evidence": COURIER_RECEIPT})
    assert status == 201 and case["asset_id"] == str(job.asset.id)


# ---- access and pagination -------------------------------------------------------------------------

def test_customers_see_only_their_own_cases_and_only_office_writes(api, unit, office, make: Factory,
                                                                   headers) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = unit("客户甲"), unit("客户乙")
    _, my_case = open_case(api, office, mine, reason="quality", reported_on="2026-11-10")
    _, their_case = open_case(api, office, theirs, reason="quality", reported_on="2026-11-10")
    customer = {"Authorization": f"Bearer {make.token(make.user('customer', customer_id=mine.customer.id).id)}"}
    status, listed = api("get", "/api/v1/returns", customer)
    assert status == 200 and [c["id"] for c in listed["items"]] == [my_case["id"]]
    assert api("get", f"/api/v1/returns/{my_case['id']}", customer)[0] == 200
    assert api("get", f"/api/v1/returns/{their_case['id']}", customer)[0] == 404
    assert api("post", f"/api/v1/returns/{my_case['id']}/inspection", customer,
               json={"matches_description": True, "findings": "x"})[0] == 403
    assert open_case(api, customer, mine, reason="quality", reported_on="2026-11-10")[0] == 403
    assert open_case(api, mine.auth, mine, reason="quality", reported_on="2026-11-10")[0] == 403   # technician
    assert open_case(api, headers(role="dispatcher"), mine, reason="quality", reported_on="2026-11-10")[0] == 403
    assert api("get", f"/api/v1/returns/{my_case['id']}", mine.auth)[0] == 403


def test_cases_are_paginated_and_filtered(api, unit, office) -> None:  # type: ignore[no-untyped-def]
    ids = [open_case(api, office, unit(), reason="quality", reported_on="2026-11-10")[1]["id"] for _ in range(3)]
    status, page = api("get", "/api/v1/returns?page_size=2", office)
    assert status == 200 and page["meta"]["total"] == 3 and len(page["items"]) == 2
    status, page2 = api("get", "/api/v1/returns?page_size=2&page=2", office)
    assert {c["id"] for c in page["items"] + page2["items"]} == set(ids)
    assert inspect(api, office, ids[0])[0] == 200
    status, inspected = api("get", "/api/v1/returns?status=inspected", office)
    assert [c["id"] for c in inspected["items"]] == [ids[0]]


def test_return_endpoints_never_fail_with_5xx(api, unit, office, client: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    """Property test: odd bodies on every return endpoint give problems, never a 5xx."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.commerce.test_fuzz import json_values
    from tests.fuzzing import probe_request

    job = unit()
    _, received = open_case(api, office, job, reason="quality", reported_on="2026-11-10")
    keys = ["work_order_id", "asset_id", "serial_number", "reason", "description", "photo_ids", "reported_on",
            "reported_on_evidence", "received_at", "matches_description", "findings", "found_fault_type", "inspector_name", "outcome",
            "note", "id"]

    def mutate(base: dict[str, Any]) -> st.SearchStrategy[Any]:
        return st.dictionaries(st.sampled_from(keys), json_values, max_size=4).map(lambda extra: {**base, **extra})

    probes = [
        ("post", "/api/v1/returns", mutate({"work_order_id": str(job.order.id), "reason": "quality",
                                            "description": "x"})),
        ("post", f"/api/v1/returns/{received['id']}/inspection", mutate({"matches_description": False,
                                                                          "findings": "x"})),
        ("post", f"/api/v1/returns/{received['id']}/outcome", mutate({"outcome": "refund"})),
        ("get", "/api/v1/returns", st.just(None)),
    ]

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def probe(data: st.DataObject) -> None:
        method, path, bodies = probes[data.draw(st.integers(0, len(probes) - 1))]
        probe_request(client, method, path, data.draw(st.one_of(bodies, json_values)), office)

    probe()


@pytest.mark.postgres
def test_concurrent_outcomes_give_one_decision(app: Flask, api, unit, office) -> None:  # type: ignore[no-untyped-def]
    """The case row is locked while deciding: a refund and an exchange at once give one outcome."""
    from tests.commerce.test_concurrency import race

    job = unit()
    _, case = open_case(api, office, job, reason="quality", reported_on="2026-11-10")
    assert inspect(api, office, case["id"])[0] == 200
    calls = [lambda c, v=v: c.post(f"/api/v1/returns/{case['id']}/outcome", headers=office, json={"outcome": v})
             for v in ("refund", "exchange", "repair")]
    assert race(app, calls) == [200, 409, 409]
    with app.app_context():
        assert db.session.get(ReturnCase, uuid.UUID(case["id"])).status.value == "decided"
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "return.decide")) == 1
