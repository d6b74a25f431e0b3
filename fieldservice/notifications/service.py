"""Enqueue notifications. Any service may call `enqueue` inside its unit of work: the message is committed
with the change that caused it (transactional outbox) and delivered later by the sender."""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from fieldservice.audit import service as audit_service
from fieldservice.auth.service import Actor
from fieldservice.common.lookup import get_or_404
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.db import insert_unless_exists, utcnow
from fieldservice.errors import InvalidTransition
from fieldservice.extensions import db
from fieldservice.notifications.models import Channel, Notification, NotificationStatus


def enqueue(kind: str, recipient: str, payload: dict[str, Any], *, channel: Channel = Channel.WEBHOOK,
            subject: str = "", dedupe_key: str | None = None, about: Any = None,
            now: datetime | None = None) -> bool:
    """Put one message in the outbox. With a `dedupe_key`, enqueueing the same event again (a job re-run,
    a second scheduler process) writes nothing and returns False. `about` is the entity the message
    concerns (any model with `id` and `__tablename__`)."""
    now = now or utcnow()
    values = {
        "id": uuid.uuid4(), "kind": kind, "channel": channel.value, "recipient": recipient,
        "subject": subject[:300], "payload": payload, "dedupe_key": dedupe_key,
        "status": NotificationStatus.PENDING.value, "attempts": 0, "next_attempt_at": now, "created_at": now,
        "subject_type": getattr(about, "__tablename__", None), "subject_id": getattr(about, "id", None),
    }
    if dedupe_key is None:
        db.session.execute(sa.insert(Notification).values(**values))
        return True
    return insert_unless_exists(db.session, Notification, values, key=["dedupe_key"]) is not None


def notifications_about(entity: Any) -> list[Notification]:
    """Every message about one entity (e.g. an advisory notice's per-customer delivery status)."""
    return list(db.session.scalars(
        sa.select(Notification).where(Notification.subject_type == entity.__tablename__,
                                      Notification.subject_id == entity.id)
        .order_by(Notification.created_at, Notification.recipient)))


# ---- the read side: claiming, delivery results, the office's list -------------------------------

@dataclass(frozen=True)
class Claimed:
    """A message claimed for one delivery attempt (plain values: delivery happens outside any transaction)."""

    id: uuid.UUID
    kind: str
    channel: Channel
    recipient: str
    subject: str
    payload: dict[str, Any]
    attempt: int
    created_at: datetime
    lease_expires_at: datetime


def claim_due(*, channels: list[Channel], now: datetime, limit: int, lease_seconds: int,
              max_attempts: int) -> list[Claimed]:
    """Claim up to `limit` due messages for delivery: status `sending` with a lease, attempt counted.

    Due means pending and `next_attempt_at` reached, or `sending` whose lease expired (its sender died
    mid-send: the message is retried, never lost). On PostgreSQL `FOR UPDATE SKIP LOCKED` lets several
    senders claim side by side without taking the same message; SQLite has a single writer. A message whose
    lease expired on its last allowed attempt becomes `failed` instead of being claimed again.
    """
    if not channels:
        return []
    values = [c.value for c in channels]
    expired = sa.and_(Notification.status == NotificationStatus.SENDING, Notification.lease_expires_at <= now)
    db.session.execute(
        sa.update(Notification).where(expired, Notification.attempts >= max_attempts,
                                      Notification.channel.in_(values))
        .values(status=NotificationStatus.FAILED, lease_expires_at=None,
                last_error="the sender stopped during the last allowed attempt (lease expired)")
        .execution_options(synchronize_session=False))
    due = sa.or_(sa.and_(Notification.status == NotificationStatus.PENDING, Notification.next_attempt_at <= now),
                 expired)
    rows = list(db.session.scalars(
        sa.select(Notification).where(due, Notification.channel.in_(values))
        .order_by(Notification.next_attempt_at, Notification.id).limit(limit)
        .with_for_update(skip_locked=True)))
    claimed = []
    lease = now + timedelta(seconds=lease_seconds)
    for row in rows:
        row.status, row.lease_expires_at, row.attempts = NotificationStatus.SENDING, lease, row.attempts + 1
        claimed.append(Claimed(row.id, row.kind, row.channel, row.recipient, row.subject, dict(row.payload),
                               row.attempts, row.created_at, lease))
    db.session.flush()
    return claimed


def backoff_seconds(attempt: int, *, base: int, cap: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: base * 2^(attempt-1), capped, then scaled by a random 50-100 %
    (so many messages that failed together do not all retry in the same second)."""
    delay = min(cap, base * (2 ** max(attempt - 1, 0)))
    return delay * (rng or random).uniform(0.5, 1.0)


def record_delivery(claim: Claimed, *, error: str | None, now: datetime, max_attempts: int,
                    base: int, cap: int, rng: random.Random | None = None, permanent: bool = False,
                    retry_after: float | None = None) -> NotificationStatus | None:
    """Write an attempt's outcome: sent, back to pending with a backoff, or failed after `max_attempts`.

    Outbox rules (docs/scheduler.md): a `permanent` refusal (the receiver said this message will never be
    accepted: HTTP 4xx but 408/425/429, SMTP 5xx) fails at once, whatever attempts are left; the office can
    re-queue it. A retryable failure waits the backoff, or longer when the receiver sent `retry_after`
    seconds (capped at `cap`, so a receiver cannot park a message for days).
    Only the claim that holds the message may write (same attempt number, still `sending`): a sender
    whose lease expired and whose message was claimed again writes nothing. Returns the new status."""
    row = db.session.get(Notification, claim.id, with_for_update=True)
    if row is None or row.status is not NotificationStatus.SENDING or row.attempts != claim.attempt:
        return None
    row.lease_expires_at = None
    if error is None:
        row.status, row.sent_at, row.last_error = NotificationStatus.SENT, now, None
    elif permanent or row.attempts >= max_attempts:
        row.status, row.last_error = NotificationStatus.FAILED, error[:1000]
    else:
        row.status, row.last_error = NotificationStatus.PENDING, error[:1000]
        delay = backoff_seconds(row.attempts, base=base, cap=cap, rng=rng)
        if retry_after is not None:
            delay = max(delay, min(float(retry_after), float(cap)))
        row.next_attempt_at = now + timedelta(seconds=delay)
    return row.status


def list_notifications(page: PageRequest, *, status: NotificationStatus | None = None, kind: str | None = None,
                       channel: Channel | None = None) -> Page:
    """The office's view of the outbox, newest first."""
    stmt = sa.select(Notification).order_by(Notification.created_at.desc(), Notification.id)
    if status:
        stmt = stmt.where(Notification.status == status)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    if channel:
        stmt = stmt.where(Notification.channel == channel)
    return paginate(stmt, page)


def get_notification(notification_id: uuid.UUID) -> Notification:
    return get_or_404(Notification, notification_id, "notification")


def retry_notification(actor: Actor, notification_id: uuid.UUID, *, now: datetime | None = None) -> Notification:
    """The office re-queues a failed message: pending again, due now, with a fresh set of attempts.
    Refused (409) for a message that is not failed (pending/sending ones are already on their way)."""
    now = now or utcnow()
    row = get_notification(notification_id)
    if row.status is not NotificationStatus.FAILED:
        raise InvalidTransition(f"only a failed notification can be retried; this one is {row.status.value}",
                                current_status=row.status.value, allowed_transitions=[])
    row.status, row.attempts, row.next_attempt_at, row.lease_expires_at = NotificationStatus.PENDING, 0, now, None
    audit_service.record(actor, "notification.retry", row, {"last_error": row.last_error}, at=now)
    return row
