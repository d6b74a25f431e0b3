"""Command-line entry points: `flask users ...` and `flask seed-demo`."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup, with_appcontext

from fieldservice.auth import service as auth_service
from fieldservice.auth.models import Role, User
from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.errors import DomainError
from fieldservice.extensions import db

users_cli = AppGroup("users", help="Manage logins.")


@users_cli.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="At least 10 characters; prompted when omitted")
@click.option("--display-name", default=None)
@click.option("--email", default=None)
@click.option("--customer-id", default=None, help="For role customer: the customer this login may see")
@click.option("--technician-name", default=None,
              help="For role technician: also create the technician profile with this name")
@click.option("--supervisor", default=None,
              help="Username of the office/admin/dispatcher login this user's SLA breaches escalate to (R-SLA-2)")
def create_user_command(username: str, role: str, password: str, display_name: str | None, email: str | None,
                        customer_id: str | None, technician_name: str | None, supervisor: str | None) -> None:
    """Create a login (password stored hashed)."""
    import uuid

    from fieldservice.technicians import service as technicians

    try:
        with unit_of_work():
            supervisor_id = None
            if supervisor:
                supervisor_id = db.session.scalar(sa.select(User.id).where(User.username == supervisor.strip().lower()))
                if supervisor_id is None:
                    raise click.ClickException(f"no user {supervisor!r} (--supervisor)")
            user = auth_service.create_user(username, password, Role(role), display_name=display_name, email=email,
                                            customer_id=uuid.UUID(customer_id) if customer_id else None,
                                            supervisor_id=supervisor_id)
            if technician_name:
                if user.role is not Role.TECHNICIAN:
                    raise click.UsageError("--technician-name is only for role technician")
                technicians.create_technician(SYSTEM, {"name": technician_name, "user_id": user.id})
    except DomainError as err:
        raise click.ClickException(err.detail) from err
    except ValueError as err:
        raise click.ClickException(f"invalid --customer-id: {err}") from err
    click.echo(f"created {user.role.value} {user.username} ({user.id})")


@users_cli.command("list")
def list_users_command() -> None:
    """List logins."""
    for user in db.session.scalars(sa.select(User).order_by(User.username)):
        state = "" if user.is_active else " (disabled)"
        click.echo(f"{user.username:<20} {user.role.value:<13} {user.display_name}{state}")


@users_cli.command("revoke-tokens")
@click.argument("username")
def revoke_tokens_command(username: str) -> None:
    """Revoke every token and end every office page session of a login (lost phone, leaver)."""
    with unit_of_work():
        user = db.session.scalar(sa.select(User).where(User.username == username.lower()))
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        count = auth_service.revoke_all_tokens(user)
        sessions = auth_service.end_office_sessions(user, reason="revoked")
    click.echo(f"revoked {count} token(s) and ended {sessions} office session(s) of {username}")


@click.command("seed-demo")
@with_appcontext
def seed_demo_command() -> None:
    """Load demo data once (a second run adds nothing) and print the demo logins."""
    from fieldservice.demo import DEMO_LOGINS, seed_demo

    with unit_of_work():
        created = seed_demo()
    click.echo(f"demo data: {created} record(s) added" if created else "demo data already present: nothing added")
    click.echo("demo logins (username / password):")
    for username, password, role in DEMO_LOGINS:
        click.echo(f"  {username:<12} {password:<22} {role}")
