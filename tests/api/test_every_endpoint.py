"""A sweep over every route of the JSON API: malformed JSON, JSON of the wrong shape, fields of the wrong type,
unknown ids in the path and nonsense query parameters. Whatever the endpoint, the answer is never a 5xx, a
refusal is an application/problem+json body, and a refused write leaves every table as it was.

The caller has a role the endpoint allows, so the request gets past the role check to the parsing and
validation it is meant to exercise."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from tests.factories import Factory
from tests.fuzzing import api_routes

PROBLEM = "application/problem+json"
WRITE = ("POST", "PUT", "PATCH", "DELETE")
WRONG_TYPES = {"id": "not-a-uuid", "customer_id": 12, "site_id": ["x"], "asset_id": {}, "name": ["名"],
               "starts_at": "yesterday", "due_on": "2026-02-30", "quantity": -1, "status": {"a": 1},
               "items": "x", "lines": 5, "amount_minor": "ten", "currency": 7, "lock_version": "v1",
               "rating": 99, "reason": None}
# issue 15: JSON that parses but no endpoint can hold (a lone UTF-16 surrogate in every field, nesting deeper
# than the schemas or than Python's parser go) and CR/LF in every text field
SURROGATES = ("{" + ", ".join(f'"{k}": "\\ud800{k}"' for k in (*WRONG_TYPES, "username", "password", "q", "note",
                                                                 "description", "content", "signer_name"))
              + ', "\\udfff": 1}').encode()
CRLF = {k: f"a\r\nSet-Cookie: x={k}\r\n" for k in (*WRONG_TYPES, "username", "password", "note", "description")}
BODIES: tuple[tuple[str, Any], ...] = (("malformed", b"{\"a\": "), ("array", []), ("scalar", "文本"),
                                       ("wrong types", WRONG_TYPES), ("empty", {}), ("lone surrogates", SURROGATES),
                                       ("deep nesting", b'{"a":' * 200 + b"1" + b"}" * 200),
                                       ("too deep to parse", b"[" * 100_000 + b"]" * 100_000), ("CR/LF", CRLF))
QUERY = {"page": "-1", "per_page": "abc", "limit": "1e9", "from": "not-a-date", "to": "2026-13-45",
         "since": "x", "status": "nope", "q": "%\x00'", "sort": "; drop table users", "kind": "[]",
         "next": "/office/\r\nSet-Cookie: x=1"}
LOGOUT = ("DELETE", "/api/v1/auth/token")  # revokes the caller's own token whatever the body: not swept
# where every field has a default, an empty object is a whole request: run the generation for the default
# horizon; configure the company-wide warranty terms
ACCEPTS_EMPTY = {("POST", "/api/v1/maintenance-occurrences/generation"), ("POST", "/api/v1/warranty-terms")}


def path_for(rule: Rule) -> str:
    values: dict[str, Any] = {}
    for name, converter in rule._converters.items():  # noqa: SLF001 - werkzeug keeps no public map
        kind = type(converter).__name__
        values[name] = 0 if kind == "IntegerConverter" else str(uuid.uuid4()) if kind == "UUIDConverter" else "nope"
    return rule.build(values, append_unknown=False)[1]


def caller(make: Factory) -> Callable[[tuple[str, ...]], dict[str, str]]:
    cache: dict[str, dict[str, str]] = {}

    def headers(roles: tuple[str, ...]) -> dict[str, str]:
        role = "admin" if "admin" in roles or not roles else roles[0]
        if role not in cache:
            if role == "technician":
                user_id = make.technician().user_id
            elif role == "customer":
                user_id = make.user("customer", customer_id=make.customer().id).id
            else:
                user_id = make.user(role).id
            cache[role] = {"Authorization": f"Bearer {make.token(user_id)}"}
        return cache[role]

    return headers


def send(client: FlaskClient, method: str, path: str, body: Any, auth: dict[str, str]) -> Any:
    """A JSON body, or raw bytes declared as JSON (the malformed case)."""
    if isinstance(body, bytes):
        return client.open(path, method=method, data=body, headers={**auth, "Content-Type": "application/json"})
    return client.open(path, method=method, json=body, headers=auth)


def check(response: Any, what: str, failures: list[str]) -> None:
    if response.status_code in (401, 403):  # the caller's role is allowed: the sweep would test nothing
        failures.append(f"{what}: {response.status_code}, the request never reached the endpoint")
    elif response.status_code >= 500:
        failures.append(f"{what}: {response.status_code} {response.get_data(as_text=True)[:200]}")
    elif response.status_code >= 400 and response.mimetype != PROBLEM:
        failures.append(f"{what}: {response.status_code} answered as {response.mimetype}")


def test_no_endpoint_answers_bad_input_with_a_5xx(app: Flask, client: FlaskClient, make: Factory,
                                                   count_rows) -> None:  # type: ignore[no-untyped-def]
    headers = caller(make)
    routes = list(api_routes(app))
    assert len(routes) > 100, "the sweep found too few routes to mean anything"
    before = count_rows()
    failures: list[str] = []
    writes = 0
    for rule, method, roles in routes:
        if (method, rule.rule) == LOGOUT:
            continue
        path, auth = path_for(rule), headers(roles or ())
        if method not in WRITE:
            check(client.open(path, method=method, query_string=QUERY, headers=auth), f"{method} {rule.rule}?…",
                  failures)
            continue
        for label, body in BODIES:
            response = send(client, method, path, body, auth)
            check(response, f"{method} {rule.rule} [{label}]", failures)
            writes += 1
            if 200 <= response.status_code < 300 and not (label == "empty" and (method, rule.rule) in ACCEPTS_EMPTY):
                failures.append(f"{method} {rule.rule} [{label}]: accepted ({response.status_code})")
    assert failures == []
    assert writes > 300
    after = count_rows()
    # the callers' own users, technicians, customers and tokens, and the company default terms accepted above,
    # are the only rows the sweep may add
    changed = {name for name in after if after[name] != before[name]}
    assert changed <= {"users", "api_tokens", "technicians", "customers", "audit_events", "sync_changes",
                       "warranty_terms"}, changed


# ---- the same bodies against real objects: the demo data, so validation and state checks are reached ----

TABLE_FOR = {"record_id": "service_records", "request_id": "service_requests", "case_id": "return_cases",
             "contract_id": "sales_contracts", "advisory_id": "advisory_notices", "defect_id": "defective_returns",
             "plan_id": "maintenance_plans", "occurrence_id": "maintenance_occurrences", "count_id": "stock_counts",
             "task_id": "followup_tasks", "rejection_id": "sync_rejections", "terms_id": "warranty_terms",
             "claim_id": "carrier_claims", "location_id": "stock_locations", "calendar_id": "sla_calendars",
             "policy_id": "sla_policies", "link_id": "signing_links"}


def table_for(rule: Rule, name: str) -> str:
    if name == "line_id":
        return "product_lines" if "/product-lines/" in rule.rule else "sales_contract_lines"
    return TABLE_FOR.get(name, name.removesuffix("_id") + "s")


def real_values(app: Flask) -> Callable[[Rule], str]:
    """A path for the rule with the first demo row of each referenced table (the unknown-id path else)."""
    import sqlalchemy as sa

    from fieldservice.extensions import db

    with app.app_context():
        firsts = {name: db.session.execute(sa.select(table.c.id).order_by(table.c.id).limit(1)).scalar()
                  for name, table in db.metadata.tables.items() if "id" in table.c}
        serial = db.session.scalar(sa.text("SELECT serial_number FROM assets ORDER BY id LIMIT 1"))

    def build(rule: Rule) -> str:
        values: dict[str, Any] = {}
        for name in rule._converters:  # noqa: SLF001
            found = serial if name == "serial" else firsts.get(table_for(rule, name))
            values[name] = str(found) if found is not None else "nope"
        return rule.build(values, append_unknown=False)[1]

    return build


def demo_callers(app: Flask, make: Factory) -> Callable[[tuple[str, ...]], dict[str, str]]:
    """The demo's own people (the technician owns demo visits, the customer demo records)."""
    import sqlalchemy as sa

    from fieldservice.auth.models import User
    from fieldservice.extensions import db

    names = {"admin": "admin", "dispatcher": "dispatcher", "office": "office", "parts_keeper": "parts",
             "customer": "customer", "technician": "tech.wang"}
    with app.app_context():
        users = {u.username: u.id for u in db.session.scalars(sa.select(User))}
    tokens = {role: {"Authorization": f"Bearer {make.token(users[name])}"} for role, name in names.items()}
    return lambda roles: tokens["admin" if "admin" in roles or not roles else roles[0]]


def test_bad_bodies_on_real_objects_get_problems_not_5xx(app: Flask, client: FlaskClient,
                                                          make: Factory) -> None:
    from fieldservice.db import unit_of_work
    from fieldservice.demo import seed_demo

    with app.app_context(), unit_of_work():
        seed_demo()
    path_of, headers = real_values(app), demo_callers(app, make)
    failures: list[str] = []
    reached = 0
    for rule, method, roles in api_routes(app):
        if (method, rule.rule) == LOGOUT:
            continue
        path, auth = path_of(rule), headers(roles or ())
        if method not in WRITE:
            response = client.open(path, method=method, query_string=QUERY, headers=auth)
            check(response, f"{method} {rule.rule}?…", failures)
            continue
        for label, body in BODIES:
            response = send(client, method, path, body, auth)
            if response.status_code not in (404, 401, 403):
                reached += 1
            check(response, f"{method} {path} [{label}]", failures)
    assert failures == []
    # most write routes found their object and parsed the body (the rest: objects the demo does not hold)
    assert reached > 300, reached


def test_office_and_signing_pages_never_answer_a_5xx(app: Flask, client: FlaskClient, make: Factory) -> None:
    """The server-rendered pages: nonsense query strings and form posts, real and unknown ids, as the demo admin
    (a bearer token, so the CSRF check of cookie sessions does not stop the post first) and anonymously."""
    from fieldservice.db import unit_of_work
    from fieldservice.demo import seed_demo

    with app.app_context(), unit_of_work():
        seed_demo()
    path_of, admin = real_values(app), demo_callers(app, make)(("admin",))
    form = {"name": "\x00" * 3, "interval": "-5", "interval_unit": "fortnights", "start_on": "2026-02-30",
            "reached": "maybe", "satisfaction": "11", "items": "{not json", "technician_id": "nope",
            "strokes": "[[", "png": "data:image/png;base64,!!", "signer_name": "", "username": "x" * 5000}
    failures: list[str] = []
    pages = 0
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/api/", "/static", "/sign/static", "/readyz")) or "filename" in rule.rule:  # probes: 503 by design
            continue
        for path in (path_of(rule), path_for(rule)):
            for auth in (admin, {}):
                for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                    if method == "GET":
                        response = client.get(path, query_string=QUERY, headers=auth)
                    else:
                        response = client.post(path, data=form, headers=auth)
                    pages += 1
                    if response.status_code >= 500:
                        failures.append(f"{method} {path} {'admin' if auth else 'anonymous'}: "
                                        f"{response.status_code}")
    assert failures == []
    assert pages > 80
