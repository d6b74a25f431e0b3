"""User accounts and their API tokens (stored hashed)."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column, utcnow
from fieldservice.extensions import db


class Role(enum.StrEnum):
    TECHNICIAN = "technician"
    DISPATCHER = "dispatcher"
    OFFICE = "office"
    PARTS_KEEPER = "parts_keeper"
    ADMIN = "admin"
    CUSTOMER = "customer"


class User(UUIDPrimaryKey, Timestamps, db.Model):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(120))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    is_active: Mapped[bool] = mapped_column(default=True)
    # a customer login sees only this customer's records (R-ARC-3)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("customers.id"))
    # whom this user's SLA breaches escalate to (R-SLA-2): an office, admin or dispatcher login, no cycles
    supervisor_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")


class ApiToken(UUIDPrimaryKey, db.Model):
    """A bearer token. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    label: Mapped[str | None] = mapped_column(sa.String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")

    def is_valid(self, now: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > now


class OfficeSession(UUIDPrimaryKey, db.Model):
    """A login to the office pages. The browser holds a random session id in its (signed) session cookie;
    only the id's SHA-256 is stored. Logout, `flask users revoke-tokens`, a password change and disabling
    the user end it (revoked_at); it also ends OFFICE_SESSION_HOURS after login (expires_at) and after
    OFFICE_SESSION_IDLE_MINUTES without a request (last_seen_at)."""

    __tablename__ = "office_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(sa.String(40))
    address: Mapped[str | None] = mapped_column(sa.String(64))
    user_agent: Mapped[str | None] = mapped_column(sa.String(200))

    user: Mapped[User] = relationship()
