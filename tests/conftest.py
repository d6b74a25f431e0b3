"""Test fixtures. The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL says so.

The schema is built once per session by the migrations (the same way production gets it); every test
starts from empty tables. With pytest-xdist each worker gets its own database.
"""
from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from fieldservice import create_app
from fieldservice.config import TestConfig, normalise_database_url
from fieldservice.extensions import db
from tests.factories import Factory

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql", "postgres"))


def fresh_database(database_url: str, name: str, tmp_path: Path) -> str:
    """An empty database of the suite's kind for a migration test: `<worker database>_<name>` on the
    PostgreSQL server (dropped and created again), or a SQLite file in `tmp_path`."""
    if not is_postgres(database_url):
        return "sqlite:///" + str(tmp_path / f"{name}.sqlite3")
    url = sa.make_url(database_url)
    fresh = url.set(database=f"{url.database}_{name}")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{fresh.database}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{fresh.database}"'))
    admin.dispose()
    return fresh.render_as_string(hide_password=False)


def _prepare_postgres(base_url: str) -> str:
    """One database per xdist worker on the same server: `<name>_<worker>`. Unreachable = fail in CI."""
    url = sa.make_url(normalise_database_url(base_url))
    try:
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            name = f"{url.database}_{_worker()}"
            exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except sa.exc.OperationalError as err:
        message = f"PostgreSQL at {base_url} is unreachable: {err.orig}"
        if IN_CI:
            pytest.exit(message + " (CI=true: this is a failure, not a skip)", returncode=3)
        pytest.skip(message, allow_module_level=True)
    return url.set(database=name).render_as_string(hide_password=False)


def _reset_schema(app: Flask) -> None:
    """Drop everything, then build the schema with the migrations."""
    from flask_migrate import upgrade

    with app.app_context():
        if db.engine.dialect.name == "postgresql":  # tables, and the sequences the migrations made
            with db.engine.begin() as conn:
                conn.execute(sa.text("DROP SCHEMA public CASCADE"))
                conn.execute(sa.text("CREATE SCHEMA public"))
        else:
            meta = sa.MetaData()
            meta.reflect(bind=db.engine)
            meta.drop_all(bind=db.engine)
        upgrade()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    base = os.environ.get("TEST_DATABASE_URL")
    if base and is_postgres(base):
        return _prepare_postgres(base)
    if base:
        return base
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / f"test_{_worker()}.sqlite3")


@pytest.fixture(scope="session")
def app(database_url: str) -> Iterator[Flask]:
    app = create_app(TestConfig(database_url))
    _reset_schema(app)
    yield app
    with app.app_context():
        db.engine.dispose()


def truncate_all(app: Flask) -> None:
    with app.app_context():
        tables = [t for t in db.metadata.sorted_tables if t.name != "sync_state"]
        if db.engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            db.session.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            db.session.execute(sa.text("SELECT setval('sync_change_seq', 1, false)"))  # change numbers restart
        else:
            for table in reversed(tables):
                db.session.execute(table.delete())
        db.session.execute(sa.text("UPDATE sync_state SET last_seq = 0"))
        db.session.commit()


def empty_media_root(app: Flask) -> None:
    """Stored files live under the session app's MEDIA_ROOT: every test leaves it empty, like the tables."""
    import shutil

    for name in ("MEDIA_ROOT", "ARCHIVE_ANCHOR_DIR"):  # the archive's anchors belong to the emptied tables
        root = Path(app.config[name]) if app.config.get(name) else None
        for child in root.iterdir() if root and root.exists() else []:
            shutil.rmtree(child) if child.is_dir() else child.unlink()


@pytest.fixture(autouse=True)
def _clean_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that used the session app: empty tables and media, and put back any setting the test
    changed (a test that set MAINTENANCE_HORIZON_DAYS once made a later test's expectation depend on order)."""
    settings = dict(request.getfixturevalue("app").config) if "app" in request.fixturenames else None
    yield
    if settings is not None:
        app = request.getfixturevalue("app")
        truncate_all(app)
        empty_media_root(app)
        from fieldservice.web.throttle import reset

        reset(app)  # rate-limit counters (memory) belong to the test that made them
        app.config.clear()
        app.config.update(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def make(app: Flask) -> Factory:
    """Factories for every core record (each call commits, like a separate request would)."""
    return Factory(app)


@pytest.fixture
def token_for(make: Factory) -> Callable[..., str]:
    """Mint a bearer token for a user id (or a new user of `role`)."""
    return make.token


@pytest.fixture
def headers(make: Factory) -> Callable[..., dict[str, str]]:
    def build(user_id: uuid.UUID | None = None, *, role: str = "dispatcher") -> dict[str, str]:
        token = make.token(user_id) if user_id else make.token(make.user(role=role).id)
        return {"Authorization": f"Bearer {token}"}

    return build


@pytest.fixture
def count_rows(app: Flask) -> Callable[..., dict[str, int]]:
    """Row counts of every table: compare before and after a refused request to prove nothing was written."""

    def counts() -> dict[str, int]:
        with app.app_context():
            return {t.name: db.session.scalar(sa.select(sa.func.count()).select_from(t)) or 0
                    for t in db.metadata.sorted_tables}

    return counts


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


def pytest_report_header(config: pytest.Config) -> list[str]:
    url = os.environ.get("TEST_DATABASE_URL") or "sqlite (temporary file per worker)"
    return [f"fieldservice test database: {url}"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`@pytest.mark.postgres` tests run only in the PostgreSQL pass."""
    url = os.environ.get("TEST_DATABASE_URL", "")
    if is_postgres(url):
        return
    skip = pytest.mark.skip(reason="PostgreSQL-only; runs in the PostgreSQL pass of `make test`")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def live_url(app: Flask) -> Iterator[str]:
    """The test app served over real HTTP on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)
