"""ProductLine (what technicians are certified for) and Product (a model of equipment)."""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.changes import ChangeTracked
from fieldservice.db import Timestamps, UUIDPrimaryKey
from fieldservice.extensions import db


class ProductLine(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    __tablename__ = "product_lines"

    code: Mapped[str] = mapped_column(sa.String(40), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)

    products: Mapped[list[Product]] = relationship(back_populates="product_line")


class Product(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    __tablename__ = "products"

    product_line_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("product_lines.id"), index=True)
    model_code: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    warranty_months: Mapped[int] = mapped_column(default=12)
    is_active: Mapped[bool] = mapped_column(default=True)
    # R-INS-4: the installation procedure of this model. Parameters measured at commissioning, each
    # {"name", "unit", "min", "max"} (the expected range), and the checklist's steps (texts), in order.
    commissioning_parameters: Mapped[list[Any]] = mapped_column(sa.JSON, default=list, server_default="[]")
    installation_checklist: Mapped[list[Any]] = mapped_column(sa.JSON, default=list, server_default="[]")

    product_line: Mapped[ProductLine] = relationship(back_populates="products")
