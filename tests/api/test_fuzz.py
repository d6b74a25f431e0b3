"""Property test: no JSON body, however odd, makes a write endpoint answer 5xx; refusals are problems."""
from __future__ import annotations

import uuid

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import Factory
from tests.fuzzing import probe_request

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50)
    | st.uuids().map(str) | st.sampled_from(["2026-12-01T09:00:00+08:00", "2026-12-01", "repair", "phone"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=15), children, max_size=5),
    max_leaves=20,
)
FIELDS = ["id", "kind", "customer_id", "site_id", "asset_id", "product_id", "summary", "priority", "name",
          "scheduled_start", "scheduled_end", "technician_id", "channel", "problem", "to", "reason", "version",
          "lines", "contacts", "sites", "serial_number", "unit_price_minor", "username", "password", "role"]
bodies = st.one_of(json_values, st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8))


def test_write_endpoints_never_fail_with_5xx(app: Flask, make: Factory) -> None:
    user = make.user("admin")
    auth = {"Authorization": f"Bearer {make.token(user.id)}"}
    order = make.work_order()
    visit = make.visit(order.id)
    customer = order.customer_id
    endpoints = [
        ("post", "/api/v1/customers"), ("post", "/api/v1/work-orders"), ("post", "/api/v1/service-requests"),
        ("post", "/api/v1/contracts"), ("post", "/api/v1/assets"), ("post", "/api/v1/technicians"),
        ("post", "/api/v1/users"), ("post", "/api/v1/auth/token"),
        ("post", f"/api/v1/work-orders/{order.id}/visits"), ("post", f"/api/v1/work-orders/{order.id}/transitions"),
        ("patch", f"/api/v1/work-orders/{order.id}"), ("put", f"/api/v1/visits/{visit.id}/assignment"),
        ("patch", f"/api/v1/visits/{visit.id}"), ("post", f"/api/v1/visits/{visit.id}/confirmation"),
        ("patch", f"/api/v1/customers/{customer}"), ("post", f"/api/v1/customers/{customer}/sites"),
        ("post", f"/api/v1/service-requests/{uuid.uuid4()}/work-order"),
    ]
    client = app.test_client()

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(index=st.integers(min_value=0, max_value=len(endpoints) - 1), body=bodies)
    def probe(index: int, body: object) -> None:
        method, path = endpoints[index]
        probe_request(client, method, path, body, auth)

    probe()
    # whatever the fuzzing changed, what it left behind still reads back cleanly
    for path in ("/api/v1/customers", "/api/v1/work-orders", "/api/v1/visits", f"/api/v1/work-orders/{order.id}"):
        assert client.get(path, headers=auth).status_code == 200, path
