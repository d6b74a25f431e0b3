"""ServiceRequest."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.customers.models import Customer
from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column
from fieldservice.extensions import db


class Channel(enum.StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    ONLINE = "online"
    WALK_IN = "walk_in"


class RequestStatus(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"            # a consultation answered on the spot (R-CON-1)
    WORK_ORDER_OPENED = "work_order_opened"
    CLOSED = "closed"


class ServiceRequest(UUIDPrimaryKey, Timestamps, db.Model):
    __tablename__ = "service_requests"

    customer_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("customers.id"), index=True)
    site_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("sites.id"))
    asset_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("assets.id"), index=True)
    product_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("products.id"))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    problem: Mapped[str] = mapped_column(sa.Text)
    reported_at: Mapped[datetime]
    reporter_name: Mapped[str | None] = mapped_column(sa.String(120))
    reporter_phone: Mapped[str | None] = mapped_column(sa.String(40))
    status: Mapped[RequestStatus] = mapped_column(enum_column(RequestStatus), default=RequestStatus.OPEN, index=True)
    answer: Mapped[str | None] = mapped_column(sa.Text)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))

    customer: Mapped[Customer] = relationship()
