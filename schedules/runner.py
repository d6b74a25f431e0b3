"""`flask scheduler run`: one BlockingScheduler in its own process (never in create_app or a WSGI worker,
where every worker would run every job). Its job store is the `apscheduler_jobs` table in the app's
database (made by a migration); a second process started by mistake does no double work (schedules/jobs.py)."""
from __future__ import annotations

import logging
from datetime import UTC, datetime

import click
from apscheduler.jobstores.base import BaseJobStore
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app
from flask.cli import AppGroup

from fieldservice.extensions import db
from fieldservice.jobstore import JOBSTORE_TABLE
from schedules import jobs

log = logging.getLogger(__name__)

scheduler_cli = AppGroup("scheduler", help="The scheduler process.")


def _jobstore(app: Flask) -> BaseJobStore:
    """The database job store on the app's engine (SCHEDULER_JOBSTORE=memory keeps jobs in memory)."""
    if app.config.get("SCHEDULER_JOBSTORE", "database") == "memory":
        return MemoryJobStore()
    with app.app_context():
        engine = db.engine
    return SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)


def build_scheduler(app: Flask) -> BlockingScheduler:
    """The scheduler with every job in schedules.jobs.JOBS: explicit ids, replace_existing, coalesce and
    max_instances=1, each on its configured interval and once at start."""
    jobs.bind_app(app)
    scheduler = BlockingScheduler(timezone=UTC, jobstores={"default": _jobstore(app)})
    start = datetime.now(UTC)
    for spec in jobs.JOBS:
        seconds = spec.interval_seconds(app.config)
        scheduler.add_job(
            jobs.run_job, trigger="interval", args=[spec.id], seconds=seconds,
            id=spec.id, name=spec.name, replace_existing=True, coalesce=True, max_instances=1,
            misfire_grace_time=max(60, seconds), next_run_time=start,
        )
    return scheduler


@scheduler_cli.command("run")
def run_command() -> None:
    """Run the scheduler in the foreground until interrupted (one process; a second one does no double work)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    scheduler = build_scheduler(app)
    for spec in jobs.JOBS:
        click.echo(f"job {spec.id}: every {spec.interval_seconds(app.config)} s")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler stopped")
