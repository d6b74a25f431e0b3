"""`flask maintenance generate`: the scheduler job's work, on demand (one unit of work)."""
from __future__ import annotations

import logging
from datetime import datetime

import click
from flask import current_app
from flask.cli import AppGroup

from fieldservice.db import unit_of_work, utcnow
from fieldservice.maintenance import service

log = logging.getLogger(__name__)

maintenance_cli = AppGroup("maintenance", help="Maintenance plans.")


@maintenance_cli.command("generate")
@click.option("--horizon-days", type=click.IntRange(0, 366), default=None,
              help="Days ahead (default MAINTENANCE_HORIZON_DAYS)")
@click.option("--today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Generate as of this day (default: today, UTC)")
def generate_command(horizon_days: int | None, today: datetime | None) -> None:
    """Create the occurrences, work orders and visits due within the horizon. Safe to rerun."""
    horizon = current_app.config["MAINTENANCE_HORIZON_DAYS"] if horizon_days is None else horizon_days
    day = today.date() if today else utcnow().date()
    with unit_of_work():
        result = service.generate_due_occurrences(day, horizon)
    counts = ", ".join(f"{key} {value}" for key, value in result.as_dict().items())
    log.info("maintenance generation as of %s, %d days: %s", day, horizon, counts)
    click.echo(f"as of {day}, {horizon} days ahead: {counts}")
