"""Push (issue 13 point 4): the Idempotency-Key's digest is over the body's bytes as received, and a re-push of
records the server already has under a NEW key (WatermelonDB after a lost answer) is compared in bulk: unchanged
work logs cost no write and no savepoint, only changed ones take the per-record path."""
from __future__ import annotations

import hashlib
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.audit.models import AuditEvent
from fieldservice.changes import NEW_ROWS_SAVEPOINT
from fieldservice.extensions import db
from fieldservice.visits.models import WorkLog
from sync.models import PushLog, SyncRejection
from tests.factories import Factory
from tests.statements import record_savepoints, statements

NOW = datetime.now(UTC).replace(microsecond=0)


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)



def logs(visit_id: Any, count: int) -> list[dict[str, Any]]:
    return [{"id": str(uuid.uuid4()), "visit_id": str(visit_id), "technician_id": "",
             "started_at": ms(NOW - timedelta(minutes=50)), "ended_at": None, "description": f"工作 {i}",
             "sync_status": "", "rejection_reason": "", "created_at": ms(NOW), "updated_at": ms(NOW),
             "_status": "created", "_changed": ""} for i in range(count)]


def body_of(records: list[dict[str, Any]]) -> bytes:
    return json.dumps({"changes": {"work_logs": {"created": records, "updated": [], "deleted": []}}}).encode()


def push(client: FlaskClient, phone, data: bytes, key: str | None = None):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/sync/push", data=data,
                       headers={**phone.auth, "Idempotency-Key": key or str(uuid.uuid4())})


def test_the_digest_is_over_the_bytes_as_received(app: Flask, client: FlaskClient, on_site) -> None:  # type: ignore[no-untyped-def]
    """Same key and bytes: the stored answer. Same key, the same JSON sent as other bytes: 409, as for any
    other body (a client retrying sends the very bytes it sent)."""
    job, phone = on_site
    records = logs(job.visit.id, 2)
    data, key = body_of(records), str(uuid.uuid4())
    first = push(client, phone, data, key)
    assert first.status_code == 200 and first.get_json()["accepted"] == 2
    assert push(client, phone, data, key).get_json() == first.get_json()
    with app.app_context():
        assert db.session.get(PushLog, uuid.UUID(key)).request_sha256 == hashlib.sha256(data).hexdigest()
    spaced = json.dumps(json.loads(data), indent=1).encode()
    again = push(client, phone, spaced, key)
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    assert again.get_json()["type"] == "/problems/idempotency_key_reused"


def test_a_key_stored_before_the_raw_digest_still_replays(app: Flask, client: FlaskClient, on_site,
                                                          count_rows) -> None:  # type: ignore[no-untyped-def]
    """Pushes stored before issue 13 kept the digest of the re-serialised body: their retries still get the
    stored answer; another body under such a key is still a 409."""
    job, phone = on_site
    data = body_of(logs(job.visit.id, 1))
    legacy = hashlib.sha256(json.dumps(json.loads(data), sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    key = uuid.uuid4()
    stored = {"ok": True, "received_at": NOW.isoformat(), "accepted": 1, "merged": 0, "rejected": 0,
              "rejected_ids": {}}
    with app.app_context():
        db.session.add(PushLog(idempotency_key=key, technician_id=job.technician.id, request_sha256=legacy,
                               last_pulled_at=None, received_at=NOW, status_code=200, response=stored))
        db.session.commit()
    before = count_rows()
    replay = push(client, phone, data, str(key))
    assert replay.status_code == 200 and replay.get_json() == stored
    assert count_rows() == before  # the stored answer, nothing applied
    other = push(client, phone, body_of(logs(job.visit.id, 1)), str(key))
    assert other.status_code == 409 and other.mimetype == "application/problem+json"


def test_a_repush_of_unchanged_work_logs_is_compared_in_bulk(app: Flask, client: FlaskClient, make: Factory,
                                                             on_site, count_rows) -> None:  # type: ignore[no-untyped-def]
    job, phone = on_site
    records = logs(job.visit.id, 60)
    assert push(client, phone, body_of(records)).get_json()["accepted"] == 60
    with app.app_context():
        seqs = dict(db.session.execute(sa.select(WorkLog.id, WorkLog.change_seq)).all())
    before = count_rows()
    with statements(app) as sent:
        again = push(client, phone, body_of(records))  # the answer was lost: the same records, a new key
    assert again.status_code == 200, again.get_data(as_text=True)
    assert again.get_json()["accepted"] == 60 and again.get_json()["rejected"] == 0
    after = count_rows()
    assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == {"sync_pushes": 1}
    assert not record_savepoints(sent)  # no record went the per-record path
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            # the plain insert under its savepoint met the stored ids: rolled back, then ON CONFLICT named them
            assert f"ROLLBACK TO SAVEPOINT {NEW_ROWS_SAVEPOINT}" in sent
            assert len([s for s in sent if "ON CONFLICT (id) DO NOTHING" in s]) == 1
    assert len(sent) < 25, sent  # a few statements for the whole push, not a dozen per record
    # a re-push with two logs edited and someone else's log among them: only those take the per-record path
    other = make.others_work_log(start=NOW - timedelta(hours=2), at=NOW)
    other_id, other_seq = other.id, other.change_seq
    records[0]["description"] = "工作 0 (改)"
    records[1]["ended_at"] = ms(NOW - timedelta(minutes=5))
    foreign = dict(records[2], id=str(other_id), description="not mine")
    with statements(app) as sent:
        edited = push(client, phone, body_of([*records, foreign]))
    answer = edited.get_json()
    assert answer["accepted"] == 60 and answer["rejected"] == 1, answer
    assert answer["rejected_ids"] == {"work_logs": [str(other_id)]}
    assert len(record_savepoints(sent)) == 3  # the two edits and the foreign log
    with app.app_context():
        now_seqs = dict(db.session.execute(sa.select(WorkLog.id, WorkLog.change_seq)).all())
        changed = {k for k in seqs if now_seqs[k] != seqs[k]}
        assert changed == {uuid.UUID(records[0]["id"]), uuid.UUID(records[1]["id"])}
        assert db.session.get(WorkLog, uuid.UUID(records[0]["id"])).description == "工作 0 (改)"
        assert now_seqs[other_id] == other_seq and db.session.get(WorkLog, other_id).description == "their log"
        updates = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "work_log.update")).all()
        assert len(updates) == 2
        [rejection] = db.session.scalars(sa.select(SyncRejection)).all()
        assert rejection.record_id == str(other_id) and rejection.reason_code == "not_found"


def test_a_stored_push_replays_even_when_its_body_would_now_be_refused(app: Flask, client: FlaskClient,  # type: ignore[no-untyped-def]
                                                                       on_site) -> None:
    """The change set is parsed before the stored push is looked up (so that, on PostgreSQL, the look-up goes
    in one round trip with the counter lock); a body the server took then but refuses now (a lower
    SYNC_MAX_PUSH_RECORDS after an upgrade) still gets its stored answer under its key, and the 413 only under
    a new key."""
    job, phone = on_site
    data, key = body_of(logs(job.visit.id, 3)), str(uuid.uuid4())
    first = push(client, phone, data, key)
    assert first.status_code == 200 and first.get_json()["accepted"] == 3
    app.config["SYNC_MAX_PUSH_RECORDS"] = 2
    again = push(client, phone, data, key)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    refused = push(client, phone, data)
    assert refused.status_code == 413 and refused.mimetype == "application/problem+json"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(PushLog)) == 2  # the visit's, and this one
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WorkLog)) == 3


@pytest.mark.postgres
def test_a_push_finds_its_key_and_takes_the_counter_lock_in_one_round_trip(app: Flask, client: FlaskClient,  # type: ignore[no-untyped-def]
                                                                           on_site) -> None:
    """After the token: the cursor's watermark, the push's floor (the counter lock) and the stored push of its
    Idempotency-Key are one simple-protocol query; a replay stops there."""
    job, phone = on_site
    data, key = body_of(logs(job.visit.id, 2)), str(uuid.uuid4())
    for replay in (False, True):
        with statements(app) as seen:
            response = client.post("/api/v1/sync/push", query_string={"last_pulled_at": phone.last_pulled_at},
                                   data=data, headers={**phone.auth, "Idempotency-Key": key})
        assert response.status_code == 200 and response.get_json()["accepted"] == 2
        first = " ".join(seen[1].split())
        assert "sync_change_seq" in first and "pg_advisory_xact_lock_shared" in first and "sync_pushes" in first
        assert not [s for s in seen[2:] if "sync_pushes" in s and s.lstrip().upper().startswith("SELECT")]
        assert len(seen) == 2 if replay else len(seen) > 2, seen


@pytest.mark.postgres
def test_the_same_new_logs_pushed_twice_at_once_are_stored_once(app: Flask, on_site) -> None:  # type: ignore[no-untyped-def]
    """Two pushes of the same new work logs under different keys at the same moment (a phone that gave up on
    an answer and synced again while the first push still ran): the second insert waits for the first one's
    rows, meets their ids when it commits, rolls its savepoint back and skips them (fieldservice/changes.py
    insert_numbered). Both answer 200 with every log accepted, each log is stored once, and the audit chain
    stays whole."""
    job, phone = on_site
    records = logs(job.visit.id, 80)
    data = body_of(records)
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def send() -> None:
        local = app.test_client()
        barrier.wait()
        answers.append(push(local, phone, data))

    threads = [threading.Thread(target=send) for _ in range(2)]
    with statements(app) as sent:  # both requests' statements (the listener is the engine's)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert [a.status_code for a in answers] == [200, 200], [a.get_data(as_text=True)[:300] for a in answers]
    assert sent.count(f"ROLLBACK TO SAVEPOINT {NEW_ROWS_SAVEPOINT}") == 1  # the one that came second
    assert [a.get_json()["accepted"] for a in answers] == [80, 80]
    with app.app_context():
        stored = db.session.scalars(sa.select(WorkLog.id).where(
            WorkLog.id.in_([uuid.UUID(r["id"]) for r in records]))).all()
        assert len(stored) == 80 and len(set(stored)) == 80
    result = app.test_cli_runner().invoke(args=["verify-archive", "--no-progress"])
    assert result.exit_code == 0, result.output
