"""End to end with a real client: WatermelonDB 0.28's own synchronize() in Node, against the running server."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
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
    with app.app_context():
        logs = db.session.scalars(sa.select(WorkLog)).all()
        assert sorted(str(entry.id) for entry in logs) == sorted(log_ids)
        creations = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "work_log.create_many")).all()
        assert [sorted(e.details["work_log_ids"]) for e in creations] == [sorted(log_ids)]  # once, not per push
        # device facts once per record, not once per push: on the logs, and one receipt per visit version
        assert all(entry.device_time is not None and entry.received_at is not None for entry in logs)
        assert [r.table_name for r in db.session.scalars(sa.select(SyncReceipt))] == ["visits"]
        rejected = db.session.scalars(sa.select(SyncRejection)).all()
        assert [(r.table_name, r.reason_code) for r in rejected] == [("work_orders", "invalid_transition")]
    assert steps["second_device"]["work_logs"] == 2
    assert steps["rejected_record"]["sync_status"] == "rejected"
