"""MaintenancePlan (per asset, or per contract: items, recurrence, preferred window, technician or team) and
MaintenanceOccurrence (one due date of one asset)."""
from __future__ import annotations

import enum
import uuid
from datetime import date, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.assets.models import Asset
from fieldservice.contracts.models import SalesContract
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

plan_assets = sa.Table(
    "maintenance_plan_assets", db.Model.metadata,
    sa.Column("plan_id", sa.Uuid(), sa.ForeignKey("maintenance_plans.id"), primary_key=True),
    sa.Column("asset_id", sa.Uuid(), sa.ForeignKey("assets.id"), primary_key=True, index=True),
)
"""The chosen assets of a contract plan; a contract plan with none covers every asset on the contract."""


class MaintenancePlan(UUIDPrimaryKey, Timestamps, db.Model):
    """What to do to one asset (`asset_id`) or to the assets of a contract (`contract_id`: all of them, or the
    chosen `assets`), and how often: every `interval` `interval_unit`s from `start_on`, or an RFC 5545 RRULE
    (with `start_on` as its DTSTART). Visits go in the preferred window, in each asset's site zone, to the
    plan's technician or a certified, free member of its team."""

    __tablename__ = "maintenance_plans"
    __table_args__ = (
        sa.CheckConstraint("end_on IS NULL OR end_on >= start_on", name="date_order"),
        sa.CheckConstraint("window_end > window_start", name="window_order"),
        sa.CheckConstraint("(asset_id IS NULL) <> (contract_id IS NULL)", name="asset_or_contract"),
        sa.CheckConstraint("technician_id IS NULL OR team_id IS NULL", name="technician_or_team"),
    )

    asset_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("assets.id"), index=True)
    contract_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("sales_contracts.id"), index=True)
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
    team_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("teams.id"))
    status: Mapped[PlanStatus] = mapped_column(enum_column(PlanStatus), default=PlanStatus.ACTIVE, index=True)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(500))
    # every due date up to and including this one has its occurrence: generation starts the day after
    covered_through: Mapped[date]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)

    asset: Mapped[Asset | None] = relationship()
    contract: Mapped[SalesContract | None] = relationship()
    chosen_assets: Mapped[list[Asset]] = relationship(secondary=plan_assets, order_by="Asset.serial_number")

    __mapper_args__ = {"version_id_col": version}

    @property
    def timezone(self) -> str | None:
        """The preferred window is local time at the asset's site (per asset for a contract plan)."""
        return self.asset.site.timezone if self.asset is not None else None

    @property
    def asset_ids(self) -> list[uuid.UUID]:
        """The chosen assets of a contract plan (empty: every asset on the contract)."""
        return [asset.id for asset in self.chosen_assets]


class MaintenanceOccurrence(UUIDPrimaryKey, Timestamps, db.Model):
    """One due date of a plan for one asset. Unique per (plan, asset, due date): generating twice creates
    nothing new. A contract plan has one occurrence (work order, visit) per asset and due date."""

    __tablename__ = "maintenance_occurrences"
    __table_args__ = (
        sa.UniqueConstraint("plan_id", "asset_id", "due_on"),
        sa.Index("ix_maintenance_occurrences_status_due", "status", "due_on"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("maintenance_plans.id"))
    asset_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("assets.id"), index=True)
    due_on: Mapped[date]
    status: Mapped[OccurrenceStatus] = mapped_column(enum_column(OccurrenceStatus))
    work_order_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("work_orders.id"), index=True)
    visit_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("visits.id"))
    # why the visit is unassigned or missing (technician not certified, busy, ...)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    # why it was skipped or cancelled (skip action, plan cancelled, asset retired, contract ended)
    reason: Mapped[str | None] = mapped_column(sa.String(500))

    plan: Mapped[MaintenancePlan] = relationship()
