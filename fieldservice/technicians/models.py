"""Technician and Certification."""
from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.catalog.models import ProductLine
from fieldservice.db import Timestamps, UUIDPrimaryKey
from fieldservice.extensions import db


class Technician(UUIDPrimaryKey, Timestamps, db.Model):
    __tablename__ = "technicians"

    user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    home_base: Mapped[str | None] = mapped_column(sa.String(200))
    is_active: Mapped[bool] = mapped_column(default=True)

    certifications: Mapped[list[Certification]] = relationship(
        back_populates="technician", order_by="Certification.expires_on")


class Certification(UUIDPrimaryKey, Timestamps, db.Model):
    """A licence to work on one product line, valid from `issued_on` to `expires_on` inclusive."""

    __tablename__ = "certifications"

    technician_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("technicians.id"), index=True)
    product_line_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("product_lines.id"), index=True)
    certificate_number: Mapped[str | None] = mapped_column(sa.String(60))
    issued_on: Mapped[date]
    expires_on: Mapped[date]
    revoked_at: Mapped[datetime | None]

    technician: Mapped[Technician] = relationship(back_populates="certifications")
    product_line: Mapped[ProductLine] = relationship()

    def covers(self, product_line_id: uuid.UUID, start: date, end: date) -> bool:
        """Valid for the whole of [start, end] on this product line (R-TEC-1)."""
        return (self.product_line_id == product_line_id and self.revoked_at is None
                and self.issued_on <= start and end <= self.expires_on)
