"""Shared check for the property tests: whatever the body, the answer is not a 5xx, and a refusal is a
problem response."""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import Rule


def probe_request(client: FlaskClient, method: str, path: str, body: Any, headers: dict[str, str]) -> None:
    response = getattr(client, method)(path, json=body, headers=headers)
    assert response.status_code < 500, (method, path, body, response.get_data(as_text=True))
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json", (method, path, body, response.mimetype)


Probe = tuple[str, str, dict[str, str], "st.SearchStrategy[Any]"]


def run_probes(client: FlaskClient, probes: Sequence[Probe], json_values: st.SearchStrategy[Any], *,
               examples: int) -> None:
    """`examples` requests, each to one of `probes` (method, path, headers, body strategy) with a body drawn
    from its strategy or from arbitrary JSON, each checked by `probe_request`."""

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def probe(data: st.DataObject) -> None:
        method, path, auth, bodies = probes[data.draw(st.integers(0, len(probes) - 1))]
        probe_request(client, method, path, data.draw(st.one_of(bodies, json_values)), auth)

    probe()


def api_routes(app: Flask) -> Iterator[tuple[Rule, str, tuple[str, ...] | None]]:
    """Every (rule, method) of the JSON API with the roles its view declares (None: it declares none)."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1"):
            continue
        view = app.view_functions[rule.endpoint]
        cls = getattr(view, "view_class", None)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            fn = getattr(cls, method.lower()) if cls else view
            roles = getattr(fn, "allowed_roles", None)
            yield rule, method, None if roles is None else tuple(roles)
