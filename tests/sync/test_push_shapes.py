"""WatermelonDB's pushes as apps really send them (issue 13 point 5), at HTTP level: every local table (local-only
ones with empty lists), whole raw records with columns the server does not know, and ids that are not UUIDs
(WatermelonDB's default generator). None of that refuses the push whole: unknown columns are ignored and never
stored, records of unknown tables and records without a UUID are quarantined, and the rest of the push applies.
tests/sync/test_watermelondb.py shows the same with the real WatermelonDB; tests/sync/test_bad_push.py that
malformed structure is still a 422 that writes nothing."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.extensions import db
from fieldservice.visits.models import WorkLog
from sync.models import PushLog, RejectionStatus, SyncRejection

NOW = datetime.now(UTC).replace(microsecond=0)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)



def log(visit_id: Any, **extra: Any) -> dict[str, Any]:
    """A work log as WatermelonDB pushes it: the whole raw record, `_status` and `_changed`."""
    record = {"id": str(uuid.uuid4()), "visit_id": str(visit_id), "technician_id": "",
              "started_at": ms(NOW - timedelta(minutes=50)), "ended_at": None, "description": "检查 inspected",
              "sync_status": "", "rejection_reason": "", "created_at": ms(NOW), "updated_at": ms(NOW),
              "_status": "created", "_changed": ""}
    record.update(extra)
    return record


def push(client: FlaskClient, phone, changes: dict[str, Any], *, key: str | None = None,  # type: ignore[no-untyped-def]
         data: bytes | None = None):
    return client.post("/api/v1/sync/push?last_pulled_at=null", data=data or json.dumps({"changes": changes}),
                       headers={**phone.auth, "Idempotency-Key": key or str(uuid.uuid4())})


def open_rejections(app: Flask) -> list[SyncRejection]:
    with app.app_context():
        return list(db.session.scalars(sa.select(SyncRejection).where(
            SyncRejection.status == RejectionStatus.OPEN).order_by(SyncRejection.record_id)))


def test_local_only_table_and_unknown_columns_do_not_refuse_the_push(app: Flask, client: FlaskClient,
                                                                     on_site, count_rows) -> None:  # type: ignore[no-untyped-def]
    """Issue 13 point 5: a local-only table with empty lists is ignored; columns the server does not know (a
    local `is_uploaded`, a newer app's `mood`) are ignored, also when `_changed` names them, and never stored."""
    job, phone = on_site
    created = log(job.visit.id, is_uploaded=False, mood={"nested": [1, 2]})
    changes = {"work_logs": {"created": [created], "updated": [], "deleted": []},
               "upload_queue": {"created": [], "updated": [], "deleted": []},
               "local_drafts": {}}
    response = push(client, phone, changes)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["accepted"] == 1 and response.get_json()["rejected"] == 0
    # an edit naming an unknown column in _changed applies the known ones
    edited = dict(created, description="更换轴承 replaced bearing", is_uploaded=True, _status="updated",
                  _changed="description,is_uploaded,updated_at")
    before = count_rows()
    response = push(client, phone, {"work_logs": {"created": [], "updated": [edited], "deleted": []},
                                    "upload_queue": {"created": [], "updated": [], "deleted": []}})
    assert response.status_code == 200 and response.get_json()["accepted"] == 1, response.get_data(as_text=True)
    with app.app_context():
        entry = db.session.get(WorkLog, uuid.UUID(created["id"]))
        assert entry is not None and entry.description == "更换轴承 replaced bearing"
        assert not hasattr(entry, "is_uploaded") and not hasattr(entry, "mood")
        stored = db.session.get(PushLog, uuid.UUID(response.request.headers["Idempotency-Key"]))
        assert "is_uploaded" not in json.dumps(stored.response)
    assert open_rejections(app) == []  # nothing of it kept anywhere: ignored, not quarantined
    after = count_rows()
    # the edit: its push, its audit event and its device facts, nothing else
    assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {
        "sync_pushes": 1, "audit_events": 1, "sync_receipts": 1}


def test_records_of_an_unknown_table_are_quarantined_and_the_rest_applies(
        app: Flask, client: FlaskClient, on_site, headers) -> None:  # type: ignore[no-untyped-def]
    """Issue 13 point 5: an upload queue the app forgot to keep out of the push is quarantined (`unknown_table`,
    table name and id cut to the columns' 60 and 64 characters), not a 422 of the whole push."""
    job, phone = on_site
    good = log(job.visit.id)
    long_table = "t" * 100
    long_id = "q" * 100
    queue = [{"id": str(uuid.uuid4()), "file": "photo-1.jpg", "attempts": float("nan"), "note": "a\x00b\ud800",
              "_status": "created", "_changed": ""},
             {"id": "local-2", "file": "photo-2.jpg", "_status": "updated", "_changed": "file"}]
    changes = {"work_logs": {"created": [good], "updated": [], "deleted": []},
               "upload_queue": {"created": [queue[0]], "updated": [queue[1]], "deleted": ["local-3"]},
               long_table: {"created": [{"id": long_id}]}}
    body = json.dumps({"changes": changes}).encode()  # NaN as the bare literal a JS client never sends, a lying one may
    key = str(uuid.uuid4())
    response = push(client, phone, {}, key=key, data=body)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["accepted"] == 1 and answer["rejected"] == 4
    assert answer["rejected_ids"] == {"upload_queue": [queue[0]["id"], "local-2", "local-3"],
                                      "t" * 60: ["q" * 64]}
    rows = open_rejections(app)
    assert sorted((r.table_name, r.record_id, r.operation, r.reason_code) for r in rows) == sorted([
        ("upload_queue", queue[0]["id"], "created", "unknown_table"),
        ("upload_queue", "local-2", "updated", "unknown_table"),
        ("upload_queue", "local-3", "deleted", "unknown_table"),
        ("t" * 60, "q" * 64, "created", "unknown_table")])
    by_id = {r.record_id: r for r in rows}
    assert by_id["local-2"].payload == {"id": "local-2", "file": "photo-2.jpg"}  # kept as pushed
    assert by_id[queue[0]["id"]].payload["attempts"] == "nan"  # what a JSON column can hold
    assert by_id[queue[0]["id"]].payload["note"] == "a\x00b\ufffd"
    assert "upload_queue" in by_id["local-2"].reason and "docs/sync.md" in by_id["local-2"].reason
    with app.app_context():
        assert db.session.get(WorkLog, uuid.UUID(good["id"])) is not None  # the rest applied
    # the same key and bytes: the stored answer; a re-push under a new key adds no second quarantine entry
    assert push(client, phone, {}, key=key, data=body).get_json() == answer
    again = push(client, phone, {}, data=body)
    assert again.status_code == 200 and again.get_json()["rejected"] == 4
    assert len(open_rejections(app)) == 4
    # the phone's next pull is not disturbed (these records are never sent back), the dispatcher sees them
    phone.holds("work_logs", good)
    merged, _ = phone.pull_all()
    assert "upload_queue" not in merged and all(queue[0]["id"] not in t["updated"] for t in merged.values())
    listed = client.get("/api/v1/sync/rejections?table_name=upload_queue",
                        headers=headers(role="dispatcher")).get_json()
    assert {r["record_id"] for r in listed["items"]} == {queue[0]["id"], "local-2", "local-3"}
    resolved = client.post(f"/api/v1/sync/rejections/{listed['items'][0]['id']}/resolve",
                           json={"note": "told the app team"}, headers=headers(role="dispatcher"))
    assert resolved.status_code == 200 and resolved.get_json()["status"] == "resolved"
    phone.pull_all()  # still fine after a dispatcher dealt with one


def test_records_whose_id_is_not_a_uuid_are_quarantined(app: Flask, client: FlaskClient, on_site) -> None:  # type: ignore[no-untyped-def]
    """Issue 13 point 5: WatermelonDB's default 16-character ids are quarantined (`id_not_uuid`, the reason
    names the id generator setting), in created, updated and deleted; the rest of the push applies."""
    job, phone = on_site
    good = log(job.visit.id)
    default_id = log(job.visit.id, id="a1B2c3D4e5F6g7H8")
    long_id = log(job.visit.id, id="x" * 80, _status="updated", _changed="description")
    changes = {"work_logs": {"created": [good, default_id], "updated": [long_id], "deleted": ["k9J8h7G6f5D4s3A2"]},
               "visits": {"created": [], "updated": [], "deleted": []}}
    response = push(client, phone, changes)
    assert response.status_code == 200, response.get_data(as_text=True)
    answer = response.get_json()
    assert answer["accepted"] == 1 and answer["rejected"] == 3
    assert answer["rejected_ids"] == {"work_logs": ["a1B2c3D4e5F6g7H8", "x" * 64, "k9J8h7G6f5D4s3A2"]}
    rows = open_rejections(app)
    assert sorted((r.record_id, r.operation, r.reason_code) for r in rows) == [
        ("a1B2c3D4e5F6g7H8", "created", "id_not_uuid"), ("k9J8h7G6f5D4s3A2", "deleted", "id_not_uuid"),
        ("x" * 64, "updated", "id_not_uuid")]
    assert all("setGenerator" in r.reason and "randomId" in r.reason for r in rows)
    assert next(r for r in rows if r.record_id == "a1B2c3D4e5F6g7H8").payload["description"] == "检查 inspected"
    with app.app_context():
        assert [str(e.id) for e in db.session.scalars(sa.select(WorkLog))] == [good["id"]]
    phone.holds("work_logs", good)
    merged, _ = phone.pull_all()  # the next pull is not disturbed
    assert good["id"] in merged["work_logs"]["updated"]


def test_a_wrong_type_in_a_known_column_of_a_non_uuid_record_is_still_a_422(client: FlaskClient, on_site,
                                                                            count_rows) -> None:  # type: ignore[no-untyped-def]
    """Structure first: known columns are type-checked whatever the id, and nothing applies."""
    job, phone = on_site
    before = count_rows()
    response = push(client, phone, {"work_logs": {"created": [log(job.visit.id),
                                                              log(job.visit.id, id="a1b2c3d4e5f6g7h8",
                                                                  started_at="yesterday")]}})
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert "started_at" in response.get_json()["detail"]
    assert count_rows() == before
