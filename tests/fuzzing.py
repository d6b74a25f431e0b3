"""Shared check for the property tests: whatever the body, the answer is not a 5xx, and a refusal is a
problem response."""
from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient


def probe_request(client: FlaskClient, method: str, path: str, body: Any, headers: dict[str, str]) -> None:
    response = getattr(client, method)(path, json=body, headers=headers)
    assert response.status_code < 500, (method, path, body, response.get_data(as_text=True))
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json", (method, path, body, response.mimetype)
