"""Skipping an occurrence, retiring an asset, ending or cancelling a contract: open occurrences are stopped
with their visits and work orders, history stays visible (R-MNT-4), and no status is left stale."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask

from fieldservice.assets import service as assets
from fieldservice.auth.service import SYSTEM
from fieldservice.contracts import service as contracts
from fieldservice.contracts.models import ContractStatus
from fieldservice.db import unit_of_work
from fieldservice.errors import InvalidTransition
from fieldservice.extensions import db
from fieldservice.maintenance import service
from fieldservice.maintenance.models import IntervalUnit, MaintenancePlan
from fieldservice.visits.models import Visit, VisitStatus
from fieldservice.workorders.models import WorkOrder, WorkOrderStatus
from tests.factories import Factory

WEEKLY = {"interval": 1, "interval_unit": IntervalUnit.WEEKS}


def test_skip_cancels_the_visit_and_work_order_and_stays_listed(app: Flask, make: Factory, new_plan, generate,
                                                                occurrences) -> None:
    plan = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), **WEEKLY)
    generate(date(2027, 1, 1), 11)                                    # Jan 5, Jan 12
    first, second = occurrences(plan.id)
    with app.app_context(), unit_of_work():
        service.skip_occurrence(SYSTEM, second.id, "客户放假 customer closed")
    skipped = occurrences(plan.id)[1]
    assert skipped.status.value == "skipped" and skipped.reason == "客户放假 customer closed"
    assert make.get(Visit, second.visit_id).status is VisitStatus.CANCELLED
    assert make.get(WorkOrder, second.work_order_id).status is WorkOrderStatus.CANCELLED
    # later runs neither recreate it nor move it; when its date passes it stays skipped, the other is missed
    assert generate(date(2027, 1, 1), 11)["created"] == 0
    generate(date(2027, 1, 20), 0)
    assert [o.status.value for o in occurrences(plan.id)][:2] == ["missed", "skipped"]
    with app.app_context(), unit_of_work(), pytest.raises(InvalidTransition):
        service.skip_occurrence(SYSTEM, second.id, "again")
    with app.app_context(), unit_of_work(), pytest.raises(InvalidTransition):
        service.skip_occurrence(SYSTEM, first.id, "too late: it is missed")


def test_skip_is_refused_once_the_work_has_started(app: Flask, make: Factory, new_plan, generate, occurrences,
                                                   count_rows) -> None:
    plan = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), **WEEKLY)
    generate(date(2027, 1, 1), 4)
    [occurrence] = occurrences(plan.id)
    with app.app_context(), unit_of_work():
        db.session.execute(sa.update(WorkOrder).where(WorkOrder.id == occurrence.work_order_id)
                           .values(status=WorkOrderStatus.IN_PROGRESS))
    before = count_rows()
    with app.app_context(), unit_of_work(), pytest.raises(InvalidTransition):
        service.skip_occurrence(SYSTEM, occurrence.id, "no")
    assert count_rows() == before
    assert occurrences(plan.id)[0].status.value == "scheduled"
    assert make.get(WorkOrder, occurrence.work_order_id).status is WorkOrderStatus.IN_PROGRESS


def test_retiring_an_asset_stops_its_plans_and_contract_occurrences(app: Flask, make: Factory, new_plan,
                                                                    new_contract_plan, generate, occurrences,
                                                                    contract_equipment) -> None:
    unit, other = contract_equipment.units[0], contract_equipment.units[1]
    own = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), asset_id=unit.id, **WEEKLY)
    shared = new_contract_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5),
                               asset_ids=[unit.id, other.id], **WEEKLY)
    generate(date(2027, 1, 1), 10)
    generate(date(2027, 1, 8), 10)                                    # Jan 5 is now missed
    with app.app_context(), unit_of_work():
        assets.retire_asset(SYSTEM, unit.id, "scrapped 报废")
    with app.app_context():
        assert db.session.get(MaintenancePlan, own.id).status.value == "cancelled"
        assert db.session.get(MaintenancePlan, shared.id).status.value == "active"
    # the retired unit: missed stays missed (history), the rest is cancelled; no open visit or order is left
    for occurrence in [o for o in occurrences() if o.asset_id == unit.id]:
        assert occurrence.status.value in ("missed", "cancelled"), occurrence
        assert make.get(Visit, occurrence.visit_id).status is VisitStatus.CANCELLED
        assert make.get(WorkOrder, occurrence.work_order_id).status is WorkOrderStatus.CANCELLED
        if occurrence.status.value == "cancelled":
            assert occurrence.reason == "asset retired: scrapped 报废"
    # the other unit keeps its visits, and generation goes on for it alone
    assert {o.status.value for o in occurrences(shared.id) if o.asset_id == other.id} == {"missed", "scheduled"}
    counts = generate(date(2027, 1, 8), 30)
    assert counts["created"] == 3                                  # Jan 19, 26, Feb 2: the other unit only
    assert all(o.asset_id == other.id for o in occurrences() if o.due_on > date(2027, 1, 19))


def test_setting_the_status_to_retired_runs_the_same_stop(app: Flask, new_plan, generate, occurrences,
                                                          equipment) -> None:
    from fieldservice.assets.models import AssetStatus

    plan = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), **WEEKLY)
    generate(date(2027, 1, 1), 10)
    with app.app_context(), unit_of_work():
        assets.update_asset(SYSTEM, equipment.asset.id, {"status": AssetStatus.RETIRED})
    assert {o.status.value for o in occurrences(plan.id)} == {"cancelled"}
    with app.app_context(), unit_of_work(), pytest.raises(InvalidTransition):
        assets.update_asset(SYSTEM, equipment.asset.id, {"status": AssetStatus.IN_SERVICE})


def test_ending_a_contract_ends_its_plans_after_that_day(app: Flask, make: Factory, new_contract_plan, generate,
                                                         occurrences, contract_equipment, new_plan) -> None:
    plan = new_contract_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5),
                             asset_ids=[contract_equipment.units[0].id], **WEEKLY)
    single = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), asset_id=contract_equipment.units[1].id,
                      **WEEKLY)
    generate(date(2027, 1, 1), 30)                                    # Jan 5 .. Jan 26
    with app.app_context(), unit_of_work():
        contracts.end_contract(SYSTEM, contract_equipment.contract.id, status=ContractStatus.ENDED,
                               ended_on=date(2027, 1, 15), reason="到期 expired")
    found = occurrences(plan.id)
    assert [(o.due_on.day, o.status.value) for o in found] == [
        (5, "scheduled"), (12, "scheduled"), (19, "cancelled"), (26, "cancelled")]
    assert found[2].reason == "contract " + contract_equipment.contract.number + " ended: 到期 expired"
    assert make.get(Visit, found[3].visit_id).status is VisitStatus.CANCELLED
    with app.app_context():
        assert db.session.get(MaintenancePlan, plan.id).end_on == date(2027, 1, 15)
    assert generate(date(2027, 1, 1), 90)["created"] == 9             # only the single-asset plan goes on
    assert len(occurrences(plan.id)) == 4
    assert {o.status.value for o in occurrences(single.id)} == {"scheduled"}
    with app.app_context(), unit_of_work(), pytest.raises(InvalidTransition):
        contracts.end_contract(SYSTEM, contract_equipment.contract.id, status=ContractStatus.CANCELLED, reason="x")


def test_cancelling_a_contract_cancels_its_plans(app: Flask, make: Factory, new_contract_plan, generate,
                                                 occurrences, contract_equipment) -> None:
    plan = new_contract_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), **WEEKLY)
    generate(date(2027, 1, 1), 10)
    with app.app_context(), unit_of_work():
        contracts.end_contract(SYSTEM, contract_equipment.contract.id, status=ContractStatus.CANCELLED,
                               ended_on=date(2027, 1, 2), reason="退货 returned")
    assert {o.status.value for o in occurrences(plan.id)} == {"cancelled"}
    for occurrence in occurrences(plan.id):
        assert make.get(WorkOrder, occurrence.work_order_id).status is WorkOrderStatus.CANCELLED
    with app.app_context():
        assert db.session.get(MaintenancePlan, plan.id).status.value == "cancelled"
    assert generate(date(2027, 1, 1), 60)["created"] == 0
