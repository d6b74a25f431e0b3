"""SLA calendars, policies, clocks and breaches."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime, time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column
from fieldservice.extensions import db


class SlaCalendar(UUIDPrimaryKey, Timestamps, db.Model):
    """Business hours: working weekdays and hours in a time zone, holidays, and make-up working days
    (调休: a Saturday or Sunday worked in exchange for a holiday)."""

    __tablename__ = "sla_calendars"

    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Asia/Shanghai")
    workdays: Mapped[list[Any]] = mapped_column(sa.JSON)          # ISO weekdays, 1 = Monday … 7 = Sunday
    day_start: Mapped[time] = mapped_column(sa.Time)
    day_end: Mapped[time] = mapped_column(sa.Time)
    holidays: Mapped[list[Any]] = mapped_column(sa.JSON)          # ISO dates (local) that are not worked
    extra_workdays: Mapped[list[Any]] = mapped_column(sa.JSON)    # ISO dates worked although not a workday


class SlaPolicy(UUIDPrimaryKey, Timestamps, db.Model):
    """Time limits (R-SLA-1). One policy may be the default; a contract may have its own."""

    __tablename__ = "sla_policies"

    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    is_default: Mapped[bool] = mapped_column(default=False)
    contract_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("sales_contracts.id"), unique=True)
    calendar_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("sla_calendars.id"))
    respond_minutes: Mapped[int] = mapped_column(default=30)
    on_site_minutes: Mapped[int] = mapped_column(default=120)
    fix_minutes: Mapped[int] = mapped_column(default=240)
    answer_minutes: Mapped[int] = mapped_column(default=24 * 60)
    # who hears of a breach (the dispatchers' supervisor): a webhook target name or an e-mail address
    escalate_to: Mapped[str | None] = mapped_column(sa.String(320))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class SlaTarget(enum.StrEnum):
    RESPOND = "respond"      # a technician is assigned (the job is taken on)
    ON_SITE = "on_site"      # the technician arrives
    FIX = "fix"              # the work is complete
    ANSWER = "answer"        # a service request is answered (consultation, work order opened, closed)


class ClockStatus(enum.StrEnum):
    RUNNING = "running"
    PAUSED = "paused"        # fix clock while the finished work awaits the customer's acceptance
    STOPPED = "stopped"      # target reached (met or late: see breached_at)
    CANCELLED = "cancelled"  # the job was cancelled: no target any more


class SlaClock(UUIDPrimaryKey, db.Model):
    """One target's clock for one work order or service request. `elapsed_seconds` is the counted time
    (business or wall-clock, see `business_time`) before `running_since`; `due_at` is when it breaches
    if it keeps running."""

    __tablename__ = "sla_clocks"
    __table_args__ = (
        sa.UniqueConstraint("work_order_id", "target"),
        sa.UniqueConstraint("service_request_id", "target"),
        sa.Index("ix_sla_clocks_due", "status", "due_at"),
    )

    target: Mapped[SlaTarget] = mapped_column(enum_column(SlaTarget))
    work_order_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("work_orders.id"))
    service_request_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("service_requests.id"))
    policy_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("sla_policies.id"))
    calendar_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("sla_calendars.id"))
    business_time: Mapped[bool] = mapped_column(default=False)
    target_minutes: Mapped[int]
    status: Mapped[ClockStatus] = mapped_column(enum_column(ClockStatus), default=ClockStatus.RUNNING)
    started_at: Mapped[datetime]
    running_since: Mapped[datetime | None]
    elapsed_seconds: Mapped[int] = mapped_column(default=0)
    due_at: Mapped[datetime | None]
    agreed_due_at: Mapped[datetime | None]    # on site: the time agreed with the customer (R-SLA-1)
    stopped_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]


class SlaBreach(UUIDPrimaryKey, db.Model):
    """A missed target, recorded once per clock (unique clock_id) when the scan (or the stop) sees it."""

    __tablename__ = "sla_breaches"

    clock_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sla_clocks.id"), unique=True)
    target: Mapped[SlaTarget] = mapped_column(enum_column(SlaTarget))
    work_order_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("work_orders.id"), index=True)
    service_request_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("service_requests.id"), index=True)
    due_at: Mapped[datetime]
    detected_at: Mapped[datetime]
    escalated_to: Mapped[str | None] = mapped_column(sa.String(320))
