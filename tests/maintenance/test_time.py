"""The scheduler job under a travelling clock (time-machine): a monthly plan across month ends and the leap
day, horizon changes in the configuration, an end date, and past due dates becoming missed (R-MNT-4)."""
from __future__ import annotations

from datetime import UTC, date, datetime

import time_machine
from flask import Flask

from fieldservice.maintenance.models import IntervalUnit
from schedules import jobs


def job_on(app: Flask, day: date, horizon: int | None = None) -> dict[str, int]:
    if horizon is not None:
        app.config["MAINTENANCE_HORIZON_DAYS"] = horizon
    with time_machine.travel(datetime(day.year, day.month, day.day, 1, 30, tzinfo=UTC), tick=False):
        return jobs.generate_maintenance_visits(app)


def test_monthly_plan_through_the_leap_year_with_horizon_changes(app: Flask, new_plan, occurrences) -> None:
    plan = new_plan(today=date(2028, 1, 1), start_on=date(2028, 1, 31), end_on=date(2028, 6, 30),
                    interval=1, interval_unit=IntervalUnit.MONTHS)

    def dates() -> list[tuple[date, str]]:
        return [(o.due_on, o.status.value) for o in occurrences(plan.id)]

    assert job_on(app, date(2028, 1, 1), 30)["created"] == 1         # Jan 31
    assert job_on(app, date(2028, 1, 2))["created"] == 0             # the horizon moved a day: nothing new
    assert job_on(app, date(2028, 2, 1))["created"] == 1             # Feb 29 (leap year), within Mar 2
    assert job_on(app, date(2028, 2, 1), 60)["created"] == 1         # a longer horizon: Mar 31
    assert job_on(app, date(2028, 2, 1), 10)["created"] == 0         # a shorter one removes nothing
    assert dates() == [(date(2028, 1, 31), "missed"), (date(2028, 2, 29), "scheduled"),
                       (date(2028, 3, 31), "scheduled")]
    # the job did not run in April: Apr 30 is created already missed, with May 31 and Jun 30; the end date
    # stops it there; Feb 29 and Mar 31 passed undone and are missed too
    counts = job_on(app, date(2028, 5, 1), 90)
    assert counts["created"] == 3 and counts["missed"] == 3
    assert job_on(app, date(2028, 7, 1), 365)["created"] == 0
    assert dates() == [(date(2028, 1, 31), "missed"), (date(2028, 2, 29), "missed"), (date(2028, 3, 31), "missed"),
                       (date(2028, 4, 30), "missed"), (date(2028, 5, 31), "missed"), (date(2028, 6, 30), "missed")]
    assert occurrences(plan.id)[3].visit_id is None                  # created past due: no visit planned


def test_a_common_year_gives_february_28th(app: Flask, new_plan, occurrences) -> None:
    plan = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 29), interval=1, interval_unit=IntervalUnit.MONTHS)
    job_on(app, date(2027, 1, 1), 70)
    assert [o.due_on for o in occurrences(plan.id)] == [date(2027, 1, 29), date(2027, 2, 28)]
    job_on(app, date(2027, 2, 1), 60)
    assert [o.due_on for o in occurrences(plan.id)][2:] == [date(2027, 3, 29)]   # back to the 29th, no drift
