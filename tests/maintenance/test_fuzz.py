"""Property test: no JSON body makes a maintenance endpoint answer 5xx; refusals are problem responses."""
from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import Factory
from tests.fuzzing import probe_request

scalars = (st.none() | st.booleans() | st.integers(min_value=-10**12, max_value=10**12) | st.floats(allow_nan=False)
           | st.text(max_size=40) | st.uuids().map(str)
           | st.sampled_from(["2027-01-31", "2100-12-31", "1999-12-31", "09:00", "23:59:59", "12:00+08:00", "days",
                              "weeks", "months", "FREQ=MONTHLY;BYMONTH=3,9;BYMONTHDAY=15", "FREQ=WEEKLY;COUNT=2",
                              "FREQ=YEARLY;BYWEEKNO=60", "FREQ=DAILY;INTERVAL=0", "RRULE:FREQ=MONTHLY",
                              "FREQ=WEEKLY;UNTIL=20270101T000000Z", "FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU"]))
values = st.recursive(scalars, lambda children: st.lists(children, max_size=3)
                      | st.dictionaries(st.sampled_from(["task", "checklist", "x"]), children, max_size=3),
                      max_leaves=10)
FIELDS = ["asset_id", "name", "items", "interval", "interval_unit", "rrule", "start_on", "end_on", "window_start",
          "window_end", "technician_id", "version", "reason", "horizon_days"]


def test_maintenance_endpoints_never_fail_with_5xx(app: Flask, make: Factory) -> None:
    auth = {"Authorization": f"Bearer {make.token(make.user('admin').id)}"}
    customer = make.customer()
    asset = make.asset(customer.id, make.site(customer.id).id, make.product().id)
    client = app.test_client()
    today = datetime.now(UTC).date().isoformat()
    plan = client.post("/api/v1/maintenance-plans", headers=auth, json={
        "asset_id": str(asset.id), "name": "p", "items": [{"task": "t"}], "interval": 1, "interval_unit": "months",
        "start_on": today}).get_json()
    valid = {"asset_id": str(asset.id), "name": "fuzz", "items": [{"task": "t"}], "start_on": today}
    endpoints = [("post", "/api/v1/maintenance-plans"), ("patch", f"/api/v1/maintenance-plans/{plan['id']}"),
                 ("post", "/api/v1/maintenance-occurrences/generation")]
    bodies = st.one_of(values, st.dictionaries(st.sampled_from(FIELDS), values, max_size=8),
                       st.dictionaries(st.sampled_from(FIELDS), values, max_size=4).map(lambda d: {**valid, **d}))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(index=st.integers(min_value=0, max_value=len(endpoints) - 1), body=bodies)
    def probe(index: int, body: object) -> None:
        method, path = endpoints[index]
        probe_request(client, method, path, body, auth)

    probe()
    # the plan's cancellation last (it ends the plan's editing)
    assert client.post(f"/api/v1/maintenance-plans/{plan['id']}/cancellation", json={"reason": "x" * 501},
                       headers=auth).status_code == 422
