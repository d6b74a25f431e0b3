"""Sync bookkeeping: what each technician's phones hold, pushes seen, rejected records, receipts."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fieldservice.changes import ChangeTracked
from fieldservice.db import UUIDPrimaryKey, enum_column, utcnow
from fieldservice.extensions import db


class ScopeMember(db.Model):
    """A record in a technician's sync scope. `added_seq`/`removed_seq` are change numbers, so that a
    pull can tell a phone "this record is new to you" or "drop this record" exactly once. `refs` counts the
    reasons it is there (the visits in scope that need it; 1 for van stock); it leaves at 0 (sync/scope.py)."""

    __tablename__ = "sync_scope"
    __table_args__ = (
        sa.Index("ix_sync_scope_added", "technician_id", "added_seq"),
        # only members that left: a push's new members (hundreds, removed_seq NULL) add no entry to it
        sa.Index("ix_sync_scope_removed", "technician_id", "removed_seq",
                 postgresql_where=sa.text("removed_seq IS NOT NULL"), sqlite_where=sa.text("removed_seq IS NOT NULL")),
        # ordered by record first: the key also finds a record's holders (table_name, record_id), so a push's
        # new members go into one B-tree ordered by their random ids, not two (migration i13e7b2c4f1a0)
        sa.PrimaryKeyConstraint("table_name", "record_id", "technician_id", name="pk_sync_scope"),
    )

    # no foreign key (it checked every one of a push's hundreds of rows): each row is written under the lock of
    # the technician's ScopeState row, which has one, and technicians are never deleted (migration i13d5c0be11e0)
    technician_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    table_name: Mapped[str] = mapped_column(sa.String(60), primary_key=True)
    record_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    added_seq: Mapped[int] = mapped_column(sa.BigInteger)
    removed_seq: Mapped[int | None] = mapped_column(sa.BigInteger)
    refs: Mapped[int] = mapped_column(default=0, server_default="0")


class ScopeState(db.Model):
    """Per technician: the schedule window their scope was last evaluated for, and whether it must be rebuilt
    whole at the next pull (never built, or a rare change such as a work order's customer made it stale).
    Locked (FOR UPDATE) by whoever changes the technician's scope, so two of them never race."""

    __tablename__ = "sync_scope_state"

    technician_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("technicians.id"), primary_key=True)
    horizon_start: Mapped[datetime | None]
    horizon_end: Mapped[datetime | None]
    built_at: Mapped[datetime | None]  # None: rebuild at the next pull
    stale_reason: Mapped[str | None] = mapped_column(sa.String(200))


class PushLog(db.Model):
    """One row per Idempotency-Key: a replay returns the stored answer and writes nothing."""

    __tablename__ = "sync_pushes"

    idempotency_key: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    technician_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("technicians.id"), index=True)
    request_sha256: Mapped[str] = mapped_column(sa.String(64))
    last_pulled_at: Mapped[int | None] = mapped_column(sa.BigInteger)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int]
    response: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


class RejectionStatus(enum.StrEnum):
    OPEN = "open"              # the phone is told; a dispatcher should look
    RESOLVED = "resolved"      # a dispatcher dealt with it
    SUPERSEDED = "superseded"  # a later push of the same record was accepted


class RejectionKind(enum.StrEnum):
    REJECTED = "rejected"      # the record broke a rule and was not applied
    OVERRIDDEN = "overridden"  # the record applied, but fields the phone does not own kept the server's value


class SyncRejection(UUIDPrimaryKey, ChangeTracked, db.Model):
    """Quarantine: a pushed record (or part of one) the server did not apply, kept whole with the reason."""

    __tablename__ = "sync_rejections"
    __table_args__ = (sa.Index("ix_sync_rejections_record", "table_name", "record_id"),)

    kind: Mapped[RejectionKind] = mapped_column(enum_column(RejectionKind))
    status: Mapped[RejectionStatus] = mapped_column(enum_column(RejectionStatus), default=RejectionStatus.OPEN,
                                                    index=True)
    technician_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("technicians.id"), index=True)
    idempotency_key: Mapped[uuid.UUID]
    table_name: Mapped[str] = mapped_column(sa.String(60))
    record_id: Mapped[str] = mapped_column(sa.String(64))
    operation: Mapped[str] = mapped_column(sa.String(10))
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    changed_columns: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    reason_code: Mapped[str] = mapped_column(sa.String(60))
    reason: Mapped[str] = mapped_column(sa.String(1000))
    # a lifecycle gate refusal: every unmet condition (code, rule, message), machine-readable
    unmet_conditions: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    device_time: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    resolution_note: Mapped[str | None] = mapped_column(sa.String(1000))


class SyncReceipt(UUIDPrimaryKey, db.Model):
    """Every pushed record: the phone's time for it and the server's receive time (device facts)."""

    __tablename__ = "sync_receipts"
    __table_args__ = (sa.Index("ix_sync_receipts_record", "table_name", "record_id"),)

    idempotency_key: Mapped[uuid.UUID] = mapped_column(index=True)
    technician_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("technicians.id"))
    table_name: Mapped[str] = mapped_column(sa.String(60))
    record_id: Mapped[str] = mapped_column(sa.String(64))
    operation: Mapped[str] = mapped_column(sa.String(10))
    outcome: Mapped[str] = mapped_column(sa.String(20))
    device_time: Mapped[datetime | None]
    received_at: Mapped[datetime]
