"""Issue 15: office page sessions live on the server (hashed ids). A cookie captured before logout no longer
works after it; `flask users revoke-tokens`, a password change and disabling the user end every session; the
session ends after OFFICE_SESSION_IDLE_MINUTES idle and OFFICE_SESSION_HOURS after login whatever the activity;
the cookie holds nothing derived from the password, and is Secure over HTTPS."""
from __future__ import annotations

import base64
import json
import re
import zlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.auth.models import OfficeSession, User
from fieldservice.extensions import db
from tests.archive.test_pages import PASSWORD, login
from tests.factories import Factory

HOME = "/office/"


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _decoded(value: str) -> dict:  # type: ignore[type-arg]
    """What anyone holding the cookie can read (Flask signs its session cookie but does not encrypt it)."""
    payload = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return json.loads(zlib.decompress(raw) if value.startswith(".") else raw)  # type: ignore[no-any-return]


@pytest.fixture
def office(make: Factory):  # type: ignore[no-untyped-def]
    return make.user("office", username="zhou.min", password=PASSWORD)


def _logged_in(client: FlaskClient) -> FlaskClient:
    assert login(client, "zhou.min").status_code == 302
    assert client.get(HOME).status_code == 200
    return client


def _replay(app: Flask, cookie: str):  # type: ignore[no-untyped-def]
    thief = app.test_client()
    thief.set_cookie("session", cookie)
    return thief.get(HOME)


def test_a_cookie_captured_before_logout_does_not_work_after_it(app: Flask, client: FlaskClient, office) -> None:  # type: ignore[no-untyped-def]
    captured = _cookie(_logged_in(client))
    assert _replay(app, captured).status_code == 200
    html = client.get(HOME).get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert client.post("/office/logout", data={"csrf_token": csrf}).status_code == 302
    assert _replay(app, captured).status_code == 302  # to the login form
    with app.app_context():
        row = db.session.scalar(sa.select(OfficeSession))
        assert row.revoked_reason == "logout"


def test_the_cookie_holds_a_random_id_not_the_password_hash(app: Flask, client: FlaskClient, office) -> None:  # type: ignore[no-untyped-def]
    content = _decoded(_cookie(_logged_in(client)))
    assert set(content) <= {"sid", "csrf", "_permanent"}, content
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.username == "zhou.min"))
        stored = db.session.scalar(sa.select(OfficeSession.token_hash))
    assert user.password_hash[-16:] not in json.dumps(content) and content["sid"] != stored
    # a cookie of the old kind (user id and a password hash suffix) opens nothing
    thief = app.test_client()
    with thief.session_transaction() as forged:
        forged["user_id"], forged["pw"] = str(user.id), user.password_hash[-16:]
    assert thief.get(HOME).status_code == 302


@pytest.mark.parametrize("how", ["revoke-tokens", "password change", "disabled"])
def test_revoking_changing_the_password_or_disabling_ends_every_session(app: Flask, client: FlaskClient,
                                                                       make: Factory, office, how: str) -> None:  # type: ignore[no-untyped-def]
    captured = _cookie(_logged_in(client))
    second = _cookie(_logged_in(app.test_client()))
    if how == "revoke-tokens":
        result = app.test_cli_runner().invoke(args=["users", "revoke-tokens", "zhou.min"])
        assert result.exit_code == 0 and "ended 2 office session(s)" in result.output, result.output
    else:
        admin = {"Authorization": f"Bearer {make.token(make.user('admin').id)}"}
        change = {"password": "a brand new passphrase"} if how == "password change" else {"is_active": False}
        assert client.patch(f"/api/v1/users/{office.id}", json=change, headers=admin).status_code == 200
    assert _replay(app, captured).status_code == 302 and _replay(app, second).status_code == 302


def test_idle_and_absolute_timeouts(app: Flask, office) -> None:  # type: ignore[no-untyped-def]
    app.config.update(OFFICE_SESSION_IDLE_MINUTES=30, PERMANENT_SESSION_LIFETIME=timedelta(hours=8))
    with time_machine.travel(datetime(2026, 12, 7, 1, 0, tzinfo=UTC), tick=False) as clock:
        browser = _logged_in(app.test_client())     # its cookie is re-signed on every answer
        idle = _cookie(_logged_in(app.test_client()))
        alive = 0
        for _ in range(20):            # active every 29 minutes: the idle timeout never ends it...
            clock.shift(timedelta(minutes=29))
            if browser.get(HOME).status_code != 200:
                break
            alive += 29
            if alive == 58:            # the other login, idle since, has ended
                assert _replay(app, idle).status_code == 302
        # ...but 8 hours after login it ends whatever the activity (the expiry does not slide)
        assert 8 * 60 - 29 < alive < 8 * 60, alive
    with app.app_context():
        reasons = sorted(str(r) for r in db.session.scalars(sa.select(OfficeSession.revoked_reason)))
    assert reasons == ["expired", "idle"]


def test_the_cookie_is_secure_over_https(app: Flask, client: FlaskClient, office) -> None:  # type: ignore[no-untyped-def]
    app.config["SESSION_COOKIE_SECURE"] = False  # development: only the request's scheme decides
    form = client.get("/office/login", base_url="https://localhost")
    assert "Secure" in form.headers["Set-Cookie"] and "HttpOnly" in form.headers["Set-Cookie"]
    plain = app.test_client().get("/office/login")
    assert "Secure" not in plain.headers["Set-Cookie"]
