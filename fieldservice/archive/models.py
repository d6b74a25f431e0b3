"""ArchiveRead: the append-only log of every read of the customer service archive (R-ARC-3)."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fieldservice.db import UUIDPrimaryKey, utcnow
from fieldservice.extensions import db
from fieldservice.integrity.links import ChainLinks

VIA = ("api", "page")   # through which door: the JSON API, or a server-rendered page (office or signing link)
# what a read log row names (R-ARC-3); `GET /api/v1/archive/reads?entity_type=` accepts exactly these
ENTITY_TYPES = ("search", "customer", "asset", "serial", "service_record", "record_canonical", "record_list",
                "signoff", "photo", "work_order_report", "return_case")


class ArchiveRead(UUIDPrimaryKey, ChainLinks, db.Model):
    """Who read what, when, and through which door (api or page). Rows are only ever inserted, and are
    hash-chained at commit (fieldservice/integrity/links.py)."""

    __tablename__ = "archive_reads"
    __table_args__ = (sa.Index("ix_archive_reads_entity", "entity_type", "entity_id"),)

    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    actor_name: Mapped[str] = mapped_column(sa.String(120))
    actor_role: Mapped[str] = mapped_column(sa.String(32))
    entity_type: Mapped[str] = mapped_column(sa.String(40))
    entity_id: Mapped[str] = mapped_column(sa.String(200))   # a UUID, or the searched serial/query
    via: Mapped[str] = mapped_column(sa.String(10))          # api | page


class ArchiveReadImmutable(RuntimeError):
    """The read log is append-only: the ORM refuses to change or delete a row."""


@sa.event.listens_for(ArchiveRead, "before_update")
@sa.event.listens_for(ArchiveRead, "before_delete")
def _append_only(mapper: object, connection: object, target: ArchiveRead) -> None:
    raise ArchiveReadImmutable(f"archive read {target.id} cannot be changed or deleted (append-only log)")
