"""`flask scheduler run` as a real process on the embedded default (a SQLite file built by `flask db
upgrade`): the job store table is used, the SLA scan records a breach and the sender delivers its
escalation to a real webhook receiver."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine

from fieldservice import create_app
from fieldservice.config import TestConfig
from fieldservice.extensions import db
from fieldservice.notifications.models import Notification, NotificationStatus
from fieldservice.ops.heartbeat import SchedulerHeartbeat
from fieldservice.sla.models import SlaBreach
from tests.conftest import is_postgres
from tests.factories import Factory
from tests.notifications.servers import webhook_server
from tests.processes import production_env

REPO = Path(__file__).resolve().parents[2]


def _beat(app: object) -> bool:
    """The process's own heartbeat row is written (its job runs on its interval, maybe after the webhook)."""
    with app.app_context():  # type: ignore[attr-defined]
        row = db.session.get(SchedulerHeartbeat, "scheduler")
        beat = row is not None and row.last_success_at is not None
        db.session.remove()
        return beat


@pytest.mark.slow
def test_scheduler_process_on_sqlite(tmp_path: Path, database_url: str) -> None:
    if is_postgres(database_url):
        pytest.skip("the SQLite single-process run; the PostgreSQL pass runs test_two_schedulers")
    url = "sqlite:///" + str(tmp_path / "scheduler.sqlite3")
    env = production_env(secret="scheduler-test", database_url=url, media=tmp_path / "media",
                         anchors=tmp_path / "anchors", SCHEDULER_INTERVAL_SECONDS="2", PYTHONUNBUFFERED="1")
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=REPO, env=env, check=True, capture_output=True)

    app = create_app(TestConfig(url))
    with time_machine.travel(datetime.now(UTC) - timedelta(hours=1), tick=False):
        order = Factory(app).work_order()
    with webhook_server([200]) as hook:
        process = subprocess.Popen([*flask, "scheduler", "run"], cwd=REPO,
                                   env={**env, "NOTIFY_WEBHOOK_URL": hook.url}, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (hook.received and _beat(app)):
                time.sleep(0.5)
        finally:
            process.send_signal(signal.SIGINT)
            output, _ = process.communicate(timeout=30)
    assert "Traceback" not in output, output[-3000:]
    with app.app_context():
        jobs = db.session.scalars(sa.text("SELECT id FROM apscheduler_jobs ORDER BY id")).all()
        [breach] = db.session.scalars(sa.select(SlaBreach)).all()
        [note] = db.session.scalars(sa.select(Notification)).all()
        assert jobs == ["archive.anchor", "complaints.flag_overdue", "followups.create", "maintenance.generate_visits",
                        "notifications.send", "reminders.unconfirmed_visits", "scheduler.heartbeat", "sla.scan"]
        # the process beat, and each job's run is on record (/readyz/scheduler, /metrics)
        beats = {row.job_id: row for row in db.session.scalars(sa.select(SchedulerHeartbeat))}
        assert beats["scheduler"].last_success_at is not None and beats["sla.scan"].runs >= 1
        assert breach.work_order_id == order.id and breach.target.value == "respond"
        assert note.status is NotificationStatus.SENT and note.kind == "sla.breach"
        db.engine.dispose()
    assert [json.loads(r.body)["id"] for r in hook.received] == [str(note.id)]
