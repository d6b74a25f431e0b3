"""One row per change made through a service."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fieldservice.db import UUIDPrimaryKey, utcnow
from fieldservice.extensions import db
from fieldservice.integrity.links import ChainLinks


class AuditEvent(UUIDPrimaryKey, ChainLinks, db.Model):
    """Hash-chained at commit (fieldservice/integrity/links.py); `flask verify-archive` checks the chain."""

    __tablename__ = "audit_events"
    __table_args__ = (sa.Index("ix_audit_events_entity", "entity_type", "entity_id"),)

    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(sa.String(32))
    actor_name: Mapped[str] = mapped_column(sa.String(120))
    action: Mapped[str] = mapped_column(sa.String(80))
    entity_type: Mapped[str] = mapped_column(sa.String(60))
    entity_id: Mapped[uuid.UUID]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
