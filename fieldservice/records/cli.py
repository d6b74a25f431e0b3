"""`flask verify-archive` (every check of fieldservice/integrity/verify.py) and `flask archive anchor` (write
the chain heads outside the database; the scheduler runs it every ARCHIVE_ANCHOR_EVERY_MINUTES)."""
from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any

import click
from flask.cli import AppGroup, with_appcontext

archive_cli = AppGroup("archive", help="The archive's hash chains and their anchors outside the database.")


def _bar(label: str, items: Iterable[Any], length: int) -> Iterator[Any]:
    with click.progressbar(items, length=length, label=f"{label:<16}", file=sys.stderr,
                           show_pos=True) as bar:
        yield from bar


@click.command("verify-archive")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar per table (on stderr)")
@with_appcontext
def verify_archive_command(progress: bool) -> None:
    """Check every chain, anchor, record, sign-off, signature image and photo original; print OK or one
    TAMPERED line per finding, each naming its row, then a summary. Exit 1 on any finding."""
    from fieldservice.extensions import db
    from fieldservice.integrity.verify import verify_archive

    try:
        report = verify_archive(_bar if progress else None)
    finally:
        db.session.rollback()
    summary = ", ".join(f"{count} {name}" for name, count in report.counts.items())
    if report.ok:
        click.echo(f"OK: {report.entries} archive log entries, {report.signed_records} signed record versions "
                   f"verified ({summary})")
        return
    for finding in report.findings:
        click.echo(f"TAMPERED: {finding}")
    click.echo(f"{len(report.findings)} finding(s) in {summary}", err=True)
    sys.exit(1)


@archive_cli.command("anchor")
@click.option("--force", is_flag=True, help="Write even when the heads did not change since the last anchor")
def anchor_command(force: bool) -> None:
    """Write the heads of the archive's hash chains to ARCHIVE_ANCHOR_DIR and/or ARCHIVE_ANCHOR_S3_BUCKET."""
    from fieldservice.extensions import db
    from fieldservice.integrity.anchors import write_anchor

    try:
        result = write_anchor(force=force)
    except RuntimeError as err:
        raise click.ClickException(str(err)) from err
    finally:
        db.session.rollback()
    heads = ", ".join(f"{name} seq {head['seq']}" for name, head in result["heads"].items())
    where = ", ".join(result["written"]) or "nowhere (unchanged since the last anchor)"
    click.echo(f"anchor {result['name']}: {heads}; written to {where}")
