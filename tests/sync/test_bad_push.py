"""Malformed pushes are refused whole with a clear 4xx problem response, and write nothing."""
from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import Factory


@pytest.fixture
def tech(make: Factory):  # type: ignore[no-untyped-def]
    job = make.dispatched_job()
    return job, {"Authorization": f"Bearer {make.token(job.technician.user_id)}"}


def push(client: FlaskClient, auth: dict[str, str], body: Any, *, key: str | None = None, raw: bytes | None = None,
         query: str = ""):  # type: ignore[no-untyped-def]
    headers = {**auth, "Idempotency-Key": key or str(uuid.uuid4())}
    data = raw if raw is not None else json.dumps(body)
    return client.post(f"/api/v1/sync/push{query}", data=data, headers=headers)


def log_record(visit_id: Any, **overrides: Any) -> dict[str, Any]:
    record = {"id": str(uuid.uuid4()), "visit_id": str(visit_id), "technician_id": "", "started_at": 1_790_000_000_000,
              "ended_at": None, "description": "x", "sync_status": "", "rejection_reason": "",
              "created_at": 1_790_000_000_000, "updated_at": 1_790_000_000_000, "_status": "created", "_changed": ""}
    record.update(overrides)
    return record


TOO_DEEP = b"[" * 100_000 + b"]" * 100_000
CASES = {
    "not json": (None, b"{oops", 422),
    "not an object": ([1, 2], None, 422),
    # issue 13 point 5: an unknown table with empty lists, an unknown column, a non-UUID id are not malformed
    # (tests/sync/test_push_watermelon_shapes.py); an unknown table that is not an object of lists still is
    "unknown table not an object": ({"changes": {"upload_queue": []}}, None, 422),
    "unknown table list not a list": ({"changes": {"upload_queue": {"created": {}}}}, None, 422),
    "unknown table record not an object": ({"changes": {"upload_queue": {"created": ["x"]}}}, None, 422),
    "unknown table id not a string": ({"changes": {"upload_queue": {"created": [{"id": 7}]}}}, None, 422),
    "table not an object": ({"changes": {"work_logs": []}}, None, 422),
    "unknown list": ({"changes": {"work_logs": {"created": [], "upserted": []}}}, None, 422),
    "list not a list": ({"changes": {"work_logs": {"created": {}}}}, None, 422),
    "record not an object": ({"changes": {"work_logs": {"created": ["x"]}}}, None, 422),
    "id not a string": ("number_id", None, 422),
    "id missing": ("no_id", None, 422),
    "id with a control character": ("control_id", None, 422),
    "wrong type string": ("number_as_string", None, 422),
    "wrong type number": ("string_as_number", None, 422),
    "nan": (None, b'{"changes": {"work_logs": {"created": [{"id": "6f1c2d1e-4a59-4a0e-9a53-2f3c5d6e7f80", '
                  b'"started_at": NaN}]}}}', 422),
    "reference not a uuid": ("bad_reference", None, 422),
    "_changed not a string": ("bad_changed", None, 422),
    "duplicate record": ("duplicate", None, 422),
    "duplicate non-UUID record": ("duplicate_not_uuid", None, 422),
    "deleted not ids": ({"changes": {"work_logs": {"deleted": [42]}}}, None, 422),
    "control character": ("control", None, 422),
    # nested deeper than the parsers' recursion limit, where the common way decodes a part on its own
    "too deep in a table": (None, b'{"changes": {"work_logs": ' + TOO_DEEP + b"}}", 422),
    "too deep in a local column": (None, b'{"changes": {"work_logs": {"created": [{"id": '
                                   b'"6f1c2d1e-4a59-4a0e-9a53-2f3c5d6e7f80", "local_column": ' + TOO_DEEP + b"}]}}}", 422),
}


def build(case: Any, visit_id: Any) -> Any:
    if not isinstance(case, str):
        return case
    record = log_record(visit_id)
    if case == "number_id":
        record["id"] = 42
    elif case == "no_id":
        del record["id"]
    elif case == "control_id":
        record["id"] = "a1b2c3d4\x00e5f6g7h8"
    elif case == "number_as_string":
        record["started_at"] = "1790000000000"
    elif case == "string_as_number":
        record["description"] = 42
    elif case == "bad_reference":
        record["visit_id"] = "visit-1"
    elif case == "bad_changed":
        record["_status"], record["_changed"] = "updated", ["description"]
    elif case == "control":
        record["description"] = "a\x00b"
    if case == "duplicate_not_uuid":
        record["id"] = "a1b2c3d4e5f6g7h8"
    records = [record, dict(record)] if case.startswith("duplicate") else [record]
    return {"changes": {"work_logs": {"created": records, "updated": [], "deleted": []}}}


@pytest.mark.parametrize("name", list(CASES))
def test_malformed_push_refused_whole(client: FlaskClient, tech, count_rows, name: str) -> None:  # type: ignore[no-untyped-def]
    job, auth = tech
    body, raw, status = CASES[name]
    good = log_record(job.visit.id)
    before = count_rows()
    payload = build(body, job.visit.id)
    created = payload.get("changes", {}).get("work_logs", {}) if isinstance(payload, dict) else {}
    if isinstance(created, dict) and isinstance(created.get("created"), list):
        created["created"].append(good)  # a valid record alongside: it must not be applied either
    response = push(client, auth, payload, raw=raw)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"]
    assert count_rows() == before


def test_missing_idempotency_key(client: FlaskClient, tech, count_rows) -> None:  # type: ignore[no-untyped-def]
    _, auth = tech
    before = count_rows()
    for key in (None, "", "not-a-uuid"):
        headers = dict(auth) if key is None else {**auth, "Idempotency-Key": key}
        response = client.post("/api/v1/sync/push", data=json.dumps({"changes": {}}), headers=headers)
        assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert count_rows() == before


def test_push_with_a_cursor_from_the_future(client: FlaskClient, tech, count_rows) -> None:  # type: ignore[no-untyped-def]
    job, auth = tech
    before = count_rows()
    body = {"changes": {"work_logs": {"created": [log_record(job.visit.id)], "updated": [], "deleted": []}}}
    response = push(client, auth, body, query="?last_pulled_at=99999999")
    assert response.status_code == 422 and response.get_json()["type"] == "/problems/cursor_from_the_future"
    assert count_rows() == before


def test_too_many_records_is_413(app: Flask, client: FlaskClient, tech, count_rows) -> None:  # type: ignore[no-untyped-def]
    job, auth = tech
    limit = app.config["SYNC_MAX_PUSH_RECORDS"]
    before = count_rows()
    body = {"changes": {"work_logs": {"created": [], "updated": [],
                                      "deleted": [str(uuid.uuid4()) for _ in range(limit + 1)]}}}
    response = push(client, auth, body)
    assert response.status_code == 413 and response.get_json()["type"] == "/problems/push_too_large"
    assert count_rows() == before


def test_too_many_bytes_is_413(app: Flask, client: FlaskClient, tech, count_rows) -> None:  # type: ignore[no-untyped-def]
    job, auth = tech
    before = count_rows()
    huge = b'{"changes": {"work_logs": {"created": [], "updated": [], "deleted": []}}, "pad": "' + \
        b"x" * (app.config["SYNC_MAX_PUSH_BYTES"] + 1) + b'"}'
    response = push(client, auth, None, raw=huge)
    assert response.status_code == 413 and response.mimetype == "application/problem+json"
    assert count_rows() == before


def test_bare_changes_and_any_content_type_accepted(client: FlaskClient, tech) -> None:  # type: ignore[no-untyped-def]
    """WatermelonDB's documented fetch sends the bare changes object as text/plain."""
    job, auth = tech
    body = {"work_logs": {"created": [], "updated": [], "deleted": []}}
    response = client.post("/api/v1/sync/push", data=json.dumps(body),
                           headers={**auth, "Idempotency-Key": str(uuid.uuid4()), "Content-Type": "text/plain"})
    assert response.status_code == 200 and response.get_json()["accepted"] == 0
