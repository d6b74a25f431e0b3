"""The scheduler's jobs: every job registered with its configured interval, a database job store, and the
per-job PostgreSQL advisory lock that lets only one scheduler process run a job at a time."""
from __future__ import annotations

import threading

import pytest
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from flask import Flask

from fieldservice.db import unit_of_work
from schedules import jobs
from schedules.runner import build_scheduler


def test_every_job_is_registered_with_its_interval(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(app.config, "SLA_SCAN_EVERY_MINUTES", 2)
    monkeypatch.setitem(app.config, "NOTIFY_SEND_EVERY_SECONDS", 15)
    scheduler = build_scheduler(app)
    found = {job.id: job for job in scheduler.get_jobs()}
    assert set(found) == {"maintenance.generate_visits", "sla.scan", "reminders.unconfirmed_visits",
                          "notifications.send", "complaints.flag_overdue", "followups.create", "archive.anchor",
                          "scheduler.heartbeat"}
    assert found["sla.scan"].trigger.interval.total_seconds() == 120
    assert found["notifications.send"].trigger.interval.total_seconds() == 15
    assert all(j.coalesce and j.max_instances == 1 and j.args == (j.id,) for j in found.values())
    assert isinstance(scheduler._jobstores["default"], SQLAlchemyJobStore)  # the apscheduler_jobs table

    monkeypatch.setitem(app.config, "SCHEDULER_INTERVAL_SECONDS", "3")
    assert {j.trigger.interval.total_seconds() for j in build_scheduler(app).get_jobs()} == {3}


def test_run_job_calls_the_job_on_the_bound_app(app: Flask) -> None:
    jobs.bind_app(app)
    assert jobs.run_job("sla.scan") == 0
    assert jobs.run_job("notifications.send") == {"claimed": 0}


@pytest.mark.postgres
def test_advisory_lock_lets_one_process_run_a_job(app: Flask) -> None:
    held, release, results = threading.Event(), threading.Event(), []

    def first() -> None:
        with app.app_context(), unit_of_work():
            results.append(jobs.try_job_lock("sla.scan"))
            held.set()
            release.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    assert held.wait(10)
    with app.app_context(), unit_of_work():
        results.append(jobs.try_job_lock("sla.scan"))      # held by the other transaction
        results.append(jobs.try_job_lock("reminders.unconfirmed_visits"))  # another job's lock is free
    release.set()
    thread.join(10)
    with app.app_context(), unit_of_work():
        results.append(jobs.try_job_lock("sla.scan"))      # released at the other's commit
    assert results == [True, False, True, True]
