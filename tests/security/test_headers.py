"""Issue 15: every page route in the URL map answers with the security headers, set in one place (the app
factory's after_request hook): a Content-Security-Policy without inline script (the signing page keeps its
stricter one), frame-ancestors/X-Frame-Options, nosniff, Referrer-Policy and no-store for personal data."""
from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.signing.views import CSP as SIGNING_CSP
from tests.api.test_every_endpoint import path_for, real_values
from tests.archive.test_pages import login
from tests.factories import Factory


def _check(response, what: str, failures: list[str]) -> None:  # type: ignore[no-untyped-def]
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    wanted = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
    for name, value in wanted.items():
        if headers.get(name) != value:
            failures.append(f"{what}: {name} is {headers.get(name)!r}")
    if "frame-ancestors 'none'" not in csp or "unsafe-inline" in csp.split("script-src")[-1].split(";")[0]:
        failures.append(f"{what}: CSP {csp!r}")
    if response.mimetype == "text/html" and "script-src 'none'" not in csp and "script-src 'self'" not in csp:
        failures.append(f"{what}: CSP of a page allows scripts from elsewhere: {csp!r}")
    if "no-store" not in headers.get("Cache-Control", ""):
        failures.append(f"{what}: Cache-Control {headers.get('Cache-Control')!r}")


@pytest.fixture
def demo(app: Flask) -> None:
    from fieldservice.db import unit_of_work
    from fieldservice.demo import seed_demo

    with app.app_context(), unit_of_work():
        seed_demo()


def test_every_page_route_sends_the_security_headers(app: Flask, demo: None) -> None:
    path_of = real_values(app)
    office = app.test_client()
    assert login(office, "office", "desk-demo-pass").status_code == 302
    failures: list[str] = []
    pages = 0
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or "static" in rule.endpoint or "GET" not in (rule.methods or ()):
            continue
        for who, client in (("office", office), ("anonymous", app.test_client())):
            for path in {path_of(rule), path_for(rule)}:
                response = client.get(path)
                pages += 1
                _check(response, f"GET {path} ({who}, {response.status_code})", failures)
                if path.startswith("/sign/") and response.mimetype == "text/html" and \
                        response.headers.get("Content-Security-Policy") != SIGNING_CSP:
                    failures.append(f"{path}: the signing page lost its own CSP")
    assert failures == []
    assert pages > 60


def test_api_answers_and_problems_carry_them_too(client: FlaskClient, headers) -> None:  # type: ignore[no-untyped-def]
    failures: list[str] = []
    for path, auth in (("/api/v1/customers", headers(role="office")), ("/api/v1/customers", {}),
                       ("/api/v1/nothing-here", {}), ("/healthz", {})):
        response = client.get(path, headers=auth)
        _check(response, f"GET {path} {response.status_code}", failures)
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert failures == []


def test_the_office_pages_have_no_inline_script(app: Flask, client: FlaskClient, make: Factory) -> None:
    import pathlib

    templates = pathlib.Path(app.root_path) / "templates" / "office"
    for template in templates.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        for tag in re.findall(r"<script[^>]*>", text):      # scripts only from files the CSP allows ('self')
            assert " src=" in tag, (template.name, tag)
        assert not re.search(r"\son[a-z]+\s*=", text.lower()), template.name   # no inline event handlers
        assert ' style="' not in text and "<style" not in text, template.name
