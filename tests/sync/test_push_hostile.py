"""Issue 15: a push never fails whole (nor with a 500) for one record's content, and the quarantine is bounded.

- a lone UTF-16 surrogate in a record, content_json nested deeper than anything may be, or so deep that
  Python's parser gives up: that record is quarantined (its payload scrubbed), the rest of the push applies;
- one technician's open quarantine is bounded (SYNC_QUARANTINE_MAX_OPEN): past it the push is a 429
  `quarantine_full` problem and nothing of it is written; a huge payload is kept as lengths and hashes."""
from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.extensions import db
from sync.models import SyncRejection
from tests.factories import Factory
from tests.sync.test_bad_push import log_record, push, tech  # noqa: F401, F811

DEEP = "{\"a\":" * 200 + "1" + "}" * 200
TOO_DEEP = "[" * 100_000 + "]" * 100_000


def record_draft(visit_id: Any, content_json: str) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "kind": "repair_record", "visit_id": str(visit_id), "content_json": content_json,
            "_status": "created", "_changed": ""}


def test_unusable_content_quarantines_only_its_record(app: Flask, client: FlaskClient, make: Factory) -> None:
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    job = make.dispatched_job(start=now - timedelta(hours=1))
    auth = {"Authorization": f"Bearer {make.token(job.technician.user_id)}"}
    arrival = {"id": str(job.visit.id), "status": "in_progress", "arrived_at": int(now.timestamp() * 1000) - 60_000,
               "_status": "updated", "_changed": "status,arrived_at"}
    good = log_record(job.visit.id, description="正常 fine")
    surrogate = log_record(job.visit.id, description="坏 \ud800 text")
    crlf = log_record(job.visit.id, description="第一行\r\n第二行")
    deep, too_deep = record_draft(job.visit.id, DEEP), record_draft(job.visit.id, TOO_DEEP)
    body = {"changes": {"visits": {"created": [], "updated": [arrival], "deleted": []},
                        "work_logs": {"created": [good, surrogate, crlf], "updated": [], "deleted": []},
                        "service_records": {"created": [deep, too_deep], "updated": [], "deleted": []}}}
    response = push(client, auth, body)  # json.dumps writes the surrogate as the escape "\ud800"
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["accepted"] == 3 and answer["rejected"] == 3, "\n".join(_reasons(app))
    assert set(answer["rejected_ids"]["work_logs"]) == {surrogate["id"]}
    assert set(answer["rejected_ids"]["service_records"]) == {deep["id"], too_deep["id"]}
    with app.app_context():
        rows = {r.record_id: r for r in db.session.scalars(sa.select(SyncRejection))}
        assert "lone UTF-16 surrogate" in rows[surrogate["id"]].reason
        assert rows[surrogate["id"]].payload["description"] == "坏 \ufffd text"
        assert "nested deeper than 64 levels" in rows[deep["id"]].reason
        assert "nested too deep" in rows[too_deep["id"]].reason


def test_the_quarantine_of_a_technician_is_bounded(app: Flask, client: FlaskClient, tech,  # noqa: F811
                                                   count_rows) -> None:  # type: ignore[no-untyped-def]
    job, auth = tech
    app.config.update(SYNC_QUARANTINE_MAX_OPEN=3, SYNC_QUARANTINE_MAX_PAYLOAD_BYTES=2000)
    foreign = [log_record(uuid.uuid4(), description="x" * 5000) for _ in range(3)]  # visits that are not theirs
    response = push(client, auth, {"changes": {"work_logs": {"created": foreign, "updated": [], "deleted": []}}})
    assert response.status_code == 200 and response.get_json()["rejected"] == 3, response.get_data(as_text=True)
    with app.app_context():
        payloads = [r.payload for r in db.session.scalars(sa.select(SyncRejection))]
        assert all(len(json.dumps(p)) <= 2000 and "5000 characters, sha256" in p["description"] for p in payloads)
    before = count_rows()
    more = [log_record(uuid.uuid4(), description="one more")]
    response = push(client, auth, {"changes": {"work_logs": {"created": more, "updated": [], "deleted": []}}})
    assert response.status_code == 429 and response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["type"] == "/problems/quarantine_full" and problem["limit"] == 3
    assert "GET /api/v1/sync/rejections" in problem["detail"] and response.headers["Retry-After"]
    assert count_rows() == before
    # a dispatcher reviews one: the next push is kept again
    make = Factory(app)
    headers = {"Authorization": f"Bearer {make.token(make.user('dispatcher').id)}"}
    rejection = client.get("/api/v1/sync/rejections", headers=headers).get_json()["items"][0]
    assert client.post(f"/api/v1/sync/rejections/{rejection['id']}/resolve", json={"note": "checked"},
                       headers=headers).status_code == 200
    response = push(client, auth, {"changes": {"work_logs": {"created": more, "updated": [], "deleted": []}}})
    assert response.status_code == 200 and response.get_json()["rejected"] == 1


def _reasons(app: Flask) -> list[str]:
    with app.app_context():
        return [f"{r.table_name} {r.reason}" for r in db.session.scalars(sa.select(SyncRejection))]
