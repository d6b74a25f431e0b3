"""`flask sync ...`: rebuild technicians' sync scopes whole (after the upgrade to scopes maintained on write,
or to repair one after a direct database edit). Each technician in its own unit of work, with a progress bar."""
from __future__ import annotations

import sys
import uuid

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import AppGroup

from fieldservice.db import unit_of_work, utcnow
from fieldservice.extensions import db
from fieldservice.technicians.models import Technician

sync_cli = AppGroup("sync", help="Offline sync maintenance (docs/sync.md).")


@sync_cli.command("rebuild-scopes")
@click.option("--technician", "technician_ids", multiple=True, type=click.UUID,
              help="Only this technician (repeatable); default: every technician.")
def rebuild_scopes(technician_ids: tuple[uuid.UUID, ...]) -> None:
    """Compare each technician's scope with its definition and fix every difference now, instead of at their
    next pull. Phones learn the differences on their next pull, like any other change."""
    from sync.scope import ScopeContext, refresh_scope

    ids = list(technician_ids) or list(db.session.scalars(sa.select(Technician.id).order_by(Technician.id)))
    db.session.remove()
    config = current_app.config
    entered = left = 0
    with click.progressbar(ids, label="technicians", file=sys.stderr) as bar:
        for technician_id in bar:
            with unit_of_work():
                if db.session.get(Technician, technician_id) is None:
                    raise click.BadParameter(f"no technician {technician_id}", param_hint="--technician")
                added, removed = refresh_scope(db.session, ScopeContext(
                    technician_id, utcnow(), config["SYNC_DAYS_AHEAD"], config["SYNC_DAYS_BEHIND"]))
            entered, left = entered + added, left + removed
    click.echo(f"{len(ids)} scopes rebuilt: {entered} records entered, {left} left")
