"""Liveness and readiness probes."""
from __future__ import annotations

from flask.testing import FlaskClient

from fieldservice import create_app
from fieldservice.config import TestConfig


def test_healthz(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}


def test_readyz_with_database(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200 and response.get_json()["database"] == "ok"


def test_readyz_without_database() -> None:
    app = create_app(TestConfig("postgresql://nobody@127.0.0.1:1/none"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503 and response.get_json()["database"] == "unreachable"


def test_api_docs_served_without_cdn(client: FlaskClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and b"/api/docs/static/swagger-ui-bundle.js" in page.data
    assert client.get("/api/docs/static/swagger-ui-bundle.js").status_code == 200
    spec = client.get("/api/openapi.json").get_json()
    assert spec["info"]["title"] == "Field Service API"
    assert "/api/v1/work-orders" in spec["paths"]
