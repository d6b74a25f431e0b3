"""`flask verify-archive`: recompute the archive log's hash chain and every signed record's hash."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext


@click.command("verify-archive")
@with_appcontext
def verify_archive_command() -> None:
    """Print OK, or each tampered row (and exit 1)."""
    from fieldservice.extensions import db
    from fieldservice.records.service import verify_archive

    try:
        report = verify_archive()
    finally:
        db.session.rollback()
    if report.ok:
        click.echo(f"OK: {report.entries} archive log entries, {report.signed_records} signed record versions verified")
        return
    for problem in report.problems:
        click.echo(f"TAMPERED: {problem}")
    click.echo(f"{len(report.problems)} problem(s) in {report.entries} entries and "
               f"{report.signed_records} signed record versions", err=True)
    sys.exit(1)
