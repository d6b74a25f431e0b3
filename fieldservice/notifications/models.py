"""Notification: one outgoing message (kind, recipient, payload) and its delivery state."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fieldservice.db import UTCDateTime, UUIDPrimaryKey, enum_column
from fieldservice.extensions import db


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"      # waiting for its first or next attempt (`next_attempt_at`)
    SENDING = "sending"      # claimed by a sender; back to pending if the sender dies (lease expires)
    SENT = "sent"
    FAILED = "failed"        # gave up after the maximum number of attempts, or at once on a permanent refusal
                             # (HTTP 4xx but 408/425/429, SMTP 5xx); kept for the office to see and re-queue


class Channel(enum.StrEnum):
    WEBHOOK = "webhook"
    EMAIL = "email"
    RECORD = "record"        # no transport: kept as the record of what was notified


class Notification(UUIDPrimaryKey, db.Model):
    """A message in the outbox. `dedupe_key` makes enqueueing idempotent: the same event enqueued twice
    (a job run twice, two scheduler processes) gives one message."""

    __tablename__ = "notifications"

    kind: Mapped[str] = mapped_column(sa.String(60), index=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    recipient: Mapped[str] = mapped_column(sa.String(320))
    subject: Mapped[str] = mapped_column(sa.String(300), default="")
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    dedupe_key: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    status: Mapped[NotificationStatus] = mapped_column(enum_column(NotificationStatus),
                                                       default=NotificationStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(sa.String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # while `sending`: the claim's lease. A sender that dies mid-send leaves the message to be claimed
    # again once the lease has expired (the attempt it was making counts).
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # what the message is about, for the office's list and per-recipient delivery status
    subject_type: Mapped[str | None] = mapped_column(sa.String(60))
    subject_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid, index=True)

    __table_args__ = (sa.Index("ix_notifications_due", "status", "next_attempt_at"),)
