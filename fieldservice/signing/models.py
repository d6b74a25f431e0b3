"""SigningLink: a single-use, expiring link that lets a customer sign one record version in a browser.
Only the SHA-256 of the token is stored; the token itself is shown once, in the link's URL."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fieldservice.db import UUIDPrimaryKey, utcnow
from fieldservice.extensions import db


class SigningLink(UUIDPrimaryKey, db.Model):
    __tablename__ = "signing_links"

    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    record_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("service_records.id"), index=True)
    language: Mapped[str] = mapped_column(sa.String(8), default="zh")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    signoff_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("signoffs.id"))
    # the PDF of the signed record stays downloadable through the link until then
    pdf_until: Mapped[datetime | None]
