"""Generation of occurrences, work orders and visits from maintenance plans, with fixed dates."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time
from types import SimpleNamespace

import pytest
from flask import Flask

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.errors import ValidationFailed
from fieldservice.maintenance import service
from fieldservice.maintenance.models import IntervalUnit, MaintenancePlan
from fieldservice.visits.models import Visit, VisitStatus
from fieldservice.workorders.models import WorkOrder, WorkOrderKind, WorkOrderStatus
from tests.factories import Factory

MONTHLY = {"interval": 1, "interval_unit": IntervalUnit.MONTHS}


def plan_model(**values: object) -> MaintenancePlan:
    return MaintenancePlan(**{"interval": None, "interval_unit": None, "rrule": None, "end_on": None, **values})


@pytest.mark.parametrize(("start", "expected"), [
    (date(2028, 1, 31), [date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31), date(2028, 4, 30),
                         date(2028, 5, 31)]),
    (date(2027, 1, 31), [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30),
                         date(2027, 5, 31)]),
])
def test_monthly_dates_across_month_ends(start: date, expected: list[date]) -> None:
    plan = plan_model(start_on=start, **MONTHLY)
    assert service.due_dates(plan, start, date(start.year, 6, 15)) == expected
    # a later window gives the same dates (counted from the start, no drift after February)
    assert service.due_dates(plan, date(start.year, 3, 1), date(start.year, 6, 15)) == expected[2:]


def test_interval_end_date_and_window() -> None:
    plan = plan_model(start_on=date(2027, 1, 1), interval=2, interval_unit=IntervalUnit.WEEKS, end_on=date(2027, 2, 1))
    assert service.due_dates(plan, date(2026, 12, 1), date(2027, 12, 31)) == [
        date(2027, 1, 1), date(2027, 1, 15), date(2027, 1, 29)]
    quarterly = plan_model(start_on=date(2026, 11, 30), interval=3, interval_unit=IntervalUnit.MONTHS)
    assert service.due_dates(quarterly, date(2030, 1, 1), date(2030, 12, 31)) == [
        date(2030, 2, 28), date(2030, 5, 30), date(2030, 8, 30), date(2030, 11, 30)]


def test_rrule_dates() -> None:
    plan = plan_model(start_on=date(2027, 1, 1), rrule="FREQ=MONTHLY;BYMONTH=3,9;BYMONTHDAY=15")
    assert service.due_dates(plan, date(2027, 1, 1), date(2028, 12, 31)) == [
        date(2027, 3, 15), date(2027, 9, 15), date(2028, 3, 15), date(2028, 9, 15)]
    counted = plan_model(start_on=date(2027, 1, 4), rrule="RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3")
    assert service.due_dates(counted, date(2027, 1, 1), date(2027, 12, 31)) == [
        date(2027, 1, 4), date(2027, 1, 11), date(2027, 1, 18)]


@pytest.mark.parametrize("text", ["FREQ=FORTNIGHTLY", "FREQ=HOURLY", "nonsense", "DTSTART:20270101T000000",
                                  "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30", "FREQ=DAILY;UNTIL=20200101", ""])
def test_unusable_rrules_are_refused(text: str) -> None:
    with pytest.raises(ValidationFailed):
        service.parse_rrule(text, date(2027, 1, 1))


def test_generation_creates_work_orders_and_visits_in_the_window(app: Flask, new_plan, generate,
                                                                  occurrences, equipment) -> None:
    plan = new_plan(today=date(2028, 1, 1), start_on=date(2028, 1, 31), window_start=time(14, 0),
                    window_end=time(17, 30), **MONTHLY)
    counts = generate(date(2028, 1, 1), 60)
    assert counts["created"] == 2 and counts["scheduled"] == 2 and counts["unassigned"] == 2
    found = occurrences(plan.id)
    assert [o.due_on for o in found] == [date(2028, 1, 31), date(2028, 2, 29)]
    assert {o.status.value for o in found} == {"scheduled"}
    with app.app_context():
        from fieldservice.extensions import db

        visit = db.session.get(Visit, found[1].visit_id)
        order = db.session.get(WorkOrder, found[1].work_order_id)
        # 14:00-17:30 in Shanghai (UTC+8) on Feb 29th
        assert visit.scheduled_start == datetime(2028, 2, 29, 6, 0, tzinfo=UTC)
        assert visit.scheduled_end == datetime(2028, 2, 29, 9, 30, tzinfo=UTC)
        assert visit.status is VisitStatus.PLANNED and visit.technician_id is None
        assert order.kind is WorkOrderKind.MAINTENANCE and order.asset_id == equipment.asset.id
        assert order.status is WorkOrderStatus.SCHEDULED and "Clean filters" in order.description


def test_running_twice_creates_nothing_new(new_plan, generate, occurrences, count_rows) -> None:
    new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 1), interval=1, interval_unit=IntervalUnit.WEEKS)
    first = generate(date(2027, 1, 1), 30)
    assert first["created"] == 5
    rows = count_rows()
    second = generate(date(2027, 1, 1), 30)
    assert second["created"] == 0 and second["plans"] == 0
    assert count_rows() == rows


def test_horizon_changes_and_end_dates(new_plan, generate, occurrences) -> None:
    plan = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 10), end_on=date(2027, 5, 10), **MONTHLY)
    assert generate(date(2027, 1, 1), 30)["created"] == 1             # Jan 10
    assert generate(date(2027, 1, 1), 90)["created"] == 2             # Feb 10, Mar 10
    assert generate(date(2027, 1, 1), 30)["created"] == 0             # a shorter horizon removes nothing
    assert generate(date(2027, 3, 1), 365)["created"] == 2            # Apr 10, May 10; the end date stops it
    assert [o.due_on.month for o in occurrences(plan.id)] == [1, 2, 3, 4, 5]
    assert generate(date(2027, 6, 1), 365)["created"] == 0


def test_past_due_occurrences_become_missed_and_stay(new_plan, generate, occurrences) -> None:
    plan = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), interval=1, interval_unit=IntervalUnit.WEEKS)
    generate(date(2027, 1, 1), 11)                                    # Jan 5, Jan 12 scheduled
    counts = generate(date(2027, 1, 20), 0)                           # the job did not run for a while
    # the two scheduled ones are past due; Jan 19 was never generated in time: created as missed
    assert counts["missed"] == 3 and counts["created"] == 1
    found = occurrences(plan.id)
    assert [(o.due_on.day, o.status.value) for o in found] == [(5, "missed"), (12, "missed"), (19, "missed")]
    assert found[0].visit_id is not None and found[2].visit_id is None


def test_done_and_skipped_follow_the_work_order(app: Flask, new_plan, generate, occurrences, make: Factory) -> None:
    from fieldservice.workorders import service as workorders

    plan = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), interval=1, interval_unit=IntervalUnit.WEEKS)
    generate(date(2027, 1, 1), 11)
    first, second = occurrences(plan.id)
    with app.app_context(), unit_of_work():
        workorders.cancel_work_order(SYSTEM, second.work_order_id, "customer closed for holidays")
    # the occurrence follows its job at once (maintenance/reactions.py); the run's backstop finds nothing left
    assert [o.status.value for o in occurrences(plan.id)] == ["scheduled", "skipped"]
    assert generate(date(2027, 1, 1), 11)["skipped"] == 0
    # skipped stays skipped when its date passes; the other one is missed
    generate(date(2027, 1, 20), 0)
    assert [o.status.value for o in occurrences(plan.id)][:2] == ["missed", "skipped"]
    # the technician finishes the missed one late: it is done
    with app.app_context(), unit_of_work():
        import sqlalchemy as sa

        from fieldservice.extensions import db

        db.session.execute(sa.update(WorkOrder).where(WorkOrder.id == first.work_order_id)
                           .values(status=WorkOrderStatus.WORK_COMPLETE))
    assert generate(date(2027, 1, 21), 0)["done"] == 1
    assert [o.status.value for o in occurrences(plan.id)][:2] == ["done", "skipped"]


def test_plan_technician_assigned_when_certified(make: Factory, new_plan, generate, occurrences, equipment) -> None:
    tech = make.technician(certified_for=[equipment.line.id])
    new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), technician_id=tech.id, **MONTHLY)
    counts = generate(date(2027, 1, 1), 10)
    assert counts["assigned"] == 1 and counts["unassigned"] == 0
    assert make.get(Visit, occurrences()[0].visit_id).technician_id == tech.id


def test_uncertified_technician_leaves_the_visit_unassigned_with_a_reason(make: Factory, new_plan, generate,
                                                                         occurrences) -> None:
    tech = make.technician()                                          # no certification for the line
    new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), technician_id=tech.id, **MONTHLY)
    counts = generate(date(2027, 1, 1), 10)
    assert counts["scheduled"] == 1 and counts["unassigned"] == 1
    occurrence = occurrences()[0]
    assert make.get(Visit, occurrence.visit_id).technician_id is None
    assert occurrence.note and occurrence.note.startswith("technician not assigned")


def test_busy_technician_leaves_the_visit_unassigned(make: Factory, new_plan, generate, occurrences,
                                                     equipment) -> None:
    tech = make.technician(certified_for=[equipment.line.id])
    make.dispatched_job(technician=tech, start=datetime(2027, 1, 5, 0, 0, tzinfo=UTC))  # 08:00-10:00 Shanghai
    new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), technician_id=tech.id, **MONTHLY)
    assert generate(date(2027, 1, 1), 10)["unassigned"] == 1
    assert "already has a visit" in occurrences()[0].note


def test_cancelling_a_plan_cancels_its_open_occurrences_visits_and_work_orders(app: Flask, new_plan, generate,
                                                                              occurrences, make: Factory) -> None:
    plan = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), interval=1, interval_unit=IntervalUnit.WEEKS)
    generate(date(2027, 1, 1), 20)
    generate(date(2027, 1, 8), 20)                                    # Jan 5 missed, more scheduled
    before = occurrences(plan.id)
    assert before[0].status.value == "missed"
    with app.app_context(), unit_of_work():
        service.cancel_plan(SYSTEM, plan.id, "asset sold")
    after = occurrences(plan.id)
    assert after[0].status.value == "missed"                          # history stays
    assert {o.status.value for o in after[1:]} == {"cancelled"}
    for occurrence in after:
        assert make.get(Visit, occurrence.visit_id).status is VisitStatus.CANCELLED
        assert make.get(WorkOrder, occurrence.work_order_id).status is WorkOrderStatus.CANCELLED
    assert generate(date(2027, 3, 1), 60)["created"] == 0             # nothing generated any more


def test_editing_the_recurrence_regenerates_only_unscheduled_future(app: Flask, new_plan, generate,
                                                                    occurrences) -> None:
    plan = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), **MONTHLY)
    generate(date(2027, 1, 1), 10)                                    # Jan 5 scheduled
    with app.app_context(), unit_of_work():
        service.update_plan(SYSTEM, plan.id, {"interval": 1, "interval_unit": IntervalUnit.WEEKS},
                            today=date(2027, 1, 2))
    generate(date(2027, 1, 2), 20)
    assert [(o.due_on.day, o.status.value) for o in occurrences(plan.id)] == [
        (5, "scheduled"), (12, "scheduled"), (19, "scheduled")]
    with app.app_context(), unit_of_work():
        updated = service.update_plan(SYSTEM, plan.id, {"rrule": "FREQ=MONTHLY;BYMONTHDAY=1"},
                                      today=date(2027, 1, 2))
        assert (updated.interval, updated.interval_unit) == (None, None)
    assert generate(date(2027, 1, 2), 40)["created"] == 1             # Feb 1 only; scheduled ones stay
    assert len(occurrences(plan.id)) == 4


def test_pending_occurrences_are_regenerated_on_edit(app: Flask, new_plan, generate, occurrences,
                                                     equipment) -> None:
    """An occurrence whose work order could not be made stays pending (with the reason), and an edit of the
    recurrence replaces it."""
    import sqlalchemy as sa

    from fieldservice.assets.models import Asset
    from fieldservice.extensions import db

    plan = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), **MONTHLY)
    other = SimpleNamespace(id=None)
    with app.app_context(), unit_of_work():
        from fieldservice.customers import service as customers

        other = customers.create_customer(SYSTEM, {"name": "另一个客户"})
        # an inconsistent asset (customer changed behind its site's back): work order creation refuses it
        db.session.execute(sa.update(Asset).where(Asset.id == equipment.asset.id).values(customer_id=other.id))
    counts = generate(date(2027, 1, 1), 10)
    assert counts["pending"] == 1 and counts["scheduled"] == 0
    pending = occurrences(plan.id)[0]
    assert pending.status.value == "pending" and pending.note.startswith("no visit planned")
    with app.app_context(), unit_of_work():
        service.update_plan(SYSTEM, plan.id, {"start_on": date(2027, 1, 6)}, today=date(2027, 1, 1))
    assert occurrences(plan.id) == []


def test_a_run_reads_only_plans_with_a_date_in_the_new_horizon(app: Flask, new_plan, generate, occurrences) -> None:
    """After a run each plan counts as covered up to the day before its next due date, so the next day's run
    reads only the plans with something due in the day the horizon gained (bench/schedule_bench.py)."""
    early = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), **MONTHLY)
    late = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 20), **MONTHLY)
    first = generate(date(2027, 1, 1), 10)                           # the late plan starts after Jan 11
    assert (first["plans"], first["created"]) == (1, 1)
    with app.app_context():
        from fieldservice.extensions import db

        assert db.session.get(MaintenancePlan, early.id).covered_through == date(2027, 2, 4)
        assert db.session.get(MaintenancePlan, late.id).covered_through == date(2027, 1, 19)
    assert generate(date(2027, 1, 2), 10)["plans"] == 0               # nothing due by Jan 12: no plan read
    day = generate(date(2027, 1, 10), 10)                             # the horizon reaches Jan 20
    assert (day["plans"], day["created"]) == (1, 1)
    assert generate(date(2027, 1, 25), 20)["plans"] == 1              # Feb 5 for the early plan
    assert [o.due_on for o in occurrences(early.id)] == [date(2027, 1, 5), date(2027, 2, 5)]
    assert [o.due_on for o in occurrences(late.id)] == [date(2027, 1, 20)]


def test_next_due_after_respects_counts_and_end_dates() -> None:
    counted = plan_model(start_on=date(2027, 1, 4), rrule="FREQ=WEEKLY;COUNT=2")
    assert service.next_due_after(counted, date(2027, 1, 4)) == date(2027, 1, 11)
    assert service.next_due_after(counted, date(2027, 1, 11)) is None
    ending = plan_model(start_on=date(2027, 1, 31), end_on=date(2027, 3, 30), **MONTHLY)
    assert service.next_due_after(ending, date(2027, 1, 31)) == date(2027, 2, 28)
    assert service.next_due_after(ending, date(2027, 2, 28)) is None     # Mar 31 is after the end
    before_start = plan_model(start_on=date(2027, 6, 1), interval=2, interval_unit=IntervalUnit.WEEKS)
    assert service.next_due_after(before_start, date(2027, 1, 1)) == date(2027, 6, 1)


def test_a_run_reads_each_customer_and_product_once(app: Flask, make: Factory, equipment: SimpleNamespace,
                                                    generate: Callable[..., dict[str, int]]) -> None:
    """Four plans on four assets of one customer: the run reads that customer and product once, not once per
    occurrence (the work-order service's own checks hit the held objects), and a maintenance order's move to
    scheduled does not recompute repeat repairs (a repair-only KPI fact, R-KPI-1). Every check still runs:
    each occurrence gets its work order and visit."""
    from sqlalchemy import event

    from fieldservice.extensions import db

    today = date(2027, 3, 1)
    for day in range(4):
        asset = make.asset(equipment.customer.id, equipment.site.id, equipment.product.id)
        with app.app_context(), unit_of_work():
            service.create_plan(SYSTEM, {"asset_id": asset.id, "name": "月度保养 monthly", "start_on": date(2027, 3, 2 + day),
                                         "items": [{"task": "清洗滤网 clean filters"}], **MONTHLY}, today=today)
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        counts = generate(today)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert counts["created"] == counts["scheduled"] == 4
    assert sum(" FROM customers " in s for s in statements) == 1
    assert sum(" FROM products " in s for s in statements) == 1
    assert not any(s.startswith("UPDATE work_orders SET repeat_repair_at") for s in statements)
