"""The webhook receiver and the SMTP server down (issue 16): the sender process (`flask notifications send`, a
real process against PostgreSQL) finds both refusing connections; the outbox keeps the messages pending with
the error and a next attempt; once the receivers are up the next pass delivers each message once."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.notifications import service
from fieldservice.notifications.models import Channel, Notification, NotificationStatus
from tests.faults.conftest import REPO, app_env
from tests.notifications.servers import closed_port_url, smtp_server, webhook_server


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def send_pass(database_url: str, media: Path, **settings: str) -> None:
    env = app_env(database_url, media, NOTIFY_BACKOFF_BASE_SECONDS="1", NOTIFY_BACKOFF_MAX_SECONDS="1",
                  NOTIFY_TIMEOUT_SECONDS="3", **settings)
    run = subprocess.run([sys.executable, "-m", "flask", "notifications", "send"], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def outbox(app: Flask) -> dict[str, Notification]:
    with app.app_context():
        rows = {n.channel.value: n for n in db.session.scalars(sa.select(Notification))}
        for n in rows.values():
            db.session.expunge(n)
        return rows


@pytest.mark.postgres
def test_outbox_keeps_messages_while_receivers_are_down_and_delivers_later(app: Flask, database_url: str,
                                                                          tmp_path: Path) -> None:
    with app.app_context(), unit_of_work():
        service.enqueue("sla.breach", "dispatch-supervisor", {"工单": "WO-1"}, subject="SLA 超时")
        service.enqueue("sla.breach", "supervisor@example.com", {"工单": "WO-1"}, channel=Channel.EMAIL,
                        subject="SLA 超时")
    with app.app_context():
        db.session.remove()
    send_pass(database_url, tmp_path, NOTIFY_WEBHOOK_URL=closed_port_url(), SMTP_HOST="127.0.0.1",
              SMTP_PORT=str(closed_port()))
    down = outbox(app)
    for message in down.values():
        assert message.status is NotificationStatus.PENDING and message.attempts == 1 and message.last_error
    time.sleep(1.2)  # past the (shortened) backoff
    with webhook_server([200]) as hook, smtp_server() as mail:
        send_pass(database_url, tmp_path, NOTIFY_WEBHOOK_URL=hook.url, SMTP_HOST=mail.host, SMTP_PORT=str(mail.port))
    up = outbox(app)
    assert {c: m.status for c, m in up.items()} == {"webhook": NotificationStatus.SENT, "email": NotificationStatus.SENT}
    assert len(hook.received) == 1 and len(mail.messages) == 1
