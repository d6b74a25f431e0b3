"""SLA endpoints: calendars and policies (office/admin edit, back office reads), a work order's clocks,
the breaches list; refusals are problem+json and write nothing."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import time_machine
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.db import unit_of_work
from fieldservice.sla import service as sla
from tests.factories import Factory

PROBLEM = "application/problem+json"


def test_calendar_and_policy_crud(client: FlaskClient, headers, count_rows) -> None:  # type: ignore[no-untyped-def]
    office = headers(role="office")
    cal = client.post("/api/v1/sla/calendars", headers=office, json={
        "name": "上海", "timezone": "Asia/Shanghai", "workdays": [1, 2, 3, 4, 5], "day_start": "08:30:00",
        "day_end": "17:30:00", "holidays": ["2027-01-01", "2027-02-17"], "extra_workdays": ["2027-02-20"]})
    assert cal.status_code == 201, cal.get_json()
    assert cal.get_json()["holidays"] == ["2027-01-01", "2027-02-17"]
    created = client.post("/api/v1/sla/policies", headers=office, json={
        "name": "标准", "is_default": True, "calendar_id": cal.get_json()["id"], "escalate_to": "boss@example.cn"})
    assert created.status_code == 201, created.get_json()
    policy = created.get_json()
    assert (policy["respond_minutes"], policy["on_site_minutes"], policy["fix_minutes"], policy["answer_minutes"]) \
        == (30, 120, 240, 1440)  # R-SLA-1 defaults

    second = client.post("/api/v1/sla/policies", headers=office, json={"name": "新标准", "is_default": True}).get_json()
    listed = client.get("/api/v1/sla/policies", headers=headers(role="dispatcher")).get_json()
    assert [(p["name"], p["is_default"]) for p in listed] == [("新标准", True), ("标准", False)]  # one default

    policy = client.get(f"/api/v1/sla/policies/{policy['id']}", headers=office).get_json()  # unset as default: v2
    patched = client.patch(f"/api/v1/sla/policies/{policy['id']}", headers=office,
                           json={"fix_minutes": 300, "version": policy["version"]})
    assert patched.status_code == 200 and patched.get_json()["fix_minutes"] == 300
    stale = client.patch(f"/api/v1/sla/policies/{policy['id']}", headers=office,
                         json={"fix_minutes": 100, "version": policy["version"]})
    assert stale.status_code == 409 and stale.mimetype == PROBLEM
    assert client.delete(f"/api/v1/sla/policies/{second['id']}", headers=office).status_code == 204


def test_refusals_write_nothing(client: FlaskClient, headers, count_rows) -> None:  # type: ignore[no-untyped-def]
    office, dispatcher, technician = headers(role="office"), headers(role="dispatcher"), headers(role="technician")
    before = count_rows()
    cases = [
        ("/api/v1/sla/calendars", {"name": "x", "timezone": "Mars/Olympus"}, 422),
        ("/api/v1/sla/calendars", {"name": "x", "day_start": "18:00:00", "day_end": "09:00:00"}, 422),
        ("/api/v1/sla/calendars", {"name": "x", "workdays": [0, 8]}, 422),
        ("/api/v1/sla/policies", {"name": "p", "respond_minutes": 0}, 422),
        ("/api/v1/sla/policies", {"name": "p", "calendar_id": str(uuid.uuid4())}, 422),
        ("/api/v1/sla/policies", {"name": "p", "contract_id": str(uuid.uuid4())}, 422),
        ("/api/v1/sla/policies", {"name": "p", "respond_minutes": "soon"}, 422),
    ]
    for url, body, status in cases:
        response = client.post(url, headers=office, json=body)
        assert response.status_code == status, (body, response.get_json())
        assert response.mimetype == PROBLEM
    assert client.post("/api/v1/sla/policies", headers=dispatcher, json={"name": "p"}).status_code == 403
    assert client.get("/api/v1/sla/breaches", headers=technician).status_code == 403
    assert client.get(f"/api/v1/sla/policies/{uuid.uuid4()}", headers=office).status_code == 404
    assert count_rows() == before


def test_policy_used_by_a_clock_cannot_be_deleted(app: Flask, client: FlaskClient, headers, make: Factory) -> None:  # type: ignore[no-untyped-def]
    office = headers(role="office")
    policy = client.post("/api/v1/sla/policies", headers=office, json={"name": "默认", "is_default": True}).get_json()
    make.work_order()
    refused = client.delete(f"/api/v1/sla/policies/{policy['id']}", headers=office)
    assert refused.status_code == 409 and refused.mimetype == PROBLEM
    assert client.get(f"/api/v1/sla/policies/{policy['id']}", headers=office).status_code == 200


def test_work_order_clocks_and_breaches_list(app: Flask, client: FlaskClient, headers, make: Factory) -> None:  # type: ignore[no-untyped-def]
    opened = datetime.now(UTC) - timedelta(hours=1)
    with time_machine.travel(opened, tick=False):
        order = make.work_order()
    with app.app_context(), unit_of_work():
        assert sla.scan_breaches() == 1  # respond (30 min); on site has 2 h, fix 4 h
    dispatcher = headers(role="dispatcher")
    body = client.get(f"/api/v1/work-orders/{order.id}/sla", headers=dispatcher).get_json()
    by_target = {c["target"]: c for c in body["clocks"]}
    assert list(by_target) == ["respond", "on_site", "fix"]
    assert by_target["respond"]["outcome"] == "breached" and by_target["fix"]["outcome"] == "pending"
    assert 3500 <= by_target["fix"]["elapsed_seconds"] <= 3700
    assert [b["target"] for b in body["breaches"]] == ["respond"]

    listed = client.get("/api/v1/sla/breaches?target=respond", headers=headers(role="office")).get_json()
    assert listed["meta"]["total"] == 1 and listed["items"][0]["work_order_id"] == str(order.id)
    assert client.get("/api/v1/sla/breaches?target=late", headers=dispatcher).status_code == 422
    assert client.get(f"/api/v1/work-orders/{uuid.uuid4()}/sla", headers=dispatcher).status_code == 404
