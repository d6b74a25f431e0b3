"""The scheduler job and `flask maintenance generate`: thin entry points onto generate_due_occurrences."""
from __future__ import annotations

from datetime import UTC, date, datetime

import time_machine
from flask import Flask

from fieldservice.maintenance.models import IntervalUnit
from schedules import jobs
from schedules.runner import build_scheduler


def test_scheduler_has_the_generation_job(app: Flask) -> None:
    scheduler = build_scheduler(app)
    [job] = [j for j in scheduler.get_jobs() if j.id == "maintenance.generate_visits"]
    assert job.coalesce is True and job.max_instances == 1
    assert job.args == ("maintenance.generate_visits",)  # a job store keeps a reference, not the app


def test_job_generates_once_as_of_today(app: Flask, new_plan, occurrences) -> None:
    plan = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), interval=2, interval_unit=IntervalUnit.WEEKS)
    with time_machine.travel(datetime(2027, 1, 1, 2, 0, tzinfo=UTC), tick=False):
        first = jobs.generate_maintenance_visits(app)
        second = jobs.generate_maintenance_visits(app)
    # every two weeks from Jan 5; 30 days ahead of Jan 1 reaches Jan 31 (Feb 2 is next time)
    assert first["created"] == 2 and first["scheduled"] == 2
    assert second["created"] == 0
    assert [o.due_on for o in occurrences(plan.id)] == [date(2027, 1, 5), date(2027, 1, 19)]


def test_cli_generate(app: Flask, new_plan, occurrences) -> None:
    plan = new_plan(today=date(2027, 1, 1), start_on=date(2027, 1, 5), interval=1, interval_unit=IntervalUnit.WEEKS)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["maintenance", "generate", "--today", "2027-01-01", "--horizon-days", "14"])
    assert result.exit_code == 0, result.output
    assert "created 2" in result.output
    assert [o.due_on for o in occurrences(plan.id)] == [date(2027, 1, 5), date(2027, 1, 12)]
    again = runner.invoke(args=["maintenance", "generate", "--today", "2027-01-01", "--horizon-days", "14"])
    assert again.exit_code == 0 and "created 0" in again.output
    bad = runner.invoke(args=["maintenance", "generate", "--horizon-days", "999"])
    assert bad.exit_code != 0
