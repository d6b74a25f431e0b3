"""Property test: no JSON body makes the contract/team plan, team, skip, follow-up outcome, contract end or
asset retirement endpoints answer 5xx; refusals are problem responses."""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldservice.assets.models import Asset, AssetStatus
from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.lifecycle.events import WorkOrderStatusChanged, publish
from fieldservice.maintenance.models import (
    OPEN_OCCURRENCE_STATUSES,
    MaintenanceOccurrence,
    MaintenancePlan,
    OccurrenceStatus,
    PlanStatus,
)
from fieldservice.workorders.models import WorkOrder, WorkOrderStatus
from tests.factories import Factory
from tests.fuzzing import probe_request

FIELDS = ["contract_id", "asset_id", "asset_ids", "team_id", "technician_id", "technician_ids", "name", "items",
          "interval", "interval_unit", "rrule", "start_on", "end_on", "reason", "reached", "satisfaction",
          "remarks", "version", "status", "ended_on", "is_active"]


def test_new_endpoints_never_fail_with_5xx(app: Flask, make: Factory, contract_equipment) -> None:
    auth = {"Authorization": f"Bearer {make.token(make.user('admin').id)}"}
    client = app.test_client()
    today = datetime.now(UTC).date().isoformat()
    ids = [str(contract_equipment.contract.id), str(contract_equipment.units[0].id), str(contract_equipment.asset.id)]
    team = client.post("/api/v1/teams", json={"name": "队 fuzz"}, headers=auth).get_json()
    plan = client.post("/api/v1/maintenance-plans", headers=auth, json={
        "contract_id": ids[0], "name": "p", "items": [{"task": "t"}], "interval": 1, "interval_unit": "weeks",
        "start_on": today, "team_id": team["id"]}).get_json()
    client.post("/api/v1/maintenance-occurrences/generation", json={"horizon_days": 7}, headers=auth)
    occurrence = client.get(f"/api/v1/maintenance-occurrences?plan_id={plan['id']}", headers=auth).get_json()
    order = make.work_order(kind="installation")
    with app.app_context(), unit_of_work():  # a signed installation (a past fact) and its event: follow-up calls
        db.session.execute(sa.update(WorkOrder).where(WorkOrder.id == order.id)
                           .values(status=WorkOrderStatus.SIGNED))
        publish(WorkOrderStatusChanged(db.session.get(WorkOrder, order.id), WorkOrderStatus.WORK_COMPLETE,
                                       WorkOrderStatus.SIGNED, SYSTEM, datetime.now(UTC)))
    task = client.get(f"/api/v1/follow-ups?work_order_id={order.id}", headers=auth).get_json()["items"][0]
    scalars = (st.none() | st.booleans() | st.integers(min_value=-10**12, max_value=10**12)
               | st.floats(allow_nan=False) | st.text(max_size=30) | st.uuids().map(str) | st.sampled_from(
                   [*ids, team["id"], today, "2001-01-01", "2100-12-31", "ended", "cancelled", "active", "weeks",
                    "FREQ=YEARLY;BYMONTH=3,9;BYMONTHDAY=10", "很满意", 0, 1, 5, 6]))
    values = st.recursive(scalars, lambda children: st.lists(children, max_size=3)
                          | st.dictionaries(st.sampled_from(["task", "checklist"]), children, max_size=2),
                          max_leaves=8)
    endpoints = [("post", "/api/v1/maintenance-plans"), ("patch", f"/api/v1/maintenance-plans/{plan['id']}"),
                 ("post", "/api/v1/teams"), ("patch", f"/api/v1/teams/{team['id']}"),
                 ("post", f"/api/v1/maintenance-occurrences/{occurrence['items'][0]['id']}/skip"),
                 ("post", f"/api/v1/follow-ups/{task['id']}/outcome"),
                 ("post", f"/api/v1/contracts/{ids[0]}/end"), ("post", f"/api/v1/assets/{ids[2]}/retirement")]
    bodies = st.one_of(values, st.dictionaries(st.sampled_from(FIELDS), values, max_size=8))

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(index=st.integers(min_value=0, max_value=len(endpoints) - 1), body=bodies)
    def probe(index: int, body: object) -> None:
        method, path = endpoints[index]
        probe_request(client, method, path, body, auth)

    probe()
    # read back what fuzzing left: whatever was cancelled, skipped or retired left no stale status behind
    with app.app_context():
        open_statuses = [st_.value for st_ in OPEN_OCCURRENCE_STATUSES]
        stale_plan = db.session.scalar(sa.select(sa.func.count()).select_from(MaintenanceOccurrence).join(
            MaintenancePlan, MaintenancePlan.id == MaintenanceOccurrence.plan_id).where(
            MaintenancePlan.status == PlanStatus.CANCELLED, MaintenanceOccurrence.status.in_(open_statuses)))
        stale_asset = db.session.scalar(sa.select(sa.func.count()).select_from(MaintenanceOccurrence).join(
            Asset, Asset.id == MaintenanceOccurrence.asset_id).where(
            Asset.status == AssetStatus.RETIRED, MaintenanceOccurrence.status.in_(open_statuses)))
        live_orders = db.session.scalar(sa.select(sa.func.count()).select_from(MaintenanceOccurrence).join(
            WorkOrder, WorkOrder.id == MaintenanceOccurrence.work_order_id).where(
            MaintenanceOccurrence.status.in_([OccurrenceStatus.SKIPPED.value, OccurrenceStatus.CANCELLED.value]),
            WorkOrder.status != WorkOrderStatus.CANCELLED))
        assert (stale_plan, stale_asset, live_orders) == (0, 0, 0)
