"""Contract plans (one occurrence per asset and due date), team assignment (R-TEC-1), fixed dates (R-MNT-1/4)."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
from flask import Flask

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.errors import ValidationFailed
from fieldservice.maintenance import service
from fieldservice.maintenance.models import IntervalUnit, MaintenanceOccurrence
from fieldservice.teams import service as teams
from fieldservice.visits.models import Visit
from fieldservice.workorders.models import WorkOrder
from tests.factories import Factory

MONTHLY = {"interval": 1, "interval_unit": IntervalUnit.MONTHS}


def test_contract_plan_makes_one_occurrence_per_asset_and_due_date(make: Factory, new_contract_plan, generate,
                                                                    occurrences, contract_equipment,
                                                                    count_rows) -> None:
    plan = new_contract_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 15), window_start=datetime(
        2000, 1, 1, 9).time(), window_end=datetime(2000, 1, 1, 11).time(), **MONTHLY)
    counts = generate(date(2027, 1, 1), 45)                          # Jan 15 and Feb 15, for three units
    assert counts["created"] == 6 and counts["scheduled"] == 6 and counts["plans"] == 1
    found = occurrences(plan.id)
    units = {u.id for u in contract_equipment.units}
    assert {o.asset_id for o in found} == units                      # not the customer's other asset
    assert sorted((o.due_on, o.asset_id) for o in found) == sorted(
        (day, unit) for day in (date(2027, 1, 15), date(2027, 2, 15)) for unit in units)
    # each unit has its own work order, at its own site, and its visit in that site's zone
    orders = {o.work_order_id for o in found}
    assert len(orders) == 6
    west_unit = contract_equipment.units[2]
    for occurrence in found:
        order = make.get(WorkOrder, occurrence.work_order_id)
        visit = make.get(Visit, occurrence.visit_id)
        assert order.asset_id == occurrence.asset_id
        hour = 3 if occurrence.asset_id == west_unit.id else 1      # 09:00 in Urumqi (UTC+6) / Shanghai (UTC+8)
        assert visit.scheduled_start == datetime(occurrence.due_on.year, occurrence.due_on.month,
                                                 occurrence.due_on.day, hour, tzinfo=UTC)
    rows = count_rows()
    assert generate(date(2027, 1, 1), 45)["created"] == 0            # idempotent
    assert count_rows() == rows


def test_chosen_assets_only(new_contract_plan, generate, occurrences, contract_equipment) -> None:
    chosen = [contract_equipment.units[0].id, contract_equipment.units[2].id]
    plan = new_contract_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 15), asset_ids=chosen, **MONTHLY)
    assert generate(date(2027, 1, 1), 20)["created"] == 2
    assert {o.asset_id for o in occurrences(plan.id)} == set(chosen)


@pytest.mark.parametrize("case", ["not_on_contract", "twice", "asset_and_contract", "neither", "tech_and_team"])
def test_bad_contract_plans_are_refused(app: Flask, make: Factory, contract_equipment, case: str) -> None:
    units = contract_equipment.units
    data: dict[str, object] = {"contract_id": contract_equipment.contract.id, "name": "x", "items": [{"task": "t"}],
                               "start_on": date(2027, 1, 1), **MONTHLY}
    if case == "not_on_contract":
        data["asset_ids"] = [units[0].id, contract_equipment.asset.id]
    elif case == "twice":
        data["asset_ids"] = [units[0].id, units[0].id]
    elif case == "asset_and_contract":
        data["asset_id"] = units[0].id
    elif case == "neither":
        data.pop("contract_id")
    else:
        team = make._run(lambda: teams.create_team(SYSTEM, {"name": "东区 East"}))
        data.update(technician_id=make.technician().id, team_id=team.id)
    with app.app_context(), unit_of_work(), pytest.raises(ValidationFailed):
        service.create_plan(SYSTEM, data, today=date(2027, 1, 1))


def test_asset_installed_later_joins_an_all_assets_plan(make: Factory, new_contract_plan, generate, occurrences,
                                                        contract_equipment) -> None:
    plan = new_contract_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 1), interval=1,
                             interval_unit=IntervalUnit.WEEKS)
    assert generate(date(2027, 1, 1), 20)["created"] == 9            # Jan 1, 8, 15 x 3 units
    late = make.asset(contract_equipment.customer.id, contract_equipment.site.id, contract_equipment.product.id,
                      contract_line_id=contract_equipment.line_id)
    counts = generate(date(2027, 1, 1), 20)
    # the new unit gets its due dates from today; the others are not doubled
    assert counts["created"] == 3
    assert sorted(o.due_on.day for o in occurrences(plan.id) if o.asset_id == late.id) == [1, 8, 15]


def test_team_plan_picks_the_first_certified_free_member(make: Factory, new_contract_plan, generate, occurrences,
                                                         contract_equipment) -> None:
    uncertified = make.technician(name="王 uncertified")
    busy = make.technician(name="李 busy", certified_for=[contract_equipment.line.id])
    free = make.technician(name="张 free", certified_for=[contract_equipment.line.id])
    # busy has a visit over Jan 15, 09:00-11:00 Shanghai time
    make.dispatched_job(technician=busy, start=datetime(2027, 1, 15, 0, 0, tzinfo=UTC))
    team = make._run(lambda: teams.create_team(SYSTEM, {"name": "浦东组 Pudong", "technician_ids": [
        uncertified.id, busy.id, free.id]}))
    new_contract_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 15), team_id=team.id,
                      asset_ids=[contract_equipment.units[0].id], **MONTHLY)
    counts = generate(date(2027, 1, 1), 20)
    assert counts["assigned"] == 1 and counts["unassigned"] == 0
    occurrence = occurrences()[0]
    assert make.get(Visit, occurrence.visit_id).technician_id == free.id and occurrence.note is None


def test_team_with_nobody_available_leaves_the_visit_unassigned_with_the_reasons(
        make: Factory, new_contract_plan, generate, occurrences, contract_equipment) -> None:
    uncertified = make.technician(name="王 uncertified")
    expired = make.technician(name="赵 expired", certified_for=[contract_equipment.line.id],
                              expires_on=date(2026, 12, 31))
    team = make._run(lambda: teams.create_team(SYSTEM, {"name": "西区 West", "technician_ids": [
        uncertified.id, expired.id]}))
    new_contract_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 15), team_id=team.id,
                      asset_ids=[contract_equipment.units[0].id], **MONTHLY)
    counts = generate(date(2027, 1, 1), 20)
    assert counts["scheduled"] == 1 and counts["unassigned"] == 1
    occurrence = occurrences()[0]
    assert make.get(Visit, occurrence.visit_id).technician_id is None
    assert occurrence.note.startswith("no team member assigned")
    assert "王 uncertified" in occurrence.note and "赵 expired" in occurrence.note


def test_editing_the_chosen_assets_cancels_the_dropped_ones_and_adds_the_new(
        app: Flask, make: Factory, new_contract_plan, generate, occurrences, contract_equipment) -> None:
    units = contract_equipment.units
    plan = new_contract_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 15), asset_ids=[units[0].id],
                             **MONTHLY)
    generate(date(2027, 1, 1), 20)
    [first] = occurrences(plan.id)
    with app.app_context(), unit_of_work():
        service.update_plan(SYSTEM, plan.id, {"asset_ids": [units[1].id]}, today=date(2027, 1, 2))
    dropped = make.get(MaintenanceOccurrence, first.id)
    assert dropped.status.value == "cancelled" and dropped.reason == "asset removed from the maintenance plan"
    assert make.get(WorkOrder, first.work_order_id).status.value == "cancelled"
    assert generate(date(2027, 1, 2), 20)["created"] == 1
    assert {(o.asset_id, o.status.value) for o in occurrences(plan.id)} == {
        (units[0].id, "cancelled"), (units[1].id, "scheduled")}


def test_specific_months_every_year(new_contract_plan, generate, occurrences, contract_equipment) -> None:
    """Specific months (every March and September) are an RRULE with BYMONTH."""
    plan = new_contract_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 1),
                             rrule="FREQ=YEARLY;BYMONTH=3,9;BYMONTHDAY=10", asset_ids=[contract_equipment.units[0].id])
    generate(date(2027, 1, 1), 366)
    assert [o.due_on for o in occurrences(plan.id)] == [date(2027, 3, 10), date(2027, 9, 10)]


def test_contract_plan_skips_units_awaiting_installation_until_their_sheet_is_signed(
        app: Flask, client, make: Factory, new_contract_plan, generate, occurrences,  # type: ignore[no-untyped-def]
        contract_equipment) -> None:
    """A contract-wide plan schedules no visits for a unit not yet installed (before: it did); once the
    unit's installation sheet is signed (R-INS-6) it gets its due dates from that day on."""
    import sqlalchemy as sa

    from fieldservice.assets.models import Asset, AssetStatus
    from fieldservice.auth.models import User
    from fieldservice.auth.service import actor_for
    from fieldservice.extensions import db
    from fieldservice.records import service as records_service
    from fieldservice.records.models import ServiceRecord
    from fieldservice.records.schemas import SignoffInSchema
    from tests.records.conftest import create_record, finish_visit, installation_content, signoff_body

    equipment = contract_equipment
    pending = make.asset(equipment.customer.id, equipment.site.id, equipment.product.id,
                         contract_line_id=equipment.line_id, status=AssetStatus.AWAITING_INSTALLATION)
    plan = new_contract_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 1), interval=1,
                             interval_unit=IntervalUnit.WEEKS)
    assert generate(date(2027, 1, 1), 20)["created"] == 9            # Jan 1, 8, 15 x the 3 units in service
    assert pending.id not in {o.asset_id for o in occurrences(plan.id)}
    # the unit is installed: its sheet is signed on Jan 10
    tech = make.technician(certified_for=[equipment.line.id])
    order = make.work_order(kind="installation", customer_id=equipment.customer.id, site_id=equipment.site.id,
                            asset_id=pending.id, product_id=equipment.product.id)
    job = SimpleNamespace(order=order, visit=make.visit(order.id, technician_id=tech.id), product=equipment.product,
                          auth={"Authorization": f"Bearer {make.token(tech.user_id)}"})
    model = equipment.product.model_code
    record = create_record(client, job, "installation_sheet", installation_content(
        contract_check=[{"item": "model", "expected": model, "found": model},
                        {"item": "serial_number", "expected": pending.serial_number, "found": pending.serial_number}],
        installed_serial_number=pending.serial_number, installed_on="2027-01-10"))
    finish_visit(client, job)  # the sheet is written first: the lifecycle gate wants it to report the work done
    with app.app_context(), unit_of_work():
        sheet = db.session.get(ServiceRecord, uuid.UUID(record["id"]))
        actor = actor_for(db.session.scalars(sa.select(User).where(User.id == tech.user_id)).one())
        records_service.sign_record(actor, sheet.id, SignoffInSchema().load(
            signoff_body(records_service.content_hash(sheet))), now=datetime(2027, 1, 10, 3, tzinfo=UTC))
    assert make.get(Asset, pending.id).status == "in_service"
    counts = generate(date(2027, 1, 10), 20)                         # through Jan 30
    assert counts["created"] == 9                                    # Jan 22, 29 x 3 units; Jan 15, 22, 29 for it
    assert sorted(o.due_on for o in occurrences(plan.id) if o.asset_id == pending.id) == [
        date(2027, 1, 15), date(2027, 1, 22), date(2027, 1, 29)]
