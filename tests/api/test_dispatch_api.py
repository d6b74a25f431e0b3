"""The dispatcher's day over the JSON API: request -> work order -> visit -> technician -> confirmation."""
from __future__ import annotations

import uuid

from flask.testing import FlaskClient

from tests.factories import Factory, tomorrow_at
from tests.problems import gate_refusal


def test_request_to_dispatched_visit(client: FlaskClient, make: Factory, headers) -> None:  # type: ignore[no-untyped-def]
    auth = headers(role="dispatcher")
    line = make.product_line("CNC")
    product = make.product(line.id)
    customer = make.customer("华东精密制造有限公司")
    site = make.site(customer.id)
    asset = make.asset(customer.id, site.id, product.id)
    tech = make.technician(name="王建国", certified_for=[line.id])

    request = client.post("/api/v1/service-requests", headers=auth, json={
        "customer_id": str(customer.id), "asset_id": str(asset.id), "channel": "phone",
        "problem": "主轴异响", "reporter_name": "张伟"})
    assert request.status_code == 201, request.get_json()
    assert request.get_json()["product_id"] == str(product.id)  # taken from the asset

    order = client.post(f"/api/v1/service-requests/{request.get_json()['id']}/work-order", headers=auth,
                        json={"priority": "high"})
    assert order.status_code == 201, order.get_json()
    order = order.get_json()
    assert order["status"] == "new" and order["kind"] == "repair" and order["number"].startswith("WO-")
    assert order["allowed_transitions"] == ["cancelled", "dispatched", "scheduled"]

    visit_id = str(uuid.uuid4())  # client-generated ids are accepted
    visit = client.post(f"/api/v1/work-orders/{order['id']}/visits", headers=auth, json={
        "id": visit_id, "scheduled_start": tomorrow_at(9).isoformat(), "scheduled_end": tomorrow_at(11).isoformat()})
    assert visit.status_code == 201 and visit.get_json()["id"] == visit_id
    assert client.get(f"/api/v1/work-orders/{order['id']}", headers=auth).get_json()["status"] == "scheduled"

    assigned = client.put(f"/api/v1/visits/{visit_id}/assignment", headers=auth,
                          json={"technician_id": str(tech.id)})
    assert assigned.status_code == 200 and assigned.get_json()["technician_id"] == str(tech.id)
    confirmed = client.post(f"/api/v1/visits/{visit_id}/confirmation", headers=auth,
                            json={"note": "张伟 电话确认 confirmed by phone"})
    assert confirmed.get_json()["customer_confirmed"] is True

    listed = client.get(f"/api/v1/work-orders?status=dispatched&technician_id={tech.id}", headers=auth).get_json()
    assert [o["id"] for o in listed["items"]] == [order["id"]]
    board = client.get(f"/api/v1/visits?technician_id={tech.id}&customer_confirmed=true", headers=auth).get_json()
    assert [v["id"] for v in board["items"]] == [visit_id]

    trail = client.get(f"/api/v1/work-orders/{order['id']}/audit", headers=auth).get_json()["items"]
    assert {e["action"] for e in trail} >= {"work_order.create", "work_order.status"}
    assert all(e["actor_role"] == "dispatcher" for e in trail)


def test_assignment_refusals_are_clear(client: FlaskClient, make: Factory, headers) -> None:  # type: ignore[no-untyped-def]
    auth = headers(role="dispatcher")
    job = make.dispatched_job(start=tomorrow_at(9))
    uncertified = make.technician(name="新人")
    second = make.visit(make.work_order(product_id=job.product.id).id, start=tomorrow_at(10))

    refused = client.put(f"/api/v1/visits/{second.id}/assignment", headers=auth,
                         json={"technician_id": str(uncertified.id)})
    assert refused.status_code == 422 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["type"] == "/problems/technician_not_certified"
    assert "R-TEC-1" in refused.get_json()["detail"]

    busy = client.put(f"/api/v1/visits/{second.id}/assignment", headers=auth,
                      json={"technician_id": str(job.technician.id)})
    assert busy.status_code == 409
    assert busy.get_json()["conflicting_visit_ids"] == [str(job.visit.id)]
    assert client.get(f"/api/v1/visits/{second.id}", headers=auth).get_json()["technician_id"] is None


def test_reassign_and_unassign(client: FlaskClient, make: Factory, headers) -> None:  # type: ignore[no-untyped-def]
    auth = headers(role="dispatcher")
    job = make.dispatched_job()
    other = make.technician(certified_for=[job.line.id])
    moved = client.put(f"/api/v1/visits/{job.visit.id}/assignment", headers=auth,
                       json={"technician_id": str(other.id)})
    assert moved.get_json()["technician_id"] == str(other.id)
    removed = client.put(f"/api/v1/visits/{job.visit.id}/assignment", headers=auth, json={"technician_id": None})
    assert removed.get_json()["technician_id"] is None
    assert client.get(f"/api/v1/work-orders/{job.order.id}", headers=auth).get_json()["status"] == "scheduled"
    actions = [e["action"] for e in client.get(
        f"/api/v1/audit-events?entity_id={job.visit.id}", headers=headers(role="office")).get_json()["items"]]
    assert "visit.reassign" in actions and "visit.unassign" in actions


def test_illegal_transition_is_409_naming_allowed(client: FlaskClient, make: Factory, headers) -> None:  # type: ignore[no-untyped-def]
    auth = headers(role="dispatcher")
    order = make.work_order()
    response = client.post(f"/api/v1/work-orders/{order.id}/transitions", headers=auth, json={"to": "closed"})
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["allowed_transitions"] == ["cancelled", "dispatched", "scheduled"]
    assert body["current_status"] == "new" and "new to closed" in body["detail"]


def test_technician_works_own_job_over_api(client: FlaskClient, make: Factory) -> None:
    job = make.dispatched_job()
    auth = {"Authorization": f"Bearer {make.token(job.technician.user_id)}"}
    assert client.post(f"/api/v1/visits/{job.visit.id}/arrival", headers=auth, json={}).status_code == 200
    log = client.post(f"/api/v1/visits/{job.visit.id}/work-logs", headers=auth, json={
        "started_at": tomorrow_at(9).isoformat(), "description": "更换主轴轴承 replaced spindle bearing"})
    assert log.status_code == 201
    # R-SIG-2 / R-REP-5: "work complete" while the visit is still in progress and with no repair record is
    # refused by the lifecycle gate, naming both conditions; nothing changes
    refused = client.post(f"/api/v1/work-orders/{job.order.id}/transitions", headers=auth,
                          json={"to": "work_complete"})
    gate_refusal(refused, "visit_in_progress", "work_not_reported_complete", "record_missing")
    assert client.get(f"/api/v1/work-orders/{job.order.id}", headers=auth).get_json()["status"] == "in_progress"
    make.job_record(job.visit.id)
    done = client.post(f"/api/v1/visits/{job.visit.id}/departure", headers=auth, json={"work_complete": True})
    assert done.status_code == 200
    order = client.get(f"/api/v1/work-orders/{job.order.id}", headers=auth).get_json()
    assert order["status"] == "work_complete"
    # a technician cannot close or cancel
    closing = client.post(f"/api/v1/work-orders/{job.order.id}/transitions", headers=auth,
                          json={"to": "cancelled", "reason": "x"})
    assert closing.status_code in (403, 409)


def test_lists_filter_and_paginate(client: FlaskClient, make: Factory, headers) -> None:  # type: ignore[no-untyped-def]
    auth = headers(role="dispatcher")
    customer = make.customer("星河购物中心")
    site = make.site(customer.id)
    product = make.product()
    for i in range(5):
        make.work_order(customer_id=customer.id, site_id=site.id, product_id=product.id, summary=f"job {i}")
    make.work_order()  # someone else's
    first = client.get(f"/api/v1/work-orders?customer_id={customer.id}&page_size=2", headers=auth).get_json()
    assert first["meta"] == {"page": 1, "page_size": 2, "total": 5, "pages": 3}
    third = client.get(f"/api/v1/work-orders?customer_id={customer.id}&page_size=2&page=3", headers=auth).get_json()
    assert len(third["items"]) == 1
    seen = {o["id"] for p in (1, 2, 3) for o in client.get(
        f"/api/v1/work-orders?customer_id={customer.id}&page_size=2&page={p}", headers=auth).get_json()["items"]}
    assert len(seen) == 5
    found = client.get("/api/v1/customers?q=星河", headers=auth).get_json()["items"]
    assert [c["name"] for c in found] == ["星河购物中心"]


def test_core_records_round_trip(client: FlaskClient, make: Factory, headers) -> None:  # type: ignore[no-untyped-def]
    auth = headers(role="dispatcher")
    line = client.post("/api/v1/product-lines", headers=auth, json={"code": "HVAC", "name": "商用空调"}).get_json()
    product = client.post("/api/v1/products", headers=auth, json={
        "product_line_id": line["id"], "model_code": "LS-200", "name": "螺杆式冷水机组", "warranty_months": 24}).get_json()
    customer = client.post("/api/v1/customers", headers=auth, json={
        "name": "星河购物中心", "contacts": [{"name": "陈静", "phone": "139-0000-0002", "is_primary": True}],
        "sites": [{"name": "主楼", "address": "杭州市西湖区文三路 200 号"}]}).get_json()
    assert customer["contacts"][0]["name"] == "陈静" and customer["sites"][0]["country"] == "CN"
    contract = client.post("/api/v1/contracts", headers=auth, json={
        "number": "HT-2026-9", "customer_id": customer["id"], "signed_on": "2026-03-01",
        "lines": [{"product_id": product["id"], "serial_number": "LS200-1", "unit_price_minor": 118_000_000,
                   "channel": "dealer", "sale_date": "2026-03-01", "ship_date": "2026-03-10",
                   "configuration": "200RT"}]})
    assert contract.status_code == 201, contract.get_json()
    contract = contract.get_json()
    asset = client.post("/api/v1/assets", headers=auth, json={
        "customer_id": customer["id"], "site_id": customer["sites"][0]["id"], "product_id": product["id"],
        "contract_line_id": contract["lines"][0]["id"], "serial_number": "LS200-1",
        "install_date": "2026-03-15", "warranty_start": "2026-03-15"})
    assert asset.status_code == 201, asset.get_json()
    assert asset.get_json()["warranty_end"] == "2028-03-14"  # 24 months from the product
    by_serial = client.get("/api/v1/contracts?serial_number=LS200-1", headers=auth).get_json()["items"]
    assert [c["id"] for c in by_serial] == [contract["id"]]
    dup = client.post("/api/v1/assets", headers=auth, json={
        "customer_id": customer["id"], "site_id": customer["sites"][0]["id"], "product_id": product["id"],
        "serial_number": "LS200-1"})
    assert dup.status_code == 409
    tech = client.post("/api/v1/technicians", headers=auth, json={"name": "李明"}).get_json()
    cert = client.post(f"/api/v1/technicians/{tech['id']}/certifications", headers=auth, json={
        "product_line_id": line["id"], "issued_on": "2026-01-01", "expires_on": "2027-12-31"})
    assert cert.status_code == 201
    certified = client.get(f"/api/v1/technicians?product_line_id={line['id']}", headers=auth).get_json()["items"]
    assert [t["id"] for t in certified] == [tech["id"]]
