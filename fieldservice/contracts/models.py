"""SalesContract and its lines."""
from __future__ import annotations

import enum
import uuid
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column
from fieldservice.extensions import db


class SalesChannel(enum.StrEnum):
    DIRECT = "direct"
    DEALER = "dealer"
    ONLINE = "online"
    TENDER = "tender"
    OTHER = "other"


class ContractStatus(enum.StrEnum):
    ACTIVE = "active"
    ENDED = "ended"            # ran out (or was ended) on `ended_on`: contract maintenance plans stop then
    CANCELLED = "cancelled"    # cancelled: its maintenance plans are cancelled at once


class SalesContract(UUIDPrimaryKey, Timestamps, db.Model):
    __tablename__ = "sales_contracts"

    number: Mapped[str] = mapped_column(sa.String(60), unique=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    signed_on: Mapped[date]
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")
    notes: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[ContractStatus] = mapped_column(enum_column(ContractStatus), default=ContractStatus.ACTIVE,
                                                   server_default=ContractStatus.ACTIVE.value)
    ended_on: Mapped[date | None]
    end_reason: Mapped[str | None] = mapped_column(sa.String(500))

    lines: Mapped[list[SalesContractLine]] = relationship(
        back_populates="contract", order_by="SalesContractLine.position", cascade="all, delete-orphan")


class SalesContractLine(UUIDPrimaryKey, Timestamps, db.Model):
    __tablename__ = "sales_contract_lines"

    contract_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sales_contracts.id"), index=True)
    position: Mapped[int] = mapped_column(default=1)
    product_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("products.id"))
    configuration: Mapped[str | None] = mapped_column(sa.String(500))
    serial_number: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    quantity: Mapped[int] = mapped_column(default=1)
    unit_price_minor: Mapped[int] = mapped_column(sa.BigInteger)
    channel: Mapped[SalesChannel] = mapped_column(enum_column(SalesChannel), default=SalesChannel.DIRECT)
    sale_date: Mapped[date]
    production_date: Mapped[date | None]
    ship_date: Mapped[date | None]

    contract: Mapped[SalesContract] = relationship(back_populates="lines")
