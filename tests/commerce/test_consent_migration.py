"""R-REP-4, the migration of existing rows: consents a dispatcher or admin recorded before the rule were stored
as channel `device` (as if the customer had signed on the technician's phone). The b2 migration marks them
`staff` (without evidence: they no longer count, and commerce.coverage lists them); the customer's own device
consents stay `device`. Runs on a fresh database of the suite's kind (SQLite file or PostgreSQL)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from fieldservice import create_app
from fieldservice.config import TestConfig
from fieldservice.extensions import db
from tests.conftest import fresh_database, is_postgres

REVISION = "b2a7c4e91d3f"


def filler(column: dict[str, Any], sqlite: bool) -> Any:
    """A value for a NOT NULL column the test does not care about."""
    kind = column["type"]
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer | sa.Numeric):
        return 0
    if isinstance(kind, sa.DateTime):
        return datetime(2026, 11, 1, tzinfo=UTC).replace(tzinfo=None) if sqlite else datetime(2026, 11, 1, tzinfo=UTC)
    if isinstance(kind, sa.JSON):
        return "{}"
    if isinstance(kind, sa.Uuid):
        return uid(sqlite)
    return "x"


def uid(sqlite: bool) -> str:
    value = uuid.uuid4()
    return value.hex if sqlite else str(value)


def insert(conn: sa.Connection, table: str, sqlite: bool, **values: Any) -> None:
    """A row with the given values; every other NOT NULL column without a default gets a filler value (the
    rows it references need not exist: foreign keys are not checked while the test inserts)."""
    row = dict(values)
    for column in sa.inspect(conn).get_columns(table):
        if column["name"] not in row and not column["nullable"] and column.get("default") is None:
            row[column["name"]] = filler(column, sqlite)
    conn.execute(sa.table(table, *(sa.column(k) for k in row)).insert().values(**row))


def test_dispatchers_old_device_consents_become_staff_consents(database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = fresh_database(database_url, "consent_migration", tmp_path)
    sqlite = not is_postgres(url)
    app = create_app(TestConfig(url))
    with app.app_context():
        upgrade(revision=f"{REVISION}-1")
        users = {role: uid(sqlite) for role in ("dispatcher", "admin", "technician")}
        consents = {role: uid(sqlite) for role in users}
        with db.engine.begin() as conn:
            if not sqlite:
                conn.execute(sa.text("SET LOCAL session_replication_role = replica"))  # no FK checks here
            for role, user_id in users.items():
                insert(conn, "users", sqlite, id=user_id, username=f"u-{role}", role=role)
                insert(conn, "quote_consents", sqlite, id=consents[role], quote_id=uid(sqlite), decision="accepted",
                       channel="device", captured_by_user_id=user_id)
        upgrade(revision=REVISION)

        def channels() -> dict[str, str]:
            with db.engine.connect() as conn:
                rows = dict(conn.execute(sa.text("SELECT id, channel FROM quote_consents")).all())
            return {role: rows[consents[role]] if sqlite else rows[uuid.UUID(consents[role])] for role in consents}

        assert channels() == {"dispatcher": "staff", "admin": "staff", "technician": "device"}
        downgrade(revision=f"{REVISION}-1")
        assert set(channels().values()) == {"device"}
        db.engine.dispose()
