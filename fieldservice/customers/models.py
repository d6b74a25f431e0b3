"""Customer, Contact and Site records."""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.changes import ChangeTracked
from fieldservice.db import Timestamps, UUIDPrimaryKey
from fieldservice.extensions import db


class Customer(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    __tablename__ = "customers"

    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    preferred_language: Mapped[str] = mapped_column(sa.String(8), default="zh")
    notes: Mapped[str | None] = mapped_column(sa.Text)
    is_active: Mapped[bool] = mapped_column(default=True)

    contacts: Mapped[list[Contact]] = relationship(back_populates="customer", order_by="Contact.name")
    sites: Mapped[list[Site]] = relationship(back_populates="customer", order_by="Site.name")


class Contact(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    __tablename__ = "contacts"

    customer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    title: Mapped[str | None] = mapped_column(sa.String(80))
    phone: Mapped[str | None] = mapped_column(sa.String(40))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    is_primary: Mapped[bool] = mapped_column(default=False)

    customer: Mapped[Customer] = relationship(back_populates="contacts")


class Site(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    """Where equipment stands and technicians go."""

    __tablename__ = "sites"

    customer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    address: Mapped[str] = mapped_column(sa.String(300))
    city: Mapped[str | None] = mapped_column(sa.String(100))
    region: Mapped[str | None] = mapped_column(sa.String(100))
    postal_code: Mapped[str | None] = mapped_column(sa.String(20))
    country: Mapped[str] = mapped_column(sa.String(2), default="CN")
    timezone: Mapped[str] = mapped_column(sa.String(64), default="Asia/Shanghai")
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    access_notes: Mapped[str | None] = mapped_column(sa.Text)
    is_active: Mapped[bool] = mapped_column(default=True)

    customer: Mapped[Customer] = relationship(back_populates="sites")
