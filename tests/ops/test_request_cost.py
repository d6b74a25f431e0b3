"""The fixed cost of an API request (issue 13): authentication in one statement, no per-request work for what a
bearer-token request does not use (Flask-Limiter's route limits, the cookie session's signer), and a pooled
connection pinged only after it sat idle. Timings are in bench/request_cost.py; these check the shape."""
from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.db import ping_after_idle
from fieldservice.extensions import db
from tests.factories import Factory
from tests.statements import statements


def test_a_bearer_token_is_checked_in_one_statement(app: Flask, client: FlaskClient, make: Factory) -> None:
    technician = make.technician()
    dispatcher = make.user("dispatcher")
    loose = make.user("technician")  # a technician login without a technician profile
    for user_id, role, technician_id in ((technician.user_id, "technician", str(technician.id)),
                                         (dispatcher.id, "dispatcher", None), (loose.id, "technician", None)):
        auth = {"Authorization": f"Bearer {make.token(user_id)}"}
        with statements(app) as seen:
            response = client.get("/api/v1/auth/me", headers=auth)
        assert response.status_code == 200
        body = response.get_json()
        assert (body["user_id"], body["role"], body.get("technician_id")) == (str(user_id), role, technician_id)
        assert len(seen) == 1, seen
    with statements(app) as seen:
        response = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer fs_" + uuid.uuid4().hex})
    assert response.status_code == 401 and response.get_json()["detail"] == "unknown token" and len(seen) == 1


def test_no_flask_limiter_hook_runs_per_request(app: Flask) -> None:
    """Throttling is explicit (logins, public links: tests/security/test_login_throttling.py); Flask-Limiter
    only lends its storage, so none of its hooks runs on each request."""
    limiter = app.extensions["fieldservice.limiter"]
    hooks = [*app.before_request_funcs[None], *app.after_request_funcs[None], *app.teardown_request_funcs[None]]
    owners = [getattr(hook, "__self__", None) for hook in hooks] + \
             [next(iter(getattr(hook, "args", ())), None) for hook in hooks]
    assert limiter not in owners


def test_a_request_without_a_cookie_builds_no_session_signer(app: Flask, client: FlaskClient, make: Factory,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any) -> None:
        raise AssertionError("the signing serializer was built for a request without a session cookie")

    auth = {"Authorization": f"Bearer {make.token(make.user('office').id)}"}
    monkeypatch.setattr(app.session_interface, "get_signing_serializer", refuse)
    response = client.get("/api/v1/auth/me", headers=auth)
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff" and response.headers["X-Request-ID"]


@pytest.mark.postgres
def test_a_connection_is_pinged_only_after_sitting_idle(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], pool_size=1, max_overflow=0)
    ping_after_idle(engine, 0.3)
    pings: list[None] = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda conn: pings.append(None) or real_ping(conn))

    def backend_pid() -> int:
        with engine.connect() as conn:
            return int(conn.scalar(sa.text("SELECT pg_backend_pid()")))

    try:
        first = backend_pid()
        assert backend_pid() == first and pings == []           # busy: reused without a round trip
        time.sleep(0.4)
        assert backend_pid() == first and len(pings) == 1       # idle: pinged, still alive, kept
        with app.app_context():
            db.session.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            db.session.commit()
        time.sleep(0.4)
        replaced = backend_pid()                                # idle and dead: replaced, no error
        assert replaced != first and len(pings) == 2
    finally:
        engine.dispose()


def test_the_master_can_import_every_module_without_an_app() -> None:
    """gunicorn.conf.py imports the code in the master before forking: every module imports without an app and
    starts no thread (a thread would not survive the fork)."""
    import threading

    from fieldservice import import_code

    before = set(threading.enumerate())
    assert import_code() == []
    assert set(threading.enumerate()) <= before
