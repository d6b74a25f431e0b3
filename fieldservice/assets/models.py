"""Asset: one installed unit (serial, product, site, install date, warranty)."""
from __future__ import annotations

import enum
import uuid
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.catalog.models import Product
from fieldservice.changes import ChangeTracked
from fieldservice.customers.models import Customer, Site
from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column
from fieldservice.extensions import db


class AssetStatus(enum.StrEnum):
    AWAITING_INSTALLATION = "awaiting_installation"
    IN_SERVICE = "in_service"
    RETIRED = "retired"


class Asset(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    __tablename__ = "assets"
    __table_args__ = (sa.UniqueConstraint("product_id", "serial_number"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    site_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("sites.id"), index=True)
    product_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("products.id"), index=True)
    contract_line_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("sales_contract_lines.id"))
    serial_number: Mapped[str] = mapped_column(sa.String(100), index=True)
    status: Mapped[AssetStatus] = mapped_column(enum_column(AssetStatus), default=AssetStatus.IN_SERVICE)
    install_date: Mapped[date | None]
    warranty_start: Mapped[date | None]
    warranty_end: Mapped[date | None]
    notes: Mapped[str | None] = mapped_column(sa.Text)

    customer: Mapped[Customer] = relationship()
    site: Mapped[Site] = relationship()
    product: Mapped[Product] = relationship()

    def in_warranty(self, on: date) -> bool:
        return bool(self.warranty_start and self.warranty_end and self.warranty_start <= on <= self.warranty_end)
