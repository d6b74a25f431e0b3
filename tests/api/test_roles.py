"""Every endpoint declares its roles; objects are scoped to their owner (technicians, customers)."""
from __future__ import annotations

import uuid

from flask import Flask
from flask.testing import FlaskClient

from tests.factories import Factory, tomorrow_at
from tests.fuzzing import api_routes

PUBLIC = {"/api/v1/auth/token:POST", "/healthz:GET", "/readyz:GET", "/readyz/scheduler:GET", "/metrics:GET",
          # a customer's quote link: the single-use token is the credential (docs/commerce.md)
          "/api/v1/quote-links/<string:token>:GET", "/api/v1/quote-links/<string:token>/consent:POST"}


def test_every_api_endpoint_declares_roles(app: Flask) -> None:
    routes = list(api_routes(app))
    undeclared = [f"{method} {rule.rule}" for rule, method, roles in routes
                  if roles is None or (roles == () and f"{rule.rule}:{method}" not in PUBLIC)]
    assert routes and undeclared == []


def test_roles_appear_in_openapi(client: FlaskClient) -> None:
    spec = client.get("/api/openapi.json").get_json()
    put = spec["paths"]["/api/v1/visits/{visit_id}/assignment"]["put"]
    assert "Roles: dispatcher, admin." in put["description"]


def test_wrong_role_is_403(client: FlaskClient, headers) -> None:  # type: ignore[no-untyped-def]
    for role in ("technician", "parts_keeper", "office"):
        response = client.post("/api/v1/work-orders", json={}, headers=headers(role=role))
        assert response.status_code == 403, role
        assert response.mimetype == "application/problem+json"
    assert client.get("/api/v1/users", headers=headers(role="dispatcher")).status_code == 403


def test_technician_sees_only_own_visits(app: Flask, client: FlaskClient, make: Factory) -> None:
    mine = make.dispatched_job(start=tomorrow_at(9))
    theirs = make.dispatched_job(start=tomorrow_at(9))
    auth = {"Authorization": f"Bearer {make.token(mine.technician.user_id)}"}

    listed = client.get("/api/v1/visits", headers=auth).get_json()
    assert [v["id"] for v in listed["items"]] == [str(mine.visit.id)]
    assert listed["meta"]["total"] == 1

    assert client.get(f"/api/v1/visits/{mine.visit.id}", headers=auth).status_code == 200
    other = client.get(f"/api/v1/visits/{theirs.visit.id}", headers=auth)
    assert other.status_code == 404 and other.mimetype == "application/problem+json"
    # not by filtering on the other technician either
    by_filter = client.get(f"/api/v1/visits?technician_id={theirs.technician.id}", headers=auth).get_json()
    assert by_filter["items"] == []
    # nor their work order, customer, work logs, or arrival
    assert client.get(f"/api/v1/work-orders/{theirs.order.id}", headers=auth).status_code == 404
    assert client.get(f"/api/v1/customers/{theirs.order.customer_id}", headers=auth).status_code == 404
    assert client.get(f"/api/v1/visits/{theirs.visit.id}/work-logs", headers=auth).status_code == 404
    assert client.post(f"/api/v1/visits/{theirs.visit.id}/arrival", json={}, headers=auth).status_code == 404
    orders = client.get("/api/v1/work-orders", headers=auth).get_json()["items"]
    assert [o["id"] for o in orders] == [str(mine.order.id)]
    assert client.get(f"/api/v1/technicians/{theirs.technician.id}", headers=auth).status_code == 404


def test_customer_sees_only_own_records(client: FlaskClient, make: Factory) -> None:
    own_customer = make.customer("华东精密")
    own = make.dispatched_job(customer_id=own_customer.id)
    other = make.dispatched_job()
    login = make.user("customer", customer_id=own_customer.id)
    auth = {"Authorization": f"Bearer {make.token(login.id)}"}

    customers = client.get("/api/v1/customers", headers=auth).get_json()["items"]
    assert [c["id"] for c in customers] == [str(own_customer.id)]
    assert client.get(f"/api/v1/customers/{other.order.customer_id}", headers=auth).status_code == 404
    orders = client.get("/api/v1/work-orders", headers=auth).get_json()["items"]
    assert [o["id"] for o in orders] == [str(own.order.id)]
    assert client.get(f"/api/v1/work-orders/{other.order.id}", headers=auth).status_code == 404
    assert client.get(f"/api/v1/visits/{other.visit.id}", headers=auth).status_code == 404
    visits = client.get("/api/v1/visits", headers=auth).get_json()["items"]
    assert [v["id"] for v in visits] == [str(own.visit.id)]
    # customers read; they do not dispatch
    assert client.post("/api/v1/work-orders", json={}, headers=auth).status_code == 403


def test_unknown_ids_are_404_problems(client: FlaskClient, headers) -> None:  # type: ignore[no-untyped-def]
    auth = headers(role="dispatcher")
    for path in ("customers", "work-orders", "visits", "assets", "technicians", "contracts", "service-requests",
                 "sites", "products", "product-lines"):
        response = client.get(f"/api/v1/{path}/{uuid.uuid4()}", headers=auth)
        assert response.status_code == 404, path
        assert response.mimetype == "application/problem+json"


def test_technician_login_without_profile_sees_nothing(client: FlaskClient, make: Factory) -> None:
    """A technician login not yet linked to a technician profile must not match unassigned visits."""
    order = make.work_order()
    unassigned = make.visit(order.id)
    auth = {"Authorization": f"Bearer {make.token(make.user('technician').id)}"}
    assert client.get("/api/v1/visits", headers=auth).get_json()["items"] == []
    assert client.get(f"/api/v1/visits/{unassigned.id}", headers=auth).status_code == 404
    assert client.get("/api/v1/work-orders", headers=auth).get_json()["items"] == []
    assert client.get(f"/api/v1/work-orders/{order.id}", headers=auth).status_code == 404
