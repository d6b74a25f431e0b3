"""Two generation runs at once (two scheduler processes) create each occurrence and visit exactly once."""
from __future__ import annotations

import threading
from datetime import date

import pytest
import sqlalchemy as sa
from flask import Flask

from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.maintenance import service
from fieldservice.maintenance.models import IntervalUnit, MaintenanceOccurrence, MaintenancePlan
from fieldservice.visits.models import Visit
from fieldservice.workorders.models import WorkOrder
from tests.factories import Factory


def test_the_unique_key_keeps_a_rerun_from_duplicating(app: Flask, new_plan, generate, count_rows) -> None:
    """Even when a plan's bookkeeping is behind (covered_through reset), existing due dates are not redone."""
    plan = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 1), interval=3, interval_unit=IntervalUnit.DAYS)
    assert generate(date(2027, 1, 1), 30)["created"] == 11
    rows = count_rows()
    with app.app_context(), unit_of_work():
        db.session.execute(sa.update(MaintenancePlan).where(MaintenancePlan.id == plan.id)
                           .values(covered_through=date(2026, 12, 31)))
    again = generate(date(2027, 1, 1), 30)
    assert again["plans"] == 1 and again["created"] == 0
    assert count_rows() == rows


@pytest.mark.postgres
def test_two_runs_at_once_create_each_visit_once(app: Flask, make: Factory) -> None:
    line = make.product_line()
    product = make.product(line.id)
    customer = make.customer()
    site = make.site(customer.id)
    for weeks in (1, 2, 3):
        asset = make.asset(customer.id, site.id, product.id)
        with app.app_context(), unit_of_work():
            service.create_plan(service.SYSTEM, {
                "asset_id": asset.id, "name": f"every {weeks} weeks", "items": [{"task": "inspect"}],
                "interval": weeks, "interval_unit": IntervalUnit.WEEKS, "start_on": date(2027, 1, 4)},
                today=date(2027, 1, 1))
    for horizon in (30, 90, 180):
        barrier = threading.Barrier(2)
        created: list[int] = []
        errors: list[BaseException] = []

        def run(horizon=horizon, barrier=barrier, created=created, errors=errors) -> None:  # type: ignore[no-untyped-def]
            with app.app_context():
                barrier.wait()
                try:
                    with unit_of_work():
                        created.append(service.generate_due_occurrences(date(2027, 1, 1), horizon).created)
                except BaseException as err:  # noqa: BLE001  (reported below)
                    errors.append(err)

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert errors == [] and len(created) == 2 and 0 in created, (errors, created)
    with app.app_context():
        count = lambda model: db.session.scalar(sa.select(sa.func.count()).select_from(model))  # noqa: E731
        occurrences, visits, orders = count(MaintenanceOccurrence), count(Visit), count(WorkOrder)
        due = db.session.scalars(sa.select(MaintenanceOccurrence.due_on)).all()
    # Jan 4 .. Jun 30 2027: 26 weekly, 13 fortnightly, 9 three-weekly
    assert occurrences == 26 + 13 + 9 == visits == orders
    assert len(due) == occurrences
