"""Issue 15: the password policy on every door that sets a password (the users API on create and change, the
`flask users create` CLI), a login `next` with CR/LF, and production settings that must not be guessed."""
from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.config import ConfigError, ProductionConfig
from tests.archive.test_pages import PASSWORD, _csrf
from tests.factories import Factory

REFUSED = {"aaaaaaaaaa": "too common", "password12": "too common", " " * 10: "whitespace",
           "\u3000" * 12: "whitespace", "wang.fang-2026": "username", "wang.fang": "between 10 and 200"}


@pytest.mark.parametrize("password", list(REFUSED))
def test_weak_passwords_are_refused_on_create_and_change(client: FlaskClient, headers, make: Factory,  # type: ignore[no-untyped-def]
                                                         count_rows, password: str) -> None:
    admin = headers(role="admin")
    before = count_rows()
    response = client.post("/api/v1/users", json={"username": "wang.fang", "password": password, "role": "office"},
                           headers=admin)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert REFUSED[password] in str(response.get_json()), response.get_json()
    assert count_rows() == before
    user = make.user("office", username="wang.fang", password="a sound passphrase")
    response = client.patch(f"/api/v1/users/{user.id}", json={"password": password}, headers=admin)
    assert response.status_code == 422


def test_the_cli_refuses_a_weak_password_and_takes_a_good_one(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--username", "li.ming", "--role", "office",
                                 "--password", "password12"])
    assert result.exit_code != 0 and "too common" in result.output
    result = runner.invoke(args=["users", "create", "--username", "li.ming", "--role", "office",
                                 "--password", "the tide turns at nine"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("target", ["/office/kpis\r\nSet-Cookie: x=1", "/office/\nx", "//evil.example/office/",
                                    "/office/\\evil", "https://evil.example/office/"])
def test_a_login_next_with_cr_lf_or_another_site_goes_home(client: FlaskClient, make: Factory, target: str) -> None:
    make.user("office", username="zhao", password=PASSWORD)
    form = client.get("/office/login").get_data(as_text=True)
    response = client.post("/office/login", data={"username": "zhao", "password": PASSWORD, "next": target,
                                                  "csrf_token": _csrf(form)})
    assert response.status_code == 302 and response.headers["Location"] == "/office/"


PRODUCTION = {"FIELDSERVICE_ENV": "production", "SECRET_KEY": "s" * 40, "DATABASE_URL": "postgresql://x@h/db",
              "PUBLIC_BASE_URL": "https://service.example.com", "ARCHIVE_HMAC_KEY": "k" * 64,
              "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0", "ARCHIVE_ANCHOR_DIR": "/srv/anchors"}


@pytest.mark.parametrize("missing", ["PUBLIC_BASE_URL", "ARCHIVE_HMAC_KEY", "RATELIMIT_STORAGE_URI",
                                     "ARCHIVE_ANCHOR_DIR"])
def test_production_requires_the_security_settings(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    """Signing links are never built from a request's Host header in production; the chain is keyed; the
    throttling store is shared; the chain heads are anchored outside the database."""
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    assert ProductionConfig().PUBLIC_BASE_URL == "https://service.example.com"
    monkeypatch.delenv(missing)
    with pytest.raises(ConfigError, match=missing):
        ProductionConfig()


def test_signing_link_urls_use_public_base_url_not_the_host_header(app: Flask, client: FlaskClient,
                                                                    make: Factory) -> None:
    from tests.records.conftest import create_record, repair_content

    app.config["PUBLIC_BASE_URL"] = "https://service.example.com"
    job = make.dispatched_job()
    job.auth = {"Authorization": f"Bearer {make.token(job.technician.user_id)}"}
    record = create_record(client, job, "repair_record", repair_content())
    response = client.post(f"/api/v1/records/{record['id']}/signing-links", json={}, headers={
        **job.auth, "Host": "evil.example"})
    assert response.status_code == 201 and response.get_json()["url"].startswith("https://service.example.com/sign/")
