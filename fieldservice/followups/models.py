"""FollowUpTask (one call due after a work order, per offset) and FollowUpAttempt (each call made)."""
from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column
from fieldservice.extensions import db


class FollowUpKind(enum.StrEnum):
    INSTALLATION = "installation"   # calls 7, 30, 90, 180 and 365 days after the installation
    REPAIR = "repair"               # one call FOLLOWUP_REPAIR_DAYS after the repair


class FollowUpStatus(enum.StrEnum):
    OPEN = "open"                   # to call on or after `due_on`
    DONE = "done"                   # the customer was reached and the outcome recorded
    UNREACHABLE = "unreachable"     # not reached after the last allowed attempt (stays listed)
    CANCELLED = "cancelled"


class FollowUpTask(UUIDPrimaryKey, Timestamps, db.Model):
    """One follow-up call after a work order. Unique per (work order, offset in days): created once, however
    often the work order is signed, closed or the backstop job runs."""

    __tablename__ = "followup_tasks"
    __table_args__ = (
        sa.UniqueConstraint("work_order_id", "offset_days"),
        sa.Index("ix_followup_tasks_status_due", "status", "due_on"),
        sa.CheckConstraint("satisfaction IS NULL OR (satisfaction >= 1 AND satisfaction <= 5)",
                           name="satisfaction_range"),
    )

    work_order_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_orders.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    asset_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("assets.id"))
    kind: Mapped[FollowUpKind] = mapped_column(enum_column(FollowUpKind))
    offset_days: Mapped[int]
    base_on: Mapped[date]            # the day the work was signed off (or closed)
    due_on: Mapped[date]             # when to call next: base_on + offset, moved on by each unreachable attempt
    status: Mapped[FollowUpStatus] = mapped_column(enum_column(FollowUpStatus), default=FollowUpStatus.OPEN)
    attempts: Mapped[int] = mapped_column(default=0)
    reached: Mapped[bool | None]
    satisfaction: Mapped[int | None]
    remarks: Mapped[str | None] = mapped_column(sa.Text)
    completed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    attempt_log: Mapped[list[FollowUpAttempt]] = relationship(
        back_populates="task", order_by="FollowUpAttempt.attempt_no", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}


class FollowUpAttempt(UUIDPrimaryKey, Timestamps, db.Model):
    """One call: who called when, whether the customer was reached, satisfaction (1-5) and remarks."""

    __tablename__ = "followup_attempts"
    __table_args__ = (sa.UniqueConstraint("task_id", "attempt_no"),)

    task_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("followup_tasks.id"), index=True)
    attempt_no: Mapped[int]
    called_at: Mapped[datetime]
    reached: Mapped[bool]
    satisfaction: Mapped[int | None]
    remarks: Mapped[str | None] = mapped_column(sa.Text)
    recorded_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))

    task: Mapped[FollowUpTask] = relationship(back_populates="attempt_log")
