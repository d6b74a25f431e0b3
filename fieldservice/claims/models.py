"""CarrierClaim: a claim against the carrier for goods damaged in transport (R-INS-2)."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column
from fieldservice.extensions import db


class ClaimStatus(enum.StrEnum):
    OPEN = "open"             # created from the installation sheet; the office prepares it
    SUBMITTED = "submitted"   # sent to the carrier
    SETTLED = "settled"       # the carrier paid (amount)
    REJECTED = "rejected"     # the carrier refused


CLAIM_TRANSITIONS: dict[ClaimStatus, tuple[ClaimStatus, ...]] = {
    ClaimStatus.OPEN: (ClaimStatus.SUBMITTED,),
    ClaimStatus.SUBMITTED: (ClaimStatus.SETTLED, ClaimStatus.REJECTED),
    ClaimStatus.SETTLED: (),
    ClaimStatus.REJECTED: (),
}


class CarrierClaim(UUIDPrimaryKey, Timestamps, db.Model):
    """One claim per installation sheet (all versions of it share `record_root_id`)."""

    __tablename__ = "carrier_claims"

    record_root_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    record_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("service_records.id"))  # the version that reported it
    work_order_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_orders.id"), index=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    status: Mapped[ClaimStatus] = mapped_column(enum_column(ClaimStatus), default=ClaimStatus.OPEN)
    description: Mapped[str | None] = mapped_column(sa.Text)
    photo_ids: Mapped[list[Any]] = mapped_column(default=list)
    carrier_name: Mapped[str | None] = mapped_column(sa.String(200))
    waybill_no: Mapped[str | None] = mapped_column(sa.String(100))
    amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)   # claimed amount, minor units
    settled_amount_minor: Mapped[int | None] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")
    notes: Mapped[str | None] = mapped_column(sa.Text)
    status_changed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
