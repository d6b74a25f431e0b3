"""Over real HTTP: a server on a loopback port, driven the way `curl` would drive `make run`."""
from __future__ import annotations

import requests
from flask import Flask

from tests.factories import tomorrow_at


def token(base: str, username: str, password: str) -> dict[str, str]:
    response = requests.post(f"{base}/api/v1/auth/token", json={"username": username, "password": password}, timeout=10)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_demo_dispatcher_creates_assigns_and_lists(app: Flask, live_url: str) -> None:
    """The acceptance walk-through of the foundation issue, against the demo data."""
    assert app.test_cli_runner().invoke(args=["seed-demo"]).exit_code == 0
    dispatcher = token(live_url, "dispatcher", "dispatch-demo-pass")
    get = lambda path, auth=dispatcher: requests.get(f"{live_url}{path}", headers=auth, timeout=10)  # noqa: E731

    customer = next(c for c in get("/api/v1/customers").json()["items"] if c["name"] == "华东精密制造有限公司")
    asset = get(f"/api/v1/assets?customer_id={customer['id']}").json()["items"][0]
    wang = next(t for t in get("/api/v1/technicians").json()["items"] if t["name"] == "王建国")

    created = requests.post(f"{live_url}/api/v1/work-orders", headers=dispatcher, timeout=10, json={
        "kind": "repair", "customer_id": customer["id"], "site_id": asset["site_id"], "asset_id": asset["id"],
        "summary": "冷却液泄漏 coolant leak"})
    assert created.status_code == 201, created.text
    order = created.json()
    visit = requests.post(f"{live_url}/api/v1/work-orders/{order['id']}/visits", headers=dispatcher, timeout=10, json={
        "scheduled_start": tomorrow_at(13, days=3).isoformat(), "scheduled_end": tomorrow_at(15, days=3).isoformat()})
    assert visit.status_code == 201, visit.text
    assigned = requests.put(f"{live_url}/api/v1/visits/{visit.json()['id']}/assignment", headers=dispatcher,
                            timeout=10, json={"technician_id": wang["id"]})
    assert assigned.status_code == 200, assigned.text
    listed = get("/api/v1/work-orders?status=dispatched").json()["items"]
    assert order["id"] in [o["id"] for o in listed]

    # Wang (CNC only; his HVAC certificate expired) cannot take the chiller job
    chiller_visit = next(v for v in get("/api/v1/visits").json()["items"]
                         if v["technician_id"] != wang["id"] and v["status"] == "planned")  # not last month's
    refused = requests.put(f"{live_url}/api/v1/visits/{chiller_visit['id']}/assignment", headers=dispatcher,
                           timeout=10, json={"technician_id": wang["id"]})
    assert refused.status_code == 422 and refused.headers["Content-Type"] == "application/problem+json"

    wang_auth = token(live_url, "tech.wang", "wang-demo-pass")
    own = get("/api/v1/visits", wang_auth).json()["items"]
    assert own and all(v["technician_id"] == wang["id"] for v in own)
    assert get(f"/api/v1/visits/{chiller_visit['id']}", wang_auth).status_code == 404


def test_bad_requests_over_http_are_problems(live_url: str) -> None:
    response = requests.post(f"{live_url}/api/v1/auth/token", data="{oops", timeout=10,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert requests.get(f"{live_url}/healthz", timeout=10).json() == {"status": "ok"}
