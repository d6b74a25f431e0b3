"""`flask scheduler run`: one BlockingScheduler in its own process (never in create_app or a WSGI worker,
where every worker would run every job)."""
from __future__ import annotations

import logging
from datetime import UTC, datetime

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask, current_app
from flask.cli import AppGroup

from schedules import jobs

log = logging.getLogger(__name__)

scheduler_cli = AppGroup("scheduler", help="The scheduler process.")


def build_scheduler(app: Flask) -> BlockingScheduler:
    """The scheduler with every job: explicit ids, replace_existing, coalesce and max_instances=1."""
    scheduler = BlockingScheduler(timezone=UTC)
    scheduler.add_job(
        jobs.generate_maintenance_visits, trigger="interval", args=[app],
        minutes=app.config["MAINTENANCE_GENERATE_EVERY_MINUTES"],
        id="maintenance.generate_visits", name="generate maintenance visits",
        replace_existing=True, coalesce=True, max_instances=1, misfire_grace_time=300,
        next_run_time=datetime.now(UTC),  # once at start, then on the interval
    )
    return scheduler


@scheduler_cli.command("run")
def run_command() -> None:
    """Run the scheduler in the foreground until interrupted (one process; a second one does no double work)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    scheduler = build_scheduler(app)
    for job in scheduler.get_jobs():
        click.echo(f"job {job.id}: {job.trigger}")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        log.info("scheduler stopped")
