"""Bad input gets a clear 4xx problem response and writes nothing."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import Factory, tomorrow_at

PROBLEM = "application/problem+json"


@pytest.fixture
def auth(headers) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return headers(role="dispatcher")


@pytest.fixture
def world(make: Factory) -> dict[str, uuid.UUID]:
    customer = make.customer()
    site = make.site(customer.id)
    line = make.product_line()
    product = make.product(line.id)
    other = make.customer()
    return {"customer": customer.id, "site": site.id, "product": product.id, "line": line.id,
            "other_customer": other.id, "other_site": make.site(other.id).id}


def order_body(world: dict[str, uuid.UUID], **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {"kind": "repair", "customer_id": str(world["customer"]), "site_id": str(world["site"]),
                               "product_id": str(world["product"]), "summary": "压缩机不启动"}
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def assert_refused(response, status: int, counts_before: dict[str, int], counts: Callable[[], dict[str, int]]) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["type"].startswith("/problems/")
    assert counts() == counts_before, "a refused request wrote something"
    return body


def test_malformed_json(client: FlaskClient, auth, world, count_rows) -> None:  # type: ignore[no-untyped-def]
    before = count_rows()
    for raw in (b"{bad", b'{"kind": "repair",}', b"\xff\xfe{", b"", b"[" * 50_000 + b"]" * 50_000):
        response = client.post("/api/v1/work-orders", data=raw, headers={**auth, "Content-Type": "application/json"})
        assert_refused(response, 400 if raw else 422, before, count_rows)


def test_json_that_is_not_an_object(client: FlaskClient, auth, world, count_rows) -> None:  # type: ignore[no-untyped-def]
    before = count_rows()
    for body in ([], "text", 42, None, [order_body(world)]):
        response = client.post("/api/v1/work-orders", json=body, headers=auth)
        assert_refused(response, 422, before, count_rows)


@pytest.mark.parametrize("field,value", [
    ("summary", 123), ("summary", ["a"]), ("customer_id", 42), ("customer_id", "not-a-uuid"),
    ("kind", True), ("priority", 3), ("description", {"x": 1}),
])
def test_wrong_types(client: FlaskClient, auth, world, count_rows, field, value) -> None:  # type: ignore[no-untyped-def]
    before = count_rows()
    response = client.post("/api/v1/work-orders", json=order_body(world, **{field: value}), headers=auth)
    body = assert_refused(response, 422, before, count_rows)
    assert field in body["errors"]["json"]


@pytest.mark.parametrize("field", ["kind", "customer_id", "site_id", "summary"])
def test_missing_fields(client: FlaskClient, auth, world, count_rows, field) -> None:  # type: ignore[no-untyped-def]
    before = count_rows()
    response = client.post("/api/v1/work-orders", json=order_body(world, **{field: ...}), headers=auth)
    body = assert_refused(response, 422, before, count_rows)
    assert body["errors"]["json"][field] == ["Missing data for required field."]


def test_missing_product_without_asset(client: FlaskClient, auth, world, count_rows) -> None:  # type: ignore[no-untyped-def]
    before = count_rows()
    response = client.post("/api/v1/work-orders", json=order_body(world, product_id=...), headers=auth)
    assert "product_id" in assert_refused(response, 422, before, count_rows)["errors"]["json"]


def test_unknown_field(client: FlaskClient, auth, world, count_rows) -> None:  # type: ignore[no-untyped-def]
    before = count_rows()
    response = client.post("/api/v1/work-orders", json=order_body(world, status="closed"), headers=auth)
    assert assert_refused(response, 422, before, count_rows)["errors"]["json"]["status"] == ["Unknown field."]


def test_unknown_ids_in_body(client: FlaskClient, auth, world, count_rows) -> None:  # type: ignore[no-untyped-def]
    before = count_rows()
    for field in ("customer_id", "site_id", "product_id", "asset_id"):
        response = client.post("/api/v1/work-orders", json=order_body(world, **{field: str(uuid.uuid4())}),
                               headers=auth)
        body = assert_refused(response, 422, before, count_rows)
        assert body["type"] == "/problems/unknown_reference" or field == "site_id", body


def test_foreign_ids_in_body(client: FlaskClient, auth, world, make: Factory, count_rows) -> None:  # type: ignore[no-untyped-def]
    """A site or asset of another customer cannot be attached to this customer's work order."""
    other_asset = make.asset(world["other_customer"], world["other_site"], world["product"])
    before = count_rows()
    response = client.post("/api/v1/work-orders", json=order_body(world, site_id=str(world["other_site"])),
                           headers=auth)
    assert "another customer" in assert_refused(response, 422, before, count_rows)["detail"]
    response = client.post("/api/v1/work-orders", json=order_body(world, asset_id=str(other_asset.id)), headers=auth)
    assert "another customer" in assert_refused(response, 422, before, count_rows)["detail"]


def test_unknown_ids_in_path(client: FlaskClient, auth, count_rows) -> None:  # type: ignore[no-untyped-def]
    before = count_rows()
    missing = uuid.uuid4()
    for method, path, body in (
        ("post", f"/api/v1/work-orders/{missing}/visits",
         {"scheduled_start": tomorrow_at(9).isoformat(), "scheduled_end": tomorrow_at(10).isoformat()}),
        ("put", f"/api/v1/visits/{missing}/assignment", {"technician_id": None}),
        ("post", f"/api/v1/work-orders/{missing}/transitions", {"to": "cancelled", "reason": "x"}),
        ("patch", f"/api/v1/customers/{missing}", {"name": "x"}),
    ):
        assert_refused(getattr(client, method)(path, json=body, headers=auth), 404, before, count_rows)
    # a malformed id in the path does not match the route at all
    assert_refused(client.get("/api/v1/work-orders/not-a-uuid", headers=auth), 404, before, count_rows)


def test_over_long_strings(client: FlaskClient, auth, world, count_rows) -> None:  # type: ignore[no-untyped-def]
    before = count_rows()
    response = client.post("/api/v1/work-orders", json=order_body(world, summary="故" * 201), headers=auth)
    assert_refused(response, 422, before, count_rows)
    response = client.post("/api/v1/customers", json={"name": "x" * 201}, headers=auth)
    assert_refused(response, 422, before, count_rows)
    response = client.post("/api/v1/customers", json={"name": "ok", "phone": "1" * 41}, headers=auth)
    assert_refused(response, 422, before, count_rows)


def test_control_characters_refused(client: FlaskClient, auth, count_rows) -> None:  # type: ignore[no-untyped-def]
    before = count_rows()
    response = client.post("/api/v1/customers", json={"name": "a\x00b"}, headers=auth)
    assert_refused(response, 422, before, count_rows)


def test_invalid_enum_values(client: FlaskClient, auth, world, count_rows) -> None:  # type: ignore[no-untyped-def]
    before = count_rows()
    for field, value in (("kind", "demolition"), ("priority", "asap"), ("kind", "REPAIR")):
        response = client.post("/api/v1/work-orders", json=order_body(world, **{field: value}), headers=auth)
        assert field in assert_refused(response, 422, before, count_rows)["errors"]["json"]
    response = client.get("/api/v1/work-orders?status=done", headers=auth)
    assert_refused(response, 422, before, count_rows)


def test_times_must_carry_an_offset(client: FlaskClient, auth, make: Factory, count_rows) -> None:  # type: ignore[no-untyped-def]
    order = make.work_order()
    before = count_rows()
    response = client.post(f"/api/v1/work-orders/{order.id}/visits", headers=auth, json={
        "scheduled_start": "2026-12-01T09:00:00", "scheduled_end": "2026-12-01T11:00:00"})
    body = assert_refused(response, 422, before, count_rows)
    assert "scheduled_start" in body["errors"]["json"]
    response = client.post(f"/api/v1/work-orders/{order.id}/visits", headers=auth, json={
        "scheduled_start": "2026-12-01T11:00:00+08:00", "scheduled_end": "2026-12-01T09:00:00+08:00"})
    assert "scheduled_end" in assert_refused(response, 422, before, count_rows)["errors"]["json"]


def test_bad_pagination(client: FlaskClient, auth) -> None:  # type: ignore[no-untyped-def]
    for query in ("page=0", "page=-1", "page=abc", "page_size=0", "page_size=100000", "unknown=1"):
        response = client.get(f"/api/v1/work-orders?{query}", headers=auth)
        assert response.status_code == 422, query
        assert response.mimetype == PROBLEM


def test_page_size_is_capped(client: FlaskClient, auth) -> None:  # type: ignore[no-untyped-def]
    meta = client.get("/api/v1/customers?page_size=500", headers=auth).get_json()["meta"]
    assert meta["page_size"] == 200


def test_oversize_body(app: Flask, client: FlaskClient, auth, count_rows) -> None:  # type: ignore[no-untyped-def]
    before = count_rows()
    huge = b'{"name": "' + b"x" * (app.config["MAX_CONTENT_LENGTH"] + 10) + b'"}'
    response = client.post("/api/v1/customers", data=huge, headers={**auth, "Content-Type": "application/json"})
    assert_refused(response, 413, before, count_rows)


def test_wrong_method(client: FlaskClient, auth) -> None:  # type: ignore[no-untyped-def]
    response = client.delete("/api/v1/work-orders", headers=auth)
    assert response.status_code == 405 and response.mimetype == PROBLEM
    assert "GET" in response.headers["Allow"]


def test_expired_token_on_a_write(client: FlaskClient, make: Factory, world, count_rows) -> None:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    token = make.token(make.user("dispatcher").id, ttl=timedelta(minutes=1),
                       now=datetime.now(UTC) - timedelta(minutes=5))
    before = count_rows()
    response = client.post("/api/v1/work-orders", json=order_body(world),
                           headers={"Authorization": f"Bearer {token}"})
    assert_refused(response, 401, before, count_rows)


def test_wrong_role_on_a_write(client: FlaskClient, headers, world, count_rows) -> None:  # type: ignore[no-untyped-def]
    technician = headers(role="technician")
    before = count_rows()
    response = client.post("/api/v1/work-orders", json=order_body(world), headers=technician)
    assert_refused(response, 403, before, count_rows)


def test_duplicate_client_id_is_a_conflict(client: FlaskClient, auth, count_rows) -> None:  # type: ignore[no-untyped-def]
    client_id = str(uuid.uuid4())
    assert client.post("/api/v1/customers", json={"id": client_id, "name": "甲"}, headers=auth).status_code == 201
    before = count_rows()
    response = client.post("/api/v1/customers", json={"id": client_id, "name": "乙"}, headers=auth)
    assert_refused(response, 409, before, count_rows)


def test_stale_version_is_a_conflict(client: FlaskClient, auth, make: Factory) -> None:  # type: ignore[no-untyped-def]
    order = make.work_order()
    ok = client.patch(f"/api/v1/work-orders/{order.id}", json={"summary": "new", "version": order.version},
                      headers=auth)
    assert ok.status_code == 200 and ok.get_json()["version"] == order.version + 1
    stale = client.patch(f"/api/v1/work-orders/{order.id}", json={"summary": "lost", "version": order.version},
                         headers=auth)
    assert stale.status_code == 409 and stale.mimetype == PROBLEM
    assert stale.get_json()["current_version"] == order.version + 1
    assert client.get(f"/api/v1/work-orders/{order.id}", headers=auth).get_json()["summary"] == "new"


def test_money_out_of_range(client: FlaskClient, auth, world, count_rows) -> None:  # type: ignore[no-untyped-def]
    before = count_rows()
    response = client.post("/api/v1/contracts", headers=auth, json={
        "number": "HT-1", "customer_id": str(world["customer"]), "signed_on": "2026-01-01",
        "lines": [{"product_id": str(world["product"]), "unit_price_minor": 10**30, "sale_date": "2026-01-01"}]})
    assert_refused(response, 422, before, count_rows)
    response = client.post("/api/v1/contracts", headers=auth, json={
        "number": "HT-1", "customer_id": str(world["customer"]), "signed_on": "2026-01-01",
        "lines": [{"product_id": str(world["product"]), "unit_price_minor": 12.5, "sale_date": "2026-01-01"}]})
    assert_refused(response, 422, before, count_rows)
