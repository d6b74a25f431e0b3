"""HTTP semantics shared by every endpoint (issue 16): ETag and If-Match (412, nothing written), retry-safe
creates with a client id (the stored answer; 409 `id_conflict` for another body), `sort` on lists, `from`/`to`
date ranges, paginated /records, CORS with an allow-list."""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import Factory
from tests.problems import problem

Headers = Callable[..., dict[str, str]]


def test_stale_if_match_on_a_work_order_patch_is_412_and_writes_nothing(client: FlaskClient, make: Factory,
                                                                         headers: Headers, count_rows) -> None:  # type: ignore[no-untyped-def]
    """The issue's case: `If-Match: "999"` on a work-order PATCH used to be ignored and the write went through."""
    auth = headers(role="dispatcher")
    order = make.work_order()
    url = f"/api/v1/work-orders/{order.id}"
    read = client.get(url, headers=auth)
    etag = read.headers["ETag"]
    before = count_rows()
    body = problem(client.patch(url, json={"summary": "改了"}, headers={**auth, "If-Match": '"999"'}),
                   412, "precondition_failed")
    assert body["current_etag"] == etag
    assert count_rows() == before and client.get(url, headers=auth).get_json()["summary"] == read.get_json()["summary"]
    changed = client.patch(url, json={"summary": "改了"}, headers={**auth, "If-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.headers["ETag"] == client.get(url, headers=auth).headers["ETag"]
    problem(client.patch(url, json={"summary": "再改"}, headers={**auth, "If-Match": etag}), 412, "precondition_failed")
    assert client.patch(url, json={"summary": "再改"}, headers={**auth, "If-Match": "*"}).status_code == 200


def test_if_match_on_an_action_guards_the_resource_it_names(client: FlaskClient, make: Factory,
                                                            headers: Headers) -> None:
    """POST /work-orders/{id}/cancel with If-Match compares with the ETag of GET /work-orders/{id}."""
    auth = headers(role="dispatcher")
    order = make.work_order()
    url = f"/api/v1/work-orders/{order.id}"
    etag = client.get(url, headers=auth).headers["ETag"]
    client.patch(url, json={"summary": "someone else"}, headers=auth)
    problem(client.post(f"{url}/cancel", json={"reason": "客户取消"}, headers={**auth, "If-Match": etag}),
            412, "precondition_failed")
    assert client.get(url, headers=auth).get_json()["status"] != "cancelled"
    fresh = client.get(url, headers=auth).headers["ETag"]
    assert client.post(f"{url}/cancel", json={"reason": "客户取消"}, headers={**auth, "If-Match": fresh}).status_code == 200


def test_resources_without_a_version_column_get_etags_too(client: FlaskClient, make: Factory, headers: Headers) -> None:
    auth = headers(role="office")
    customer = make.customer()
    url = f"/api/v1/customers/{customer.id}"
    etag = client.get(url, headers=auth).headers["ETag"]
    assert client.patch(url, json={"notes": "新备注"}, headers={**auth, "If-Match": etag}).status_code == 200
    problem(client.patch(url, json={"notes": "旧"}, headers={**auth, "If-Match": etag}), 412, "precondition_failed")


def test_retried_create_with_the_same_client_id_gets_the_stored_answer(client: FlaskClient, headers: Headers,
                                                                        count_rows) -> None:  # type: ignore[no-untyped-def]
    auth = headers(role="office")
    body = {"id": str(uuid.uuid4()), "name": "华东精密制造有限公司", "phone": "021-5555"}
    first = client.post("/api/v1/customers", json=body, headers=auth)
    assert first.status_code == 201
    rows = count_rows()
    again = client.post("/api/v1/customers", json=body, headers=auth)
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_rows() == rows


def test_same_client_id_with_another_body_is_409_naming_the_id(client: FlaskClient, headers: Headers,
                                                               count_rows) -> None:  # type: ignore[no-untyped-def]
    auth, other = headers(role="office"), headers(role="office")
    body = {"id": str(uuid.uuid4()), "name": "甲公司"}
    assert client.post("/api/v1/customers", json=body, headers=auth).status_code == 201
    rows = count_rows()
    conflict = problem(client.post("/api/v1/customers", json={**body, "name": "乙公司"}, headers=auth),
                       409, "id_conflict")
    assert conflict["id"] == body["id"]
    problem(client.post("/api/v1/customers", json=body, headers=other), 409, "id_conflict")  # another login
    assert count_rows() == rows


@pytest.mark.parametrize("sort,key,reverse", [("name", "name", False), ("-name", "name", True)])
def test_lists_sort_by_a_field(client: FlaskClient, make: Factory, headers: Headers, sort: str, key: str,
                               reverse: bool) -> None:
    auth = headers(role="office")
    for name in ("乙", "甲", "丙"):
        make.customer(name)
    items = client.get("/api/v1/customers", query_string={"sort": sort}, headers=auth).get_json()["items"]
    names = [i[key] for i in items]
    assert names == sorted(names, reverse=reverse)


def test_unknown_sort_field_is_422(client: FlaskClient, headers: Headers) -> None:
    body = problem(client.get("/api/v1/users", query_string={"sort": "password_hash"}, headers=headers(role="admin")),
                   422, "validation_failed")
    assert "sort" in body["errors"]["query"]


def test_records_list_is_paginated(app: Flask, client: FlaskClient, make: Factory, headers: Headers) -> None:
    job = make.dispatched_job()
    page = client.get("/api/v1/records", query_string={"work_order_id": str(job.order.id), "page_size": 5},
                      headers=headers(role="office")).get_json()
    assert page["items"] == [] and page["meta"]["page_size"] == 5 and page["meta"]["total"] == 0


def test_cors_answers_only_allowed_origins(app: Flask, client: FlaskClient, headers: Headers) -> None:
    app.config["CORS_ALLOWED_ORIGINS"] = ("https://app.example.com",)
    preflight = client.options("/api/v1/work-orders", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "Authorization, If-Match"})
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "If-Match" in preflight.headers["Access-Control-Allow-Headers"]
    read = client.get("/api/v1/work-orders", headers={**headers(), "Origin": "https://app.example.com"})
    assert read.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "ETag" in read.headers["Access-Control-Expose-Headers"]
    other = client.get("/api/v1/work-orders", headers={**headers(), "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    refused = client.options("/api/v1/work-orders", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "PATCH"})
    assert "Access-Control-Allow-Origin" not in refused.headers


GOOD_SORT = {"/api/v1/archive/search": "-customer_name"}  # search rows are not one table's
NEEDS = {"/api/v1/archive/search": {"q": "华东"}, "/api/v1/visit-charges": {"work_order_id": str(uuid.uuid4())}}


def test_every_paginated_list_takes_sort(app: Flask, client: FlaskClient, make: Factory) -> None:
    """Each list (a `...Page` answer) checks its sort fields: an unknown one is a 422 on `sort`, `-id` works."""
    from tests.api.test_every_endpoint import caller, path_for
    from tests.fuzzing import api_routes

    spec = client.get("/api/openapi.json").get_json()
    who = caller(make)
    lists, failures = 0, []
    for rule, method, roles in api_routes(app):
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        ok = spec["paths"].get(path, {}).get(method.lower(), {}).get("responses", {}).get("200", {})
        ref = ok.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref", "")
        if method != "GET" or not ref.endswith("Page") or rule.arguments:
            continue
        lists += 1
        auth, needs = who(roles or ()), NEEDS.get(rule.rule, {})
        bad = client.get(path_for(rule), query_string={**needs, "sort": "no_such_field"}, headers=auth)
        good = client.get(path_for(rule), query_string={**needs, "sort": GOOD_SORT.get(rule.rule, "-id")}, headers=auth)
        if bad.status_code != 422 or "sort" not in bad.get_json()["errors"]["query"] or good.status_code != 200:
            failures.append(f"{rule.rule}: {bad.status_code} {good.status_code} {good.get_data(as_text=True)[:200]}")
    assert lists > 30, lists
    assert failures == [], "\n".join(failures)


def test_the_answer_is_stored_with_the_create_itself(client: FlaskClient, headers: Headers,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The database (or the process) died right after the create committed, before the answer was sent or
    stored apart: the retry still gets the answer, not a duplicate-key 409 (found by the database-restart
    fault test)."""
    from fieldservice.common import replays

    monkeypatch.setattr(replays, "remember", lambda *args, **kwargs: None)
    auth = headers(role="dispatcher")
    order_body = {"id": str(uuid.uuid4()), "name": "华东精密", "phone": "021-1"}
    first = client.post("/api/v1/customers", json=order_body, headers=auth)
    assert first.status_code == 201
    again = client.post("/api/v1/customers", json=order_body, headers=auth)
    assert again.status_code == 201 and again.get_json() == first.get_json(), again.get_data(as_text=True)


def test_actions_are_named_with_nouns_and_verbs_remain_deprecated(client: FlaskClient, make: Factory,
                                                                   headers: Headers) -> None:
    spec = client.get("/api/openapi.json").get_json()
    verbs = [p for p in spec["paths"] if p.rsplit("/", 1)[-1] in ("cancel", "close", "reopen", "publish", "submit",
                                                                   "present", "send", "post", "resolve")]
    assert len(verbs) == 11 and all(spec["paths"][p]["post"]["deprecated"] for p in verbs)
    assert all(p.rsplit("/", 1)[0] + "/" in "\n".join(spec["paths"]) for p in verbs)
    order = make.work_order()
    done = client.post(f"/api/v1/work-orders/{order.id}/cancellation", json={"reason": "客户取消"},
                       headers=headers(role="dispatcher"))
    assert done.status_code == 200 and done.get_json()["status"] == "cancelled"
