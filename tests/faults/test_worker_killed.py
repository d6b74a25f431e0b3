"""A gunicorn worker killed with SIGKILL in the middle of a sync push (issue 16): the push is all or nothing
(its transaction had begun writing and nothing of it stays), gunicorn replaces the worker, and the phone's
retry with the same Idempotency-Key applies it exactly once (a second retry returns the stored answer)."""
from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from fieldservice.extensions import db
from fieldservice.visits.models import WorkLog
from sync.models import SyncReceipt
from tests.factories import Factory
from tests.faults.conftest import gunicorn, wait_until, worker_pids

RECORDS = 1500


def push_body(job: Any) -> dict[str, Any]:
    now = int(time.time() * 1000)
    logs = [{"id": str(uuid.uuid4()), "visit_id": str(job.visit.id), "technician_id": str(job.technician.id),
             "started_at": now - 3_600_000, "ended_at": now - 1_800_000, "description": f"工作记录 {i}",
             "created_at": now, "updated_at": now} for i in range(RECORDS)]
    return {"changes": {"work_logs": {"created": logs, "updated": [], "deleted": []}}}


def writing_backend(engine: sa.Engine) -> int | None:
    """The pid of a server backend of the app whose transaction has written (it holds a transaction id)."""
    with engine.connect() as conn:
        return conn.scalar(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_xid IS NOT NULL LIMIT 1"))


@pytest.mark.postgres
@pytest.mark.slow
def test_worker_killed_mid_push_is_all_or_nothing_and_the_retry_applies_once(
        app: Flask, make: Factory, database_url: str, tmp_path: Path) -> None:
    job = make.dispatched_job(start=datetime.now(UTC) - timedelta(minutes=30))
    token = make.token(job.technician.user_id)
    arrived = app.test_client().post(f"/api/v1/visits/{job.visit.id}/arrival", json={},
                                     headers={"Authorization": f"Bearer {token}"})
    assert arrived.status_code == 200, arrived.get_data(as_text=True)  # work is logged on a started visit
    body, key = push_body(job), str(uuid.uuid4())
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": key}
    with app.app_context():
        engine = db.engine
        db.session.remove()
    with gunicorn(database_url, tmp_path / "media", workers=1) as (base, master):
        [worker] = wait_until(lambda: worker_pids(master), 10, "the worker")
        outcome: dict[str, Any] = {}

        def first_push() -> None:
            try:
                outcome["response"] = requests.post(f"{base}/api/v1/sync/push", json=body, headers=headers,
                                                    params={"last_pulled_at": 0}, timeout=60)
            except requests.RequestException as err:
                outcome["error"] = err

        sender = threading.Thread(target=first_push)
        sender.start()
        wait_until(lambda: writing_backend(engine) or "response" in outcome, 30, "the push to start writing",
                   interval=0.005)
        assert "response" not in outcome, "the push finished before it could be killed: raise RECORDS"
        os.kill(worker, signal.SIGKILL)
        sender.join(timeout=30)
        assert "error" in outcome  # the phone saw the connection drop, no answer
        wait_until(lambda: writing_backend(engine) is None, 30, "the killed push's transaction to end")
        with engine.connect() as conn:
            assert conn.scalar(sa.select(sa.func.count()).select_from(WorkLog)) == 0  # nothing of it stayed

        wait_until(lambda: [p for p in worker_pids(master) if p != worker], 30, "gunicorn to replace the worker")
        retry = requests.post(f"{base}/api/v1/sync/push", json=body, headers=headers,
                              params={"last_pulled_at": 0}, timeout=120)
        assert retry.status_code == 200, retry.text
        assert retry.json()["accepted"] == RECORDS, str(retry.json())[:3000]
        again = requests.post(f"{base}/api/v1/sync/push", json=body, headers=headers,
                              params={"last_pulled_at": 0}, timeout=120)
        assert again.status_code == 200 and again.json() == retry.json()
    with engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(WorkLog)) == RECORDS
        assert conn.scalar(sa.select(sa.func.count(sa.distinct(WorkLog.id)))) == RECORDS
        assert conn.scalar(sa.select(sa.func.count()).select_from(SyncReceipt)) <= 1
