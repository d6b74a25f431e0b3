"""Visit and WorkLog."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column
from fieldservice.extensions import db
from fieldservice.technicians.models import Technician
from fieldservice.workorders.models import WorkOrder


class VisitStatus(enum.StrEnum):
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


ACTIVE_VISIT_STATUSES = (VisitStatus.PLANNED, VisitStatus.IN_PROGRESS)


class Visit(UUIDPrimaryKey, Timestamps, db.Model):
    __tablename__ = "visits"
    __table_args__ = (
        sa.CheckConstraint("scheduled_end > scheduled_start", name="window_order"),
        sa.Index("ix_visits_technician_window", "technician_id", "scheduled_start"),
    )

    work_order_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_orders.id"), index=True)
    technician_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("technicians.id"))
    status: Mapped[VisitStatus] = mapped_column(enum_column(VisitStatus), default=VisitStatus.PLANNED)
    scheduled_start: Mapped[datetime]
    scheduled_end: Mapped[datetime]
    # R-REP-2 / R-MNT-2: time and place confirmed with the customer before the visit
    customer_confirmed: Mapped[bool] = mapped_column(default=False)
    customer_confirmed_at: Mapped[datetime | None]
    confirmation_note: Mapped[str | None] = mapped_column(sa.String(500))
    arrived_at: Mapped[datetime | None]
    departed_at: Mapped[datetime | None]
    work_complete: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str | None] = mapped_column(sa.Text)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(500))
    version: Mapped[int] = mapped_column(default=1)

    work_order: Mapped[WorkOrder] = relationship()
    technician: Mapped[Technician | None] = relationship()
    work_logs: Mapped[list[WorkLog]] = relationship(back_populates="visit", order_by="WorkLog.started_at")

    __mapper_args__ = {"version_id_col": version}


class WorkLog(UUIDPrimaryKey, Timestamps, db.Model):
    """What the technician did, when: one entry per task or period of work on a visit."""

    __tablename__ = "work_logs"

    visit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    technician_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("technicians.id"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    description: Mapped[str] = mapped_column(sa.Text)

    visit: Mapped[Visit] = relationship(back_populates="work_logs")
