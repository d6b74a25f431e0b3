"""Scheduler work at volume on PostgreSQL: the SLA breach scan over many running clocks (first scan with
breaches to record, then a rescan with nothing new), and the outbox sender's throughput (record channel:
claim + outcome bookkeeping only; webhook: real HTTP to a local receiver).

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python -m bench.scheduler_bench
"""
from __future__ import annotations

import os
import uuid
from datetime import timedelta

import sqlalchemy as sa

from bench.common import fresh_database, migrated_app, timer
from fieldservice.db import bulk_insert, unit_of_work, utcnow
from fieldservice.extensions import db
from fieldservice.notifications import service as outbox
from fieldservice.notifications.models import Channel
from fieldservice.notifications.sender import send_due
from fieldservice.sla import service as sla
from fieldservice.sla.models import SlaClock
from tests.notifications.servers import webhook_server

CLOCKS = int(os.environ.get("BENCH_CLOCKS", "50000"))
DUE = int(os.environ.get("BENCH_DUE", "2000"))
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "5000"))
WEBHOOK_MESSAGES = int(os.environ.get("BENCH_WEBHOOK_MESSAGES", "1000"))


def clock_rows(now):  # type: ignore[no-untyped-def]
    rows = []
    for i in range(CLOCKS):
        due = now - timedelta(minutes=1) if i < DUE else now + timedelta(hours=1 + i % 100)
        rows.append({"id": uuid.uuid4(), "target": "respond", "work_order_id": None, "service_request_id": None,
                     "policy_id": None, "calendar_id": None, "business_time": False, "target_minutes": 30,
                     "status": "running", "started_at": due - timedelta(minutes=30),
                     "running_since": due - timedelta(minutes=30), "elapsed_seconds": 0, "due_at": due,
                     "agreed_due_at": None, "stopped_at": None, "breached_at": None})
    return rows


def enqueue_many(count: int, channel: Channel) -> None:
    with unit_of_work():
        for i in range(count):
            outbox.enqueue("bench", "receiver", {"n": i, "客户": "上海"}, channel=channel, dedupe_key=f"bench:{channel}:{i}")


def drain(app) -> float:  # type: ignore[no-untyped-def]
    sent = 0
    with timer() as t:
        while True:
            counts = send_due(app)
            sent += counts.get("sent", 0)
            if not counts.get("claimed"):
                break
    return sent / t["seconds"]


def main() -> None:
    app = migrated_app(fresh_database("bench_scheduler"))
    app.config.update(NOTIFY_BATCH_SIZE=200, NOTIFY_TIMEOUT_SECONDS=5)
    now = utcnow()
    with app.app_context():
        with unit_of_work() as session:
            bulk_insert(session, SlaClock.__table__, clock_rows(now))
        with timer() as first, unit_of_work():
            breaches = sla.scan_breaches(now=now, limit=CLOCKS)
        with timer() as again, unit_of_work():
            repeat = sla.scan_breaches(now=now, limit=CLOCKS)
        print(f"SLA scan over {CLOCKS} running clocks: {breaches} breaches + escalations in {first['seconds']:.2f} s "
              f"({breaches / first['seconds']:.0f}/s); rescan found {repeat} in {again['seconds'] * 1000:.1f} ms")
        db.session.execute(sa.text("DELETE FROM notifications"))
        db.session.commit()
        enqueue_many(MESSAGES, Channel.RECORD)
    print(f"sender, record channel: {drain(app):.0f} messages/s ({MESSAGES} messages, batches of 200)")
    with webhook_server([200]) as hook:
        app.config.update(NOTIFY_WEBHOOK_URL=hook.url, NOTIFY_WEBHOOK_SECRET="bench")
        with app.app_context():
            enqueue_many(WEBHOOK_MESSAGES, Channel.WEBHOOK)
        rate = drain(app)
        print(f"sender, webhook to a local receiver: {rate:.0f} messages/s ({len(hook.received)} received)")
    with app.app_context():
        db.engine.dispose()


if __name__ == "__main__":
    main()
