"""Visit and WorkLog."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.changes import ChangeTracked
from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column
from fieldservice.extensions import db
from fieldservice.lifecycle.states import ACTIVE_VISIT_STATUSES, VisitStatus
from fieldservice.technicians.models import Technician
from fieldservice.workorders.models import WorkOrder

# the visit state machine lives in fieldservice/lifecycle/states.py
__all__ = ["ACTIVE_VISIT_STATUSES", "Visit", "VisitHandover", "VisitStatus", "WorkLog"]


class Visit(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    __tablename__ = "visits"
    __table_args__ = (
        sa.CheckConstraint("scheduled_end > scheduled_start", name="window_order"),
        sa.Index("ix_visits_technician_window", "technician_id", "scheduled_start"),
        # KPI queries (fieldservice/kpi): visits by window over a date range, completed visits by departure
        sa.Index("ix_visits_scheduled_start", "scheduled_start"),
        sa.Index("ix_visits_departed_at", "departed_at"),
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
    # ...or a dispatcher decided the visit may start without it, and said why (the gate's override)
    confirmation_waived_at: Mapped[datetime | None]
    confirmation_waived_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    confirmation_waiver_reason: Mapped[str | None] = mapped_column(sa.String(500))
    arrived_at: Mapped[datetime | None]
    departed_at: Mapped[datetime | None]
    work_complete: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str | None] = mapped_column(sa.Text)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(500))
    # times reported by a phone whose clock disagreed with the server's are kept, but flagged here
    time_flags: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    # KPI fact (fieldservice/kpi/facts.py): for a repair visit that completed the work, whether it was the
    # job's first attended visit; NULL for every other visit. Kept up to date on every flush.
    first_time_fix: Mapped[bool | None]
    version: Mapped[int] = mapped_column(default=1)

    work_order: Mapped[WorkOrder] = relationship()
    technician: Mapped[Technician | None] = relationship()
    work_logs: Mapped[list[WorkLog]] = relationship(back_populates="visit", order_by="WorkLog.started_at")

    __mapper_args__ = {"version_id_col": version}


class VisitHandover(UUIDPrimaryKey, db.Model):
    """A visit taken away from a technician (reassigned, unassigned) whose phone may still hold unpushed work.

    The visit stays on that phone, read-only, until the phone has received the change and come back with
    nothing left to push; only then does the sync scope let it go (a pulled delete would destroy offline
    work on the phone).
    """

    __tablename__ = "visit_handovers"
    __table_args__ = (sa.Index("ix_visit_handovers_open", "technician_id", "completed_at"),)

    visit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    technician_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("technicians.id"))
    released_at: Mapped[datetime]
    delivered_seq: Mapped[int | None] = mapped_column(sa.BigInteger)
    completed_at: Mapped[datetime | None]


class WorkLog(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    """What the technician did, when: one entry per task or period of work on a visit."""

    __tablename__ = "work_logs"

    visit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    technician_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("technicians.id"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    description: Mapped[str] = mapped_column(sa.Text)
    # device facts for logs that came from a phone: its clock when it wrote the log, and when we got it
    device_time: Mapped[datetime | None]
    received_at: Mapped[datetime | None]

    visit: Mapped[Visit] = relationship(back_populates="work_logs")
