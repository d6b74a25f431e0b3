"""MaintenancePlan (per asset: items, recurrence, preferred window) and MaintenanceOccurrence (one due date)."""
from __future__ import annotations

import enum
import uuid
from datetime import date, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.assets.models import Asset
from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column
from fieldservice.extensions import db


class IntervalUnit(enum.StrEnum):
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"


class PlanStatus(enum.StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class OccurrenceStatus(enum.StrEnum):
    PENDING = "pending"        # due date known, no visit yet (generation could not plan one: see `note`)
    SCHEDULED = "scheduled"    # a maintenance work order and a planned visit exist
    DONE = "done"              # the work order's work is complete
    SKIPPED = "skipped"        # deliberately not done
    MISSED = "missed"          # the due date passed without the work done (R-MNT-4: stays visible)
    CANCELLED = "cancelled"    # the plan was cancelled before it was due


OPEN_OCCURRENCE_STATUSES = (OccurrenceStatus.PENDING, OccurrenceStatus.SCHEDULED)


class MaintenancePlan(UUIDPrimaryKey, Timestamps, db.Model):
    """What to do to one asset and how often: every `interval` `interval_unit`s from `start_on`, or an
    RFC 5545 RRULE (with `start_on` as its DTSTART). Visits go in the preferred window, in the site's zone."""

    __tablename__ = "maintenance_plans"
    __table_args__ = (
        sa.CheckConstraint("end_on IS NULL OR end_on >= start_on", name="date_order"),
        sa.CheckConstraint("window_end > window_start", name="window_order"),
    )

    asset_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("assets.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    # [{"task": "...", "checklist": ["...", ...]}, ...]
    items: Mapped[list[Any]] = mapped_column(sa.JSON)
    interval: Mapped[int | None]
    interval_unit: Mapped[IntervalUnit | None] = mapped_column(enum_column(IntervalUnit))
    rrule: Mapped[str | None] = mapped_column(sa.String(500))
    start_on: Mapped[date]
    end_on: Mapped[date | None]
    window_start: Mapped[time] = mapped_column(sa.Time)
    window_end: Mapped[time] = mapped_column(sa.Time)
    technician_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("technicians.id"))
    status: Mapped[PlanStatus] = mapped_column(enum_column(PlanStatus), default=PlanStatus.ACTIVE, index=True)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(500))
    # every due date up to and including this one has its occurrence: generation starts the day after
    covered_through: Mapped[date]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)

    asset: Mapped[Asset] = relationship()

    __mapper_args__ = {"version_id_col": version}

    @property
    def timezone(self) -> str:
        """The preferred window is local time at the asset's site."""
        return self.asset.site.timezone


class MaintenanceOccurrence(UUIDPrimaryKey, Timestamps, db.Model):
    """One due date of a plan. Unique per (plan, due date): generating twice creates nothing new."""

    __tablename__ = "maintenance_occurrences"
    __table_args__ = (
        sa.UniqueConstraint("plan_id", "due_on"),
        sa.Index("ix_maintenance_occurrences_status_due", "status", "due_on"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("maintenance_plans.id"))
    due_on: Mapped[date]
    status: Mapped[OccurrenceStatus] = mapped_column(enum_column(OccurrenceStatus))
    work_order_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("work_orders.id"), index=True)
    visit_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("visits.id"))
    # why the visit is unassigned or missing (technician not certified, busy, ...)
    note: Mapped[str | None] = mapped_column(sa.String(500))

    plan: Mapped[MaintenancePlan] = relationship()
