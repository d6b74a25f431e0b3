"""End to end with a real client: WatermelonDB 0.28's own synchronize() in Node, against the running server."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from fieldservice.audit.models import AuditEvent
from fieldservice.extensions import db
from fieldservice.visits.models import WorkLog
from sync.models import SyncReceipt, SyncRejection
from tests.factories import Factory

NODE_DIR = Path(__file__).parent / "node"


def node_ready() -> str:
    node = shutil.which("node")
    if node is None or not (NODE_DIR / "node_modules" / "@nozbe" / "watermelondb").exists():
        message = "node or the WatermelonDB package is missing (make test runs `npm ci` in tests/sync/node)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return node


def test_watermelondb_synchronize_end_to_end(app: Flask, make: Factory, live_url: str) -> None:
    node = node_ready()
    job = make.dispatched_job(start=datetime.now(UTC) - timedelta(hours=2))
    make.dispatched_job()  # another technician's job, which must never reach this phone
    env = {**os.environ, "BASE_URL": live_url, "TOKEN": make.token(job.technician.user_id)}
    run = subprocess.run([node, "e2e.js"], cwd=NODE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    steps = {s["step"]: s for s in (json.loads(line) for line in run.stdout.splitlines() if line.startswith("{"))}
    assert steps["first_sync"]["visits"] == 1 and steps["first_sync"]["pages"] > 1
    # the lost answer and the retry: the second push applied nothing new
    assert steps["push_answer_lost"]["server_answer"]["accepted"] == 3
    log_ids = steps["retried_push"]["log_ids"]
    local_log = steps["local_only_table_empty"]["log_id"]
    default_log = steps["default_settings"]["own_log_id"]  # pushed by the app with WatermelonDB's defaults
    with app.app_context():
        logs = db.session.scalars(sa.select(WorkLog)).all()
        assert sorted(str(entry.id) for entry in logs) == sorted([*log_ids, local_log, default_log])
        creations = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "work_log.create_many")).all()
        assert sorted(sorted(e.details["work_log_ids"]) for e in creations) == sorted(
            [sorted(log_ids), [local_log], [default_log]])
        # once per log, not per push: the retried push after the lost answer created nothing
        # device facts once per record, not once per push: on the logs, and one receipt per visit version
        assert all(entry.device_time is not None and entry.received_at is not None for entry in logs)
        assert sorted(r.table_name for r in db.session.scalars(sa.select(SyncReceipt))) == [
            "visits", "visits", "work_logs"]  # the arrival, the notes, the edited log
        rejected = db.session.scalars(sa.select(SyncRejection).order_by(SyncRejection.received_at)).all()
        assert [(r.table_name, r.record_id, r.reason_code) for r in rejected] == [
            ("work_orders", str(job.order.id), "invalid_transition"),
            ("upload_queue", steps["local_only_table_records"]["queued_id"], "unknown_table"),
            ("work_logs", steps["id_not_uuid"]["short_id"], "id_not_uuid")]
        # issue 13 point 5: the local-only column was ignored, never stored; the edit of the log applied
        edited = db.session.get(WorkLog, uuid.UUID(local_log))
        assert edited.description == "试机正常 test run ok"
        assert all("is_uploaded" not in json.dumps(r.payload) for r in rejected)
        assert rejected[1].payload["file_path"] == "/photos/1.jpg"  # the quarantined record, as pushed
        assert "setGenerator" in rejected[2].reason
    assert steps["second_device"]["work_logs"] == 2
    # issue 13 point 5: WatermelonDB's default settings (records new to the phone in `created`) work, and the
    # e2e fails on any "[Sync]" complaint WatermelonDB logs about what the server sent
    assert steps["default_settings"]["work_logs"] == 4 and steps["default_settings"]["pages"] > 1
    assert steps["rejected_record"]["sync_status"] == "rejected"
    assert steps["local_only_table_empty"]["server_answer"]["rejected"] == 0
