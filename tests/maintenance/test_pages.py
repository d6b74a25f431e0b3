"""Office pages for maintenance plans: server-rendered, Chinese text intact, the same refusals as the API
(422 with the reason shown, nothing written), roles (the follow-up page: tests/followups/test_pages.py)."""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.extensions import db
from fieldservice.maintenance.models import MaintenancePlan


def form(**values: str) -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"name": "年度保养 yearly", "items": "清洗滤网 clean filters | 滤网A; 滤网B\n检查压力 check pressure",
            "interval": "", "interval_unit": "", "rrule": "FREQ=YEARLY;BYMONTH=3,9;BYMONTHDAY=10",
            "start_on": today.isoformat(), "end_on": "", "window_start": "09:00", "window_end": "11:00",
            "technician_id": "", "team_id": "", **values}


def test_create_list_and_edit_a_plan(app: Flask, client: FlaskClient, headers, contract_equipment) -> None:
    auth = headers(role="office")
    page = client.get("/office/maintenance/plans/new", headers=auth)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert contract_equipment.contract.number in page.get_data(as_text=True)
    created = client.post("/office/maintenance/plans/new", headers=auth, data=form(
        contract_id=str(contract_equipment.contract.id), asset_ids=str(contract_equipment.units[0].id)))
    assert created.status_code == 303, created.get_data(as_text=True)
    with app.app_context():
        plan = db.session.scalars(sa.select(MaintenancePlan)).one()
        assert plan.items == [{"task": "清洗滤网 clean filters", "checklist": ["滤网A", "滤网B"]},
                              {"task": "检查压力 check pressure", "checklist": []}]
        assert plan.contract_id == contract_equipment.contract.id and plan.asset_ids == [contract_equipment.units[0].id]
        plan_id, version = plan.id, plan.version
    listing = client.get("/office/maintenance/plans", headers=auth).get_data(as_text=True)
    assert "年度保养 yearly" in listing and contract_equipment.contract.number in listing
    edit = client.get(f"/office/maintenance/plans/{plan_id}", headers=auth).get_data(as_text=True)
    assert "清洗滤网 clean filters | 滤网A; 滤网B" in edit and "FREQ=YEARLY;BYMONTH=3,9" in edit
    saved = client.post(f"/office/maintenance/plans/{plan_id}", headers=auth, data=form(
        name="半年保养 half-yearly", rrule="", interval="6", interval_unit="months", version=str(version),
        asset_ids=str(contract_equipment.units[0].id)))
    assert saved.status_code == 303
    with app.app_context():
        plan = db.session.get(MaintenancePlan, plan_id)
        assert (plan.name, plan.interval, plan.rrule) == ("半年保养 half-yearly", 6, None)
    stale = client.post(f"/office/maintenance/plans/{plan_id}", headers=auth, data=form(version=str(version)))
    assert stale.status_code == 409 and "stale" in stale.get_data(as_text=True)


def test_bad_forms_show_the_reason_and_write_nothing(client: FlaskClient, headers, equipment, count_rows) -> None:
    auth = headers(role="dispatcher")
    before = count_rows()
    for bad, shown in ((form(asset_id=str(equipment.asset.id), rrule="FREQ=SOMETIMES"), "rrule"),
                       (form(asset_id=str(equipment.asset.id), items=""), "items"),
                       (form(), "asset_id"),
                       (form(asset_id="not-a-uuid"), "asset_id"),
                       (form(asset_id=str(equipment.asset.id), end_on="2001-01-01"), "end_on")):
        response = client.post("/office/maintenance/plans/new", headers=auth, data=bad)
        assert response.status_code == 422, response.get_data(as_text=True)
        body = response.get_data(as_text=True)
        assert shown in body and "年度保养 yearly" in body                 # the form comes back filled in
    assert count_rows() == before


def test_pages_need_a_back_office_role(client: FlaskClient, headers) -> None:
    for role in ("technician", "parts_keeper"):
        auth = headers(role=role)
        assert client.get("/office/maintenance/plans", headers=auth).status_code == 403
        assert client.get("/office/follow-ups", headers=auth).status_code == 403
    anonymous = client.get("/office/maintenance/plans")             # no caller: the login form
    assert anonymous.status_code == 302 and "/office/login" in anonymous.headers["Location"]
