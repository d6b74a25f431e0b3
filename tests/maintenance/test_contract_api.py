"""Endpoints for contract and team plans, skipping, asset retirement and contract end: roles, problem bodies,
nothing written on a refusal."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

PROBLEM = "application/problem+json"


def plan_body(**extra: object) -> dict[str, object]:
    today = datetime.now(UTC).date()
    return {"name": "合同季度保养", "items": [{"task": "检查 check", "checklist": ["滤网 filter"]}],
            "interval": 1, "interval_unit": "weeks", "start_on": today.isoformat(), **extra}


def test_contract_plan_team_skip_over_http(client: FlaskClient, headers, make, contract_equipment) -> None:
    auth = headers(role="dispatcher")
    tech = make.technician(name="张师傅", certified_for=[contract_equipment.line.id])
    team = client.post("/api/v1/teams", json={"name": "上海一组", "technician_ids": [str(tech.id)]}, headers=auth)
    assert team.status_code == 201, team.get_json()
    assert team.get_json()["technician_ids"] == [str(tech.id)] and team.get_json()["name"] == "上海一组"
    chosen = [str(contract_equipment.units[0].id), str(contract_equipment.units[2].id)]
    created = client.post("/api/v1/maintenance-plans", json=plan_body(
        contract_id=str(contract_equipment.contract.id), asset_ids=chosen, team_id=team.get_json()["id"]),
        headers=auth)
    assert created.status_code == 201, created.get_json()
    plan = created.get_json()
    assert plan["asset_id"] is None and sorted(plan["asset_ids"]) == sorted(chosen) and plan["timezone"] is None
    listed = client.get(f"/api/v1/maintenance-plans?contract_id={contract_equipment.contract.id}", headers=auth)
    assert [p["id"] for p in listed.get_json()["items"]] == [plan["id"]]

    run = client.post("/api/v1/maintenance-occurrences/generation", json={"horizon_days": 6}, headers=auth)
    assert run.get_json()["created"] == 2 and run.get_json()["assigned"] >= 1
    found = client.get(f"/api/v1/maintenance-occurrences?plan_id={plan['id']}&asset_id={chosen[0]}",
                       headers=auth).get_json()["items"]
    assert len(found) == 1 and found[0]["asset_id"] == chosen[0]
    occurrence_id = found[0]["id"]

    office = headers(role="office")
    skipped = client.post(f"/api/v1/maintenance-occurrences/{occurrence_id}/skip",
                          json={"reason": "客户停产检修 plant shutdown"}, headers=office)
    assert skipped.status_code == 200, skipped.get_json()
    assert skipped.get_json()["status"] == "skipped" and skipped.get_json()["reason"] == "客户停产检修 plant shutdown"
    again = client.post(f"/api/v1/maintenance-occurrences/{occurrence_id}/skip", json={"reason": "x"}, headers=office)
    assert again.status_code == 409 and again.mimetype == PROBLEM
    shown = client.get(f"/api/v1/maintenance-occurrences/{occurrence_id}", headers=office)
    assert shown.get_json()["status"] == "skipped"                   # stays visible (R-MNT-4)
    listed = client.get(f"/api/v1/maintenance-occurrences?plan_id={plan['id']}&status=skipped", headers=office)
    assert listed.get_json()["meta"]["total"] == 1


@pytest.mark.parametrize(("extra", "field"), [
    ({}, "asset_id"),                                                  # neither asset nor contract
    ({"asset_id": "ASSET", "contract_id": "CONTRACT"}, "asset_id"),
    ({"asset_id": "ASSET", "asset_ids": ["ASSET"]}, "asset_ids"),
    ({"contract_id": "CONTRACT", "asset_ids": ["ASSET"]}, "asset_ids"),  # that asset is not on the contract
    ({"contract_id": "00000000-0000-0000-0000-000000000009"}, "contract_id"),
    ({"contract_id": "CONTRACT", "team_id": "00000000-0000-0000-0000-000000000009"}, "team_id"),
    ({"contract_id": "CONTRACT", "team_id": "TEAM", "technician_id": "TECH"}, "team_id"),
])
def test_bad_contract_plans_are_422_with_nothing_written(client: FlaskClient, headers, make, contract_equipment,
                                                         count_rows, extra: dict[str, object], field: str) -> None:
    auth = headers(role="dispatcher")
    team = client.post("/api/v1/teams", json={"name": "T"}, headers=auth).get_json()
    names = {"ASSET": str(contract_equipment.asset.id), "CONTRACT": str(contract_equipment.contract.id),
             "TEAM": team["id"], "TECH": str(make.technician().id)}

    def fill(value: object) -> object:
        if isinstance(value, list):
            return [fill(v) for v in value]
        return names.get(value, value) if isinstance(value, str) else value

    before = count_rows()
    response = client.post("/api/v1/maintenance-plans", json=plan_body(**{k: fill(v) for k, v in extra.items()}),
                           headers=auth)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == PROBLEM and field in str(response.get_json())
    assert count_rows() == before


def test_skip_of_an_unknown_occurrence_is_404(client: FlaskClient, headers) -> None:
    response = client.post("/api/v1/maintenance-occurrences/00000000-0000-0000-0000-000000000001/skip",
                           json={"reason": "x"}, headers=headers(role="dispatcher"))
    assert response.status_code == 404 and response.mimetype == PROBLEM
    empty = client.post("/api/v1/maintenance-occurrences/00000000-0000-0000-0000-000000000001/skip",
                        json={"reason": ""}, headers=headers(role="dispatcher"))
    assert empty.status_code == 422


def test_retirement_and_contract_end_over_http(client: FlaskClient, headers, contract_equipment,
                                               count_rows) -> None:
    auth = headers(role="office")
    unit = contract_equipment.units[0]
    plan = client.post("/api/v1/maintenance-plans", json=plan_body(asset_id=str(unit.id)), headers=auth).get_json()
    client.post("/api/v1/maintenance-occurrences/generation", json={"horizon_days": 15},
                headers=headers(role="dispatcher"))
    retired = client.post(f"/api/v1/assets/{unit.id}/retirement", json={"reason": "售出 sold"}, headers=auth)
    assert retired.status_code == 200 and retired.get_json()["status"] == "retired"
    assert client.get(f"/api/v1/maintenance-plans/{plan['id']}", headers=auth).get_json()["status"] == "cancelled"
    statuses = client.get(f"/api/v1/maintenance-occurrences?plan_id={plan['id']}", headers=auth).get_json()
    assert {o["status"] for o in statuses["items"]} == {"cancelled"}
    before = count_rows()
    twice = client.post(f"/api/v1/assets/{unit.id}/retirement", json={"reason": "x"}, headers=auth)
    assert twice.status_code == 409 and twice.mimetype == PROBLEM
    assert count_rows() == before

    contract = contract_equipment.contract
    early = (contract.signed_on - timedelta(days=1)).isoformat()
    bad = client.post(f"/api/v1/contracts/{contract.id}/end", json={"status": "ended", "ended_on": early,
                                                                     "reason": "x"}, headers=auth)
    assert bad.status_code == 422 and count_rows() == before
    active = client.post(f"/api/v1/contracts/{contract.id}/end", json={"status": "active", "reason": "x"},
                         headers=auth)
    assert active.status_code == 422
    ended = client.post(f"/api/v1/contracts/{contract.id}/end", json={"status": "ended", "reason": "期满"},
                        headers=auth)
    assert ended.status_code == 200, ended.get_json()
    assert ended.get_json()["status"] == "ended" and ended.get_json()["end_reason"] == "期满"


def test_roles(client: FlaskClient, headers, contract_equipment) -> None:
    unit = contract_equipment.units[0]
    for role in ("technician", "parts_keeper"):
        auth = headers(role=role)
        assert client.post(f"/api/v1/assets/{unit.id}/retirement", json={"reason": "x"},
                           headers=auth).status_code == 403
        assert client.post(f"/api/v1/contracts/{contract_equipment.contract.id}/end",
                           json={"status": "ended", "reason": "x"}, headers=auth).status_code == 403
        assert client.post("/api/v1/maintenance-occurrences/00000000-0000-0000-0000-000000000001/skip",
                           json={"reason": "x"}, headers=auth).status_code == 403
        assert client.get("/api/v1/teams", headers=auth).status_code == 403
    assert client.post("/api/v1/teams", json={"name": "x"}, headers=headers(role="office")).status_code == 403
