"""Issue 15: failed logins are throttled per account and per client address on both doors (the token endpoint
and the office login form), 429 with Retry-After as problem+json, the right password refused too until the
window passes; the public link pages are throttled per address; Redis is the shared store in production."""
from __future__ import annotations

import os
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldservice import create_app
from fieldservice.config import TestConfig
from tests.archive.test_pages import PASSWORD, login
from tests.conftest import IN_CI
from tests.factories import Factory

TOKEN = "/api/v1/auth/token"


def token(client: FlaskClient, username: str, password: str, address: str = "10.0.0.1"):  # type: ignore[no-untyped-def]
    return client.post(TOKEN, json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


@pytest.fixture
def limits(app: Flask) -> None:
    app.config.update(LOGIN_LIMIT_PER_ACCOUNT="5 per 15 minutes", LOGIN_LIMIT_PER_ADDRESS="8 per 15 minutes")


def test_token_endpoint_refuses_after_failures_per_account_even_the_right_password(
        client: FlaskClient, make: Factory, limits: None) -> None:
    make.user("office", username="zhou", password=PASSWORD)
    for i in range(5):  # from five different addresses: the account's own limit
        assert token(client, "zhou", "wrong password", f"10.0.1.{i}").status_code == 401
    refused = token(client, "ZHOU ", PASSWORD, "10.0.2.1")
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["type"] == "/problems/too_many_requests"
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    assert token(client, "someone-else", "wrong password", "10.0.2.1").status_code == 401  # other accounts work


def test_token_endpoint_refuses_an_address_guessing_many_accounts(client: FlaskClient, make: Factory,
                                                                  limits: None) -> None:
    make.user("office", username="li", password=PASSWORD)
    for i in range(8):
        assert token(client, f"user{i}", "wrong password", "10.0.3.3").status_code == 401
    assert token(client, "li", PASSWORD, "10.0.3.3").status_code == 429
    assert token(client, "li", PASSWORD, "10.0.3.4").status_code == 201  # another address is not held up


def test_office_login_form_is_throttled_too(client: FlaskClient, make: Factory, limits: None) -> None:
    make.user("office", username="wang", password=PASSWORD)
    for _ in range(5):
        assert login(client, "wang", "wrong password").status_code == 401
    refused = login(client, "wang")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "登录失败次数过多" in refused.get_data(as_text=True)  # the office speaks Chinese by default
    assert client.get("/office/").status_code == 302  # not logged in


def test_signing_and_quote_links_are_throttled_per_address(app: Flask, client: FlaskClient) -> None:
    app.config["PUBLIC_LINK_LIMIT_PER_ADDRESS"] = "4 per minute"
    paths = [f"/sign/{uuid.uuid4().hex}", f"/api/v1/quote-links/{uuid.uuid4().hex}"]
    for i in range(4):
        response = client.get(paths[i % 2], environ_base={"REMOTE_ADDR": "10.0.4.4"})
        assert response.status_code == 404
    for path in paths:
        refused = client.get(path, environ_base={"REMOTE_ADDR": "10.0.4.4"})
        assert refused.status_code == 429 and refused.headers["Retry-After"], path
    html = client.get(paths[0], headers={"Accept": "text/html"}, environ_base={"REMOTE_ADDR": "10.0.4.4"})
    assert html.status_code == 429 and html.mimetype == "text/html" and html.headers["Retry-After"]
    assert client.get(paths[0], environ_base={"REMOTE_ADDR": "10.0.4.5"}).status_code == 404


def test_behind_a_trusted_proxy_the_client_address_counts(database_url: str, app: Flask, make: Factory) -> None:
    config = TestConfig(database_url)
    config.TRUSTED_PROXY_COUNT = 1
    config.LOGIN_LIMIT_PER_ADDRESS = "2 per 15 minutes"
    proxied = create_app(config).test_client()
    for _ in range(2):
        assert proxied.post(TOKEN, json={"username": "x", "password": "y"},
                            headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 401
    assert proxied.post(TOKEN, json={"username": "x", "password": "y"},
                        headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 429
    assert proxied.post(TOKEN, json={"username": "x", "password": "y"},
                        headers={"X-Forwarded-For": "203.0.113.10"}).status_code == 401


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_redis_is_the_store_shared_by_every_worker(database_url: str, app: Flask, make: Factory) -> None:
    """Two app instances (two gunicorn workers, or two nodes) count failures together in Redis. Redis runs on
    this machine and in CI: there an unreachable Redis fails the test, it is never skipped."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as err:
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is unreachable: {err} (CI=true: a failure, not a skip)")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {err}")
    workers = []
    for _ in range(2):
        config = TestConfig(database_url)
        config.RATELIMIT_STORAGE_URI = REDIS_URL
        config.LOGIN_LIMIT_PER_ACCOUNT = "3 per 15 minutes"
        workers.append(create_app(config))
    name = f"redis-{uuid.uuid4().hex[:8]}"
    make.user("office", username=name, password=PASSWORD)
    try:
        for i in range(3):
            assert token(workers[i % 2].test_client(), name, "wrong password").status_code == 401
        assert token(workers[0].test_client(), name, PASSWORD).status_code == 429
        assert token(workers[1].test_client(), name, PASSWORD).status_code == 429
    finally:
        workers[0].extensions["fieldservice.limiter"].reset()

