"""Tokens and passwords: hashed at rest, expiring, revocable."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.auth.models import ApiToken, User
from fieldservice.extensions import db
from tests.factories import Factory

PROBLEM = "application/problem+json"


def login(client: FlaskClient, username: str, password: str) -> tuple[int, dict]:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    return response.status_code, response.get_json()


def test_token_issued_and_stored_hashed(app: Flask, client: FlaskClient, make: Factory) -> None:
    make.user("dispatcher", username="liu", password="a long password")
    status, body = login(client, "liu", "a long password")
    assert status == 201
    assert body["token_type"] == "Bearer"
    token = body["access_token"]
    with app.app_context():
        stored = db.session.scalars(sa.select(ApiToken.token_hash)).all()
        password_hash = db.session.scalar(sa.select(User.password_hash).where(User.username == "liu"))
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64
    assert "a long password" not in password_hash and password_hash.startswith(("scrypt:", "pbkdf2:"))
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["role"] == "dispatcher"


def test_wrong_password_and_unknown_user_look_the_same(client: FlaskClient, make: Factory) -> None:
    make.user("office", username="zhou", password="right password")
    wrong = client.post("/api/v1/auth/token", json={"username": "zhou", "password": "wrong password"})
    unknown = client.post("/api/v1/auth/token", json={"username": "nobody", "password": "wrong password"})
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.mimetype == PROBLEM
        assert response.get_json()["detail"] == "invalid username or password"


def test_expired_token_refused(client: FlaskClient, make: Factory) -> None:
    user = make.user("dispatcher")
    token = make.token(user.id, ttl=timedelta(hours=1), now=datetime.now(UTC) - timedelta(hours=2))
    response = client.get("/api/v1/work-orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.mimetype == PROBLEM
    assert response.get_json()["detail"] == "token expired"


def test_logout_revokes_the_token(client: FlaskClient, make: Factory) -> None:
    token = make.token(make.user("dispatcher").id)
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/auth/me", headers=auth).status_code == 200
    assert client.delete("/api/v1/auth/token", headers=auth).status_code == 204
    response = client.get("/api/v1/auth/me", headers=auth)
    assert response.status_code == 401 and response.get_json()["detail"] == "token revoked"


def test_disabling_a_user_revokes_tokens(client: FlaskClient, make: Factory, headers) -> None:  # type: ignore[no-untyped-def]
    victim = make.user("technician")
    victim_auth = {"Authorization": f"Bearer {make.token(victim.id)}"}
    response = client.patch(f"/api/v1/users/{victim.id}", json={"is_active": False}, headers=headers(role="admin"))
    assert response.status_code == 200 and response.get_json()["is_active"] is False
    assert client.get("/api/v1/auth/me", headers=victim_auth).status_code == 401
    assert login(client, victim.username, "correct horse battery")[0] == 401


def test_missing_or_malformed_authorization(client: FlaskClient) -> None:
    for value in (None, "Basic abc", "Bearer", "Bearer   ", "Token x"):
        response = client.get("/api/v1/work-orders", headers={"Authorization": value} if value else {})
        assert response.status_code == 401, value
        assert response.mimetype == PROBLEM
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_admin_creates_user_with_hashed_password(app: Flask, client: FlaskClient, headers) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/users", headers=headers(role="admin"), json={
        "username": "tech.zhao", "password": "zhao-secret-pw", "role": "technician", "display_name": "赵师傅"})
    assert response.status_code == 201
    assert "password" not in response.get_json() and "password_hash" not in response.get_json()
    assert login(client, "tech.zhao", "zhao-secret-pw")[0] == 201
    short = client.post("/api/v1/users", headers=headers(role="admin"), json={
        "username": "tech.qian", "password": "short", "role": "technician"})
    assert short.status_code == 422 and "password" in short.get_json()["errors"]["json"]


def test_customer_login_requires_customer(client: FlaskClient, headers) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/api/v1/users", headers=headers(role="admin"), json={
        "username": "cust1", "password": "customer-password", "role": "customer"})
    assert response.status_code == 422
    assert response.mimetype == PROBLEM
