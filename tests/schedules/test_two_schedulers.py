"""Two real `flask scheduler run` processes against one PostgreSQL database for about a minute (intervals
shortened to seconds), with maintenance plans due, SLA clocks past their deadlines and unconfirmed visits
ahead: afterwards every visit exists once, every breach once, every notification once, and the webhook
receiver got each notification exactly once, so the work happened and nothing happened twice."""
from __future__ import annotations

import collections
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work, utcnow
from fieldservice.extensions import db
from fieldservice.maintenance import service as maintenance
from fieldservice.maintenance.models import IntervalUnit, MaintenanceOccurrence
from fieldservice.notifications.models import Notification, NotificationStatus
from fieldservice.sla.models import SlaBreach
from fieldservice.visits.models import Visit
from fieldservice.workorders.models import WorkOrder, WorkOrderKind
from tests.factories import Factory
from tests.notifications.servers import webhook_server
from tests.processes import production_env

REPO = Path(__file__).resolve().parents[2]
RUN_SECONDS = int(os.environ.get("TWO_SCHEDULERS_SECONDS", "60"))
HORIZON_DAYS = 30  # given to the processes, so the check below does not depend on the test app's settings


def arrange(app: Flask, make: Factory) -> int:
    """Plans due from today, and repair jobs opened 3 hours ago (respond and on-site deadlines passed)."""
    line = make.product_line()
    product = make.product(line.id)
    customer = make.customer()
    site = make.site(customer.id, timezone="Asia/Shanghai")
    today = utcnow().date()
    for days in (1, 3, 7):
        asset = make.asset(customer.id, site.id, product.id)
        with app.app_context(), unit_of_work():
            maintenance.create_plan(SYSTEM, {
                "asset_id": asset.id, "name": f"每 {days} 天保养", "items": [{"task": "inspect 检查"}],
                "interval": days, "interval_unit": IntervalUnit.DAYS, "start_on": today}, today=today)
    with time_machine.travel(datetime.now(UTC) - timedelta(hours=3), tick=False):
        for _ in range(3):
            make.work_order(customer_id=customer.id, site_id=site.id, product_id=product.id)
    return 3


def start_scheduler(database_url: str, webhook_url: str, media: Path) -> subprocess.Popen[str]:
    env = production_env(secret="two-schedulers-test", database_url=database_url, media=media,
                         SCHEDULER_INTERVAL_SECONDS="3", NOTIFY_WEBHOOK_URL=webhook_url, NOTIFY_WEBHOOK_SECRET="s",
                         LOG_LEVEL="INFO", CONFIRMATION_REMINDER_DAYS="2", MAINTENANCE_HORIZON_DAYS=str(HORIZON_DAYS),
                         PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output


@pytest.mark.postgres
@pytest.mark.slow
def test_two_scheduler_processes_do_the_work_once(app: Flask, make: Factory, database_url: str,
                                                   tmp_path: Path) -> None:
    repairs = arrange(app, make)
    with webhook_server([200]) as hook:
        processes = [start_scheduler(database_url, hook.url, tmp_path / f"media{i}") for i in range(2)]
        try:
            time.sleep(RUN_SECONDS)
        finally:
            outputs = [stop(p) for p in processes]
    if os.environ.get("TWO_SCHEDULERS_PRINT"):
        print("\n=====\n".join(outputs))
    for output in outputs:
        assert "job sla.scan: every 3 s" in output, output[-3000:]
        assert "Traceback" not in output, output[-3000:]

    with app.app_context():
        count = lambda model: db.session.scalar(sa.select(sa.func.count()).select_from(model))  # noqa: E731
        occurrences = count(MaintenanceOccurrence)
        maintenance_orders = db.session.scalar(sa.select(sa.func.count()).select_from(WorkOrder)
                                               .where(WorkOrder.kind == WorkOrderKind.MAINTENANCE))
        pairs = db.session.execute(sa.select(MaintenanceOccurrence.plan_id, MaintenanceOccurrence.due_on)).all()
        breaches = db.session.scalars(sa.select(SlaBreach.clock_id)).all()
        notes = db.session.scalars(sa.select(Notification)).all()
        kinds = collections.Counter(n.kind for n in notes)
        statuses = {n.status for n in notes}
        note_ids = sorted(str(n.id) for n in notes)
        visits = count(Visit)
    # the work happened: the 30-day horizon of three plans (every 1, 3 and 7 days from today)
    assert occurrences >= 30 + 10 + 5 - 3
    assert visits == occurrences == maintenance_orders and len(set(pairs)) == len(pairs)
    with app.app_context(), unit_of_work():
        assert maintenance.generate_due_occurrences(utcnow().date(), HORIZON_DAYS).created == 0
    # respond and on-site deadlines of each repair job: one breach and one escalation each
    assert len(breaches) == len(set(breaches)) == 2 * repairs
    assert kinds["sla.breach"] == 2 * repairs
    assert kinds["visit.unconfirmed"] >= 1
    # and no run believed it did work another run had done (the logged counts add up to the rows)
    logged = lambda pattern: sum(int(n) for o in outputs for n in re.findall(pattern, o))  # noqa: E731
    assert logged(r"SLA breaches recorded: (\d+)") == 2 * repairs
    assert logged(r"confirmation reminders enqueued: (\d+)") == kinds["visit.unconfirmed"]
    assert logged(r"maintenance visits generated: \{[^}]*'created': (\d+)") == occurrences
    # every message delivered, and exactly once
    assert statuses == {NotificationStatus.SENT}
    delivered = collections.Counter(json.loads(r.body)["id"] for r in hook.received)
    assert sorted(delivered) == note_ids
    assert set(delivered.values()) == {1}, [k for k, v in delivered.items() if v > 1]
