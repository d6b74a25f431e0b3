"""The outbox's write side: a message commits with the change that caused it, and a dedupe key makes
enqueueing idempotent (a job re-run or a second scheduler process gives one message)."""
from __future__ import annotations

import sqlalchemy as sa

from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.notifications import service
from fieldservice.notifications.models import Channel, Notification, NotificationStatus


def test_enqueue_writes_a_pending_message(app):
    with app.app_context():
        with unit_of_work():
            assert service.enqueue("sla.breach", "https://hooks.example/x", {"客户": "上海仁济"},
                                   subject="SLA 违约")
        row = db.session.scalars(sa.select(Notification)).one()
        assert row.status is NotificationStatus.PENDING
        assert row.channel is Channel.WEBHOOK
        assert row.payload == {"客户": "上海仁济"}
        assert row.attempts == 0 and row.next_attempt_at.tzinfo is not None


def test_same_dedupe_key_enqueues_once(app):
    with app.app_context():
        for _ in range(3):
            with unit_of_work():
                service.enqueue("reminder", "ops@example.com", {"n": 1}, channel=Channel.EMAIL,
                                dedupe_key="reminder:visit-1")
        with unit_of_work():
            assert service.enqueue("reminder", "ops@example.com", {"n": 2}, dedupe_key="reminder:visit-2")
        keys = db.session.scalars(sa.select(Notification.dedupe_key).order_by(Notification.dedupe_key)).all()
        assert keys == ["reminder:visit-1", "reminder:visit-2"]


def test_message_rolls_back_with_its_cause(app):
    with app.app_context():
        try:
            with unit_of_work():
                service.enqueue("sla.breach", "x@example.com", {}, dedupe_key="k")
                raise RuntimeError("the business change failed")
        except RuntimeError:
            pass
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)) == 0
