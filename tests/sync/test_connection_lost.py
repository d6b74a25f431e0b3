"""The database connection lost just as a statement goes out (issue 16's "never a 500", on the statements the
sync and the audit chain send straight to the driver, fieldservice/db.py `driver_cursor`): the answer is a 503
problem with Retry-After, the dead connection is thrown away, the same request sent again succeeds, and
nothing is stored twice or half.

The loss is real: just before the first statement that contains a marker is sent (the engine's
`before_cursor_execute`, where those statements announce themselves), another connection terminates the
backend of the request's connection with `pg_terminate_backend` and waits until it is gone; the statement then
meets a closed connection, as when PostgreSQL restarts under load (tests/faults/test_database_restart.py found
these paths answering gunicorn's HTML 500). PostgreSQL only: SQLite has no server to lose."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from fieldservice.customers.models import Customer
from fieldservice.extensions import db
from fieldservice.visits.models import WorkLog
from tests.factories import Factory
from tests.sync.phone import Phone

pytestmark = pytest.mark.postgres


@contextmanager
def cut_before(app: Flask, marker: str) -> Iterator[list[int]]:
    """Terminate the backend of the connection that is about to send the first statement containing `marker`;
    yields the pids terminated (one, once the marker was seen)."""
    with app.app_context():
        engine = db.engine
    admin = sa.create_engine(engine.url, poolclass=sa.pool.NullPool)
    cut: list[int] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if cut or marker not in statement:
            return
        pid = conn.connection.driver_connection.info.backend_pid
        with admin.connect() as other:
            assert other.scalar(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        cut.append(pid)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield cut
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
        admin.dispose()


def assert_unavailable(response: TestResponse) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Retry-After"].isdigit()
    assert response.get_json()["type"] == "/problems/database_unavailable"


def once_cut_then_again(app: Flask, marker: str, send: Callable[[], TestResponse]) -> TestResponse:
    """The request with its connection cut at `marker` (a 503), then the same request again (returned)."""
    with cut_before(app, marker) as cut:
        response = send()
    assert cut, f"no statement containing {marker!r} was sent"
    assert_unavailable(response)
    return send()


@pytest.mark.parametrize("marker", ["FROM api_tokens", "pg_locks", "json_build_object"])
def test_a_pull_whose_connection_is_lost_is_a_503_and_the_next_pull_works(
        app: Flask, make: Factory, phone_for: Callable[..., Phone], marker: str) -> None:
    # the bearer token (rows_of), the cursor's watermark (watermark_after), the rows of a page (driver_rows)
    job = make.dispatched_job()
    phone = phone_for(job.technician)
    client: FlaskClient = phone.client

    def pull() -> TestResponse:
        return client.get("/api/v1/sync/pull", query_string={"last_pulled_at": "null", "schema_version": 1},
                          headers=phone.auth)

    again = once_cut_then_again(app, marker, pull)
    assert again.status_code == 200, again.get_data(as_text=True)
    assert str(job.visit.id) in {r["id"] for r in again.get_json()["changes"]["visits"]["created"]}


@pytest.mark.parametrize("marker", ["pg_advisory_xact_lock_shared", "SAVEPOINT fieldservice_new_rows",
                                    'INSERT INTO "work_logs"', "WITH wanted AS MATERIALIZED", "JOIN sync_scope m ON"])
def test_a_push_whose_connection_is_lost_stores_nothing_and_its_retry_stores_once(
        app: Flask, on_site: tuple[Any, Phone], marker: str) -> None:
    # the push's floor and stored push in one round trip (hold_floor_with), its new logs (insert_numbered: a
    # plain insert under a savepoint), the scopes holding their visit locked and joined (sync/scope.py
    # _visit_children_added)
    job, phone = on_site
    now = datetime.now(UTC)
    log_id = phone.create("work_logs", visit_id=str(job.visit.id), description="断线重试",
                          started_at=int((now - timedelta(minutes=30)).timestamp() * 1000))
    key = uuid.uuid4()
    with cut_before(app, marker) as cut, pytest.raises(AssertionError):
        phone.push(key=key)
    assert cut
    assert_unavailable(phone.last_push)
    with app.app_context():
        assert db.session.get(WorkLog, uuid.UUID(log_id)) is None  # nothing of the refused push was kept
    assert phone.push(key=key)["accepted"] == 1  # the phone sends the same push again
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkLog).where(
            WorkLog.id == uuid.UUID(log_id))) == 1


def test_a_create_whose_audit_chain_statement_is_lost_is_a_503_and_its_retry_creates_once(
        app: Flask, make: Factory) -> None:
    # the audit chain's unlinked rows, lock and head in one round trip (integrity/links.py), sent at commit
    client = app.test_client()
    auth = {"Authorization": f"Bearer {make.token(make.user('office').id)}"}
    body = {"id": str(uuid.uuid4()), "name": "断线客户"}

    def create() -> TestResponse:
        return client.post("/api/v1/customers", json=body, headers=auth)

    again = once_cut_then_again(app, "pg_advisory_xact_lock(", create)
    assert again.status_code == 201, again.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Customer).where(
            Customer.id == uuid.UUID(body["id"]))) == 1
