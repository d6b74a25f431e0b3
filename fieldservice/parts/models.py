"""Parts catalog, stock locations, the append-only movement ledger, balances, stocktakes, defective returns."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.changes import ChangeTracked
from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column, utcnow
from fieldservice.extensions import db


class Part(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    """A catalog entry. Only genuine or company-approved parts may be issued to jobs (R-REP-6)."""

    __tablename__ = "parts"

    part_number: Mapped[str] = mapped_column(sa.String(60), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    is_approved: Mapped[bool] = mapped_column(default=True)   # genuine or company-approved (R-REP-6)
    unit_cost_minor: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")
    safety_stock: Mapped[int] = mapped_column(default=0)      # per warehouse location (R-PRT-1)
    serial_tracked: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (sa.CheckConstraint("safety_stock >= 0", name="safety_stock_not_negative"),
                      sa.CheckConstraint("unit_cost_minor >= 0", name="unit_cost_not_negative"))


class LocationKind(enum.StrEnum):
    WAREHOUSE = "warehouse"
    VAN = "van"                # one technician's van (R-PRT-1)
    QUARANTINE = "quarantine"  # defective parts waiting for quality control (R-REP-9); never issued from


class StockLocation(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    __tablename__ = "stock_locations"

    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[LocationKind] = mapped_column(enum_column(LocationKind))
    technician_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("technicians.id"), unique=True)
    is_active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (sa.CheckConstraint("(kind = 'van') = (technician_id IS NOT NULL)", name="van_has_technician"),)


class MovementKind(enum.StrEnum):
    RECEIVE = "receive"                        # into stock from a supplier
    TRANSFER = "transfer"                      # two legs (-from, +to) sharing one group_id
    ISSUE = "issue"                            # used on a job (work order), from the technician's van
    RETURN = "return"                          # back from a job into a location
    ADJUST = "adjust"                          # manual correction or a stocktake difference
    QUARANTINE = "quarantine"                  # a defective part taken in for quality control (R-REP-9)
    SCRAP = "scrap"                            # out of quarantine after assessment
    RETURN_TO_SUPPLIER = "return_to_supplier"  # out of quarantine after assessment


class StockMovement(UUIDPrimaryKey, ChangeTracked, db.Model):
    """One line of the ledger: `quantity` units of a part into (+) or out of (-) a location. Never updated
    or deleted; on-hand is the sum of the lines (and kept in StockBalance in the same transaction)."""

    __tablename__ = "stock_movements"

    group_id: Mapped[uuid.UUID] = mapped_column(index=True)     # the legs of one transfer share it
    kind: Mapped[MovementKind] = mapped_column(enum_column(MovementKind, length=24))
    part_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("parts.id"))
    location_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("stock_locations.id"))
    quantity: Mapped[int]
    work_order_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("work_orders.id"), index=True)
    visit_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("visits.id"))
    serial_numbers: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    stock_count_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("stock_counts.id"))
    defective_return_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("defective_returns.id"))
    technician_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("technicians.id"))
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    device_time: Mapped[datetime | None]   # for issues pushed from a phone
    received_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # sync bookkeeping (the phone pushes issues as records of this table)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    part: Mapped[Part] = relationship()
    location: Mapped[StockLocation] = relationship()

    __table_args__ = (
        sa.CheckConstraint("quantity <> 0", name="quantity_not_zero"),
        sa.Index("ix_stock_movements_part_location", "part_id", "location_id", "occurred_at"),
        sa.Index("ix_stock_movements_kind_occurred", "kind", "occurred_at"),
    )


class StockBalance(UUIDPrimaryKey, ChangeTracked, db.Model):
    """On-hand per (part, location): the ledger's sum, updated under a row lock in the movement's
    transaction. The CHECK makes a negative balance impossible even for a path that forgot the rule."""

    __tablename__ = "stock_balances"

    part_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("parts.id"))
    location_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("stock_locations.id"), index=True)
    on_hand: Mapped[int] = mapped_column(default=0)
    # below safety stock since the breach numbered `breach_no` (one reorder notification per breach)
    below_safety: Mapped[bool] = mapped_column(default=False)
    breach_no: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("part_id", "location_id"),
        sa.CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
    )


class PartSerialStatus(enum.StrEnum):
    IN_STOCK = "in_stock"
    ISSUED = "issued"
    QUARANTINED = "quarantined"
    GONE = "gone"              # scrapped or returned to the supplier


class PartSerial(UUIDPrimaryKey, db.Model):
    """Where one unit of a serial-tracked part is."""

    __tablename__ = "part_serials"

    part_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("parts.id"))
    serial_number: Mapped[str] = mapped_column(sa.String(80))
    status: Mapped[PartSerialStatus] = mapped_column(enum_column(PartSerialStatus))
    location_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("stock_locations.id"))
    work_order_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("work_orders.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (sa.UniqueConstraint("part_id", "serial_number"),)


class StockCountStatus(enum.StrEnum):
    RECORDED = "recorded"
    POSTED = "posted"


class StockCount(UUIDPrimaryKey, Timestamps, db.Model):
    """A stocktake count sheet for one location (R-PRT-1): counts recorded, then posted as adjustments."""

    __tablename__ = "stock_counts"

    location_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("stock_locations.id"), index=True)
    status: Mapped[StockCountStatus] = mapped_column(enum_column(StockCountStatus), default=StockCountStatus.RECORDED)
    counted_at: Mapped[datetime]
    counted_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    posted_at: Mapped[datetime | None]
    posted_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))

    lines: Mapped[list[StockCountLine]] = relationship(back_populates="count", order_by="StockCountLine.part_id",
                                                       cascade="all, delete-orphan")


class StockCountLine(UUIDPrimaryKey, db.Model):
    __tablename__ = "stock_count_lines"

    stock_count_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("stock_counts.id"))
    part_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("parts.id"))
    counted: Mapped[int]
    ledger_on_hand: Mapped[int | None]     # what the ledger said when the sheet was posted
    difference: Mapped[int | None]         # counted - ledger_on_hand, posted as an adjust movement

    count: Mapped[StockCount] = relationship(back_populates="lines")

    __table_args__ = (sa.UniqueConstraint("stock_count_id", "part_id"),
                      sa.CheckConstraint("counted >= 0", name="counted_not_negative"))


class DefectStatus(enum.StrEnum):
    QUARANTINED = "quarantined"   # tagged and held at a quarantine location
    ASSESSED = "assessed"         # quality control decided; the outcome is not carried out yet
    CLOSED = "closed"             # outcome carried out (scrapped, sent back, restocked)


class ResponsibleParty(enum.StrEnum):
    OWN = "own"            # our own part / workmanship
    SUPPLIER = "supplier"  # the supplier's part (a quality claim against them)


class DefectOutcome(enum.StrEnum):
    SCRAP = "scrap"
    RETURN_TO_SUPPLIER = "return_to_supplier"
    REPAIR = "repair"      # repaired, then restocked
    RESTOCK = "restock"    # found good, restocked


class DefectiveReturn(UUIDPrimaryKey, Timestamps, db.Model):
    """A defective part removed under warranty (R-REP-9): tagged, quarantined, assessed by QC."""

    __tablename__ = "defective_returns"

    tag: Mapped[str] = mapped_column(sa.String(40), unique=True)
    part_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("parts.id"))
    serial_number: Mapped[str | None] = mapped_column(sa.String(80))
    work_order_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_orders.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(1000))
    status: Mapped[DefectStatus] = mapped_column(enum_column(DefectStatus), default=DefectStatus.QUARANTINED, index=True)
    quarantine_location_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("stock_locations.id"))
    tagged_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    responsible_party: Mapped[ResponsibleParty | None] = mapped_column(enum_column(ResponsibleParty))
    outcome: Mapped[DefectOutcome | None] = mapped_column(enum_column(DefectOutcome))
    assessment_notes: Mapped[str | None] = mapped_column(sa.Text)
    assessed_at: Mapped[datetime | None]
    assessed_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    closed_at: Mapped[datetime | None]
    restock_location_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("stock_locations.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
