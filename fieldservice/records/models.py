"""ServiceRecord (one version of a record), Signoff (the customer's signature on one version) and the
append-only, hash-chained ArchiveEntry log."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from fieldservice.changes import ChangeTracked
from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column, utcnow
from fieldservice.errors import Conflict
from fieldservice.extensions import db


class RecordKind(enum.StrEnum):
    INSTALLATION_SHEET = "installation_sheet"          # R-INS-1..6
    REPAIR_RECORD = "repair_record"                    # R-REP-3..5
    MAINTENANCE_RECORD = "maintenance_record"          # R-MNT-3
    WORK_ORDER_ACCEPTANCE = "work_order_acceptance"    # R-REP-7
    SATISFACTION_SURVEY = "satisfaction_survey"        # R-FUP-2


class RecordStatus(enum.StrEnum):
    DRAFT = "draft"      # editable by the visit's technician
    SIGNED = "signed"    # immutable (R-SIG-3); a correction is a new version


class SignerRole(enum.StrEnum):
    CUSTOMER = "customer"
    CUSTOMER_REPRESENTATIVE = "customer_representative"


class RecordSigned(Conflict):
    code, title = "record_signed", "The record is signed and cannot change"


class ServiceRecord(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    """One version of a service record. Versions of the same record share `root_id` (the first version's
    id); a correction points at the version it corrects with `previous_version_id`."""

    __tablename__ = "service_records"
    __table_args__ = (
        sa.UniqueConstraint("root_id", "version_no"),
        sa.Index("ix_service_records_visit_kind", "visit_id", "kind"),
        sa.Index("ix_service_records_kind_created", "kind", "created_at"),  # KPI: surveys over a date range
    )

    root_id: Mapped[uuid.UUID] = mapped_column(index=True)
    version_no: Mapped[int] = mapped_column(default=1)
    previous_version_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("service_records.id"), unique=True)
    kind: Mapped[RecordKind] = mapped_column(enum_column(RecordKind))
    status: Mapped[RecordStatus] = mapped_column(enum_column(RecordStatus), default=RecordStatus.DRAFT)
    work_order_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_orders.id"), index=True)
    visit_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    technician_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("technicians.id"), index=True)
    content: Mapped[dict[str, Any]] = mapped_column(default=dict)
    content_sha256: Mapped[str | None] = mapped_column(sa.String(64))   # set when signed
    signed_at: Mapped[datetime | None]
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))

    # optimistic lock: a draft edit names the version it was made from (If-Match / lock_version)
    lock_version: Mapped[int] = mapped_column(default=1)

    signoff: Mapped[Signoff | None] = relationship(back_populates="record", uselist=False)

    __mapper_args__ = {"version_id_col": lock_version}

    @property
    def is_signed(self) -> bool:
        return self.status is RecordStatus.SIGNED

    def require_draft(self) -> None:
        """R-SIG-3: a signed version never changes."""
        if self.is_signed:
            raise RecordSigned(f"record version {self.id} is signed and cannot change; create a correction "
                               f"(POST /api/v1/records/{self.id}/corrections)", record_id=str(self.id))


class Signoff(UUIDPrimaryKey, ChangeTracked, db.Model):
    """The customer's signature on exactly one record version, bound to its canonical content hash."""

    __tablename__ = "signoffs"

    record_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("service_records.id"), unique=True)
    content_sha256: Mapped[str] = mapped_column(sa.String(64))
    signer_name: Mapped[str] = mapped_column(sa.String(120))
    signer_role: Mapped[SignerRole] = mapped_column(enum_column(SignerRole))
    signature_png: Mapped[str | None] = mapped_column(sa.Text)            # base64
    signature_png_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    strokes: Mapped[list[Any] | None] = mapped_column(sa.JSON)
    device_id: Mapped[str] = mapped_column(sa.String(120))
    device_time: Mapped[datetime]
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    signed_at: Mapped[datetime] = mapped_column(default=utcnow)           # server time
    captured_by_user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))

    record: Mapped[ServiceRecord] = relationship(back_populates="signoff")


class ContractMismatchResolution(UUIDPrimaryKey, db.Model):
    """R-INS-3: the back office's decision on one delivered-vs-contract mismatch of an installation job
    (who, when, why). A mismatch (item, expected, found) of the job is open until a resolution names it."""

    __tablename__ = "contract_mismatch_resolutions"

    work_order_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_orders.id"), index=True)
    item: Mapped[str] = mapped_column(sa.String(20))             # model | serial_number | configuration
    expected: Mapped[str] = mapped_column(sa.String(500))        # the contract's value
    found: Mapped[str] = mapped_column(sa.String(500))           # what was delivered (or typed on the sheet)
    resolution: Mapped[str] = mapped_column(sa.String(2000))
    resolved_by_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    resolved_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ArchiveEntry(db.Model):
    """Append-only log: hash = sha256(prev_hash + canonical entry). Rows are never updated or deleted."""

    __tablename__ = "archive_log"

    seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    at: Mapped[datetime]
    actor_user_id: Mapped[uuid.UUID | None]
    actor_name: Mapped[str] = mapped_column(sa.String(120))
    action: Mapped[str] = mapped_column(sa.String(60))
    entity_type: Mapped[str] = mapped_column(sa.String(60))
    entity_id: Mapped[uuid.UUID] = mapped_column(index=True)
    payload_sha256: Mapped[str] = mapped_column(sa.String(64))
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    mac: Mapped[str | None] = mapped_column(sa.String(64))  # HMAC-SHA256 with ARCHIVE_HMAC_KEY (integrity/links.py)
