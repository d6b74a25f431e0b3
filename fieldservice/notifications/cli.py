"""`flask notifications send`: one sender pass, the scheduler job's work on demand."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from fieldservice.notifications.sender import send_due

notifications_cli = AppGroup("notifications", help="The notification outbox.")


@notifications_cli.command("send")
def send_command() -> None:
    """Deliver the due messages once (webhook, e-mail, record) and print what happened."""
    counts = send_due(current_app._get_current_object())  # type: ignore[attr-defined]
    click.echo(", ".join(f"{key} {value}" for key, value in sorted(counts.items())))
