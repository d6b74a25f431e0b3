"""Migrations are the only way the schema changes: they build the models' schema on SQLite and PostgreSQL."""
from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade

from fieldservice import create_app
from fieldservice.config import TestConfig
from fieldservice.db import render_migration_item
from fieldservice.extensions import db
from tests.conftest import fresh_database


def pending_diff(app: Flask) -> list:  # type: ignore[type-arg]
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_item": render_migration_item})
        return compare_metadata(context, db.metadata)


def test_models_and_migrations_agree(app: Flask) -> None:
    """The session database was built by `upgrade()`; autogenerate must find nothing left to do."""
    assert pending_diff(app) == []


def test_upgrade_downgrade_upgrade_on_an_empty_database(app: Flask, database_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fresh_url = fresh_database(database_url, "migrations", tmp_path)
    other = create_app(TestConfig(fresh_url))
    with other.app_context():
        upgrade()
        tables = set(sa.inspect(db.engine).get_table_names())
        assert tables >= {t.name for t in db.metadata.sorted_tables}
        downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
    assert pending_diff(other) == []
    with other.app_context():
        db.engine.dispose()
