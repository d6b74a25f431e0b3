"""Maintenance plan endpoints: roles, problems for bad input with nothing written, the generation endpoint."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient


def body(asset_id: object, **extra: object) -> dict[str, object]:
    today = datetime.now(UTC).date()
    return {"asset_id": str(asset_id), "name": "Monthly service",
            "items": [{"task": "Check pressure", "checklist": ["gauge reads 2-3 bar"]}],
            "interval": 1, "interval_unit": "weeks", "start_on": today.isoformat(), **extra}


def test_plan_lifecycle(client: FlaskClient, headers, equipment) -> None:
    auth = headers(role="dispatcher")
    created = client.post("/api/v1/maintenance-plans", json=body(equipment.asset.id, window_start="10:00",
                                                                 window_end="11:30"), headers=auth)
    assert created.status_code == 201, created.get_json()
    plan = created.get_json()
    assert plan["timezone"] == "Asia/Shanghai" and plan["window_start"] == "10:00" and plan["status"] == "active"

    listed = client.get(f"/api/v1/maintenance-plans?asset_id={equipment.asset.id}", headers=auth).get_json()
    assert [p["id"] for p in listed["items"]] == [plan["id"]]
    assert client.get(f"/api/v1/maintenance-plans/{plan['id']}", headers=auth).status_code == 200

    run = client.post("/api/v1/maintenance-occurrences/generation", json={"horizon_days": 20}, headers=auth)
    assert run.status_code == 200, run.get_json()
    assert run.get_json()["created"] == 3 and run.get_json()["scheduled"] == 3
    again = client.post("/api/v1/maintenance-occurrences/generation", json={"horizon_days": 20}, headers=auth)
    assert again.get_json()["created"] == 0

    later = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    occurrences = client.get(f"/api/v1/maintenance-occurrences?plan_id={plan['id']}&status=scheduled"
                             f"&due_from={later}", headers=auth).get_json()
    assert occurrences["meta"]["total"] == 2

    patched = client.patch(f"/api/v1/maintenance-plans/{plan['id']}",
                           json={"name": "Weekly service", "version": plan["version"]}, headers=auth)
    assert patched.status_code == 200 and patched.get_json()["name"] == "Weekly service"
    stale = client.patch(f"/api/v1/maintenance-plans/{plan['id']}", json={"name": "x", "version": plan["version"]},
                         headers=auth)
    assert stale.status_code == 409 and stale.mimetype == "application/problem+json"

    cancelled = client.post(f"/api/v1/maintenance-plans/{plan['id']}/cancellation", json={"reason": "sold"},
                            headers=auth)
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    statuses = client.get(f"/api/v1/maintenance-occurrences?plan_id={plan['id']}", headers=auth).get_json()
    assert {o["status"] for o in statuses["items"]} == {"cancelled"}
    twice = client.post(f"/api/v1/maintenance-plans/{plan['id']}/cancellation", json={"reason": "sold"},
                        headers=auth)
    assert twice.status_code == 409


@pytest.mark.parametrize(("extra", "field"), [
    ({"interval": None, "interval_unit": None, "rrule": "FREQ=SOMETIMES"}, "rrule"),
    ({"interval": None, "interval_unit": None, "rrule": "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=31"}, "rrule"),
    ({"rrule": "FREQ=MONTHLY"}, "rrule"),                                    # both kinds of recurrence
    ({"interval": None, "interval_unit": None}, "interval"),                 # no recurrence at all
    ({"start_on": "2027-05-01", "end_on": "2027-04-01"}, "end_on"),
    ({"window_start": "12:00", "window_end": "09:00"}, "window_end"),
    ({"window_start": "09:00+08:00"}, "window_start"),
    ({"start_on": "0001-01-01"}, "start_on"),
    ({"technician_id": "00000000-0000-0000-0000-000000000001"}, "technician_id"),
    ({"items": []}, "items"),
])
def test_bad_plans_are_422_problems_with_nothing_written(client: FlaskClient, headers, equipment, count_rows,
                                                         extra: dict[str, object], field: str) -> None:
    auth = headers(role="office")
    before = count_rows()
    payload = {k: v for k, v in body(equipment.asset.id, **extra).items() if v is not None}
    response = client.post("/api/v1/maintenance-plans", json=payload, headers=auth)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in str(response.get_json().get("errors", {})), response.get_json()
    assert count_rows() == before


def test_bad_rrule_message_is_clear(client: FlaskClient, headers, equipment) -> None:
    payload = body(equipment.asset.id, rrule="FREQ=SOMETIMES;BYMONTHDAY=15")
    del payload["interval"], payload["interval_unit"]
    response = client.post("/api/v1/maintenance-plans", json=payload, headers=headers())
    assert response.status_code == 422
    assert "RRULE" in response.get_json()["detail"]


def test_unknown_asset_is_422(client: FlaskClient, headers, count_rows) -> None:
    auth = headers()
    before = count_rows()
    response = client.post("/api/v1/maintenance-plans", json=body("00000000-0000-0000-0000-000000000002"),
                           headers=auth)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert count_rows() == before


def test_bad_patch_writes_nothing(client: FlaskClient, headers, equipment, count_rows) -> None:
    auth = headers()
    plan = client.post("/api/v1/maintenance-plans", json=body(equipment.asset.id), headers=auth).get_json()
    before = count_rows()
    for change in ({"rrule": "FREQ=HOURLY"}, {"end_on": "2001-01-01"}, {"interval": 0}, {"asset_id": str(plan["id"])}):
        response = client.patch(f"/api/v1/maintenance-plans/{plan['id']}", json=change, headers=auth)
        assert response.status_code == 422, (change, response.get_json())
    assert count_rows() == before


def test_roles(client: FlaskClient, headers, equipment) -> None:
    for role in ("technician", "parts_keeper"):
        auth = headers(role=role)
        assert client.post("/api/v1/maintenance-plans", json=body(equipment.asset.id), headers=auth).status_code == 403
        assert client.get("/api/v1/maintenance-occurrences", headers=auth).status_code == 403
    office = headers(role="office")
    assert client.post("/api/v1/maintenance-occurrences/generation", json={}, headers=office).status_code == 403
    assert client.get("/api/v1/maintenance-plans/00000000-0000-0000-0000-000000000003",
                      headers=office).status_code == 404
    assert client.get("/api/v1/maintenance-occurrences?status=sometimes", headers=office).status_code == 422
