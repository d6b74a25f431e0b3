"""Photo (a stored, content-addressed image linked to a job) and Upload (a resumable upload in progress)."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fieldservice.changes import ChangeTracked
from fieldservice.db import Timestamps, UUIDPrimaryKey, enum_column
from fieldservice.extensions import db


class PhotoKind(enum.StrEnum):
    PACKAGING_DAMAGE = "packaging_damage"  # R-INS-2: evidence for a claim against the carrier
    INSTALLED_UNIT = "installed_unit"
    FAULT = "fault"
    REPLACED_PART = "replaced_part"
    FINISHED_WORK = "finished_work"
    OTHER = "other"


class PhotoStatus(enum.StrEnum):
    PROCESSING = "processing"                # original stored; thumbnails and served copy not yet made
    READY = "ready"                          # every variant stored
    PROCESSING_FAILED = "processing_failed"  # the original is safe; see processing_error, retry with the CLI


class Variant(enum.StrEnum):
    ORIGINAL = "original"      # the bytes as uploaded, metadata (GPS) included: staff only
    DISPLAY = "display"        # full size, upright, no metadata: what customers get
    THUMB_256 = "thumb-256"
    THUMB_1280 = "thumb-1280"


class Photo(UUIDPrimaryKey, Timestamps, ChangeTracked, db.Model):
    """A photo from the field. `id` is the phone's own id (created offline); bytes live in media storage
    under their SHA-256, so the same bytes linked twice are stored once. `created_at` is the server's
    receive time, `captured_at` the device's."""

    __tablename__ = "photos"

    work_order_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_orders.id"), index=True)
    visit_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("visits.id"), index=True)
    # the service record (installation sheet, repair record, ...) the photo belongs to: issue 6
    record_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # R-INS-2: the carrier claim a packaging-damage photo supports (claims arrive with issue 6)
    damage_claim_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    kind: Mapped[PhotoKind] = mapped_column(enum_column(PhotoKind))

    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger)
    content_type: Mapped[str] = mapped_column(sa.String(100))          # the real type, from the bytes
    declared_content_type: Mapped[str | None] = mapped_column(sa.String(100))
    filename: Mapped[str | None] = mapped_column(sa.String(255))
    width: Mapped[int]                                                  # as displayed (EXIF orientation applied)
    height: Mapped[int]
    orientation: Mapped[int] = mapped_column(default=1)

    captured_at: Mapped[datetime | None]                # device time given by the phone
    exif_captured_at: Mapped[datetime | None]           # from EXIF, when it records its UTC offset
    exif_captured_local: Mapped[str | None] = mapped_column(sa.String(19))  # EXIF wall clock, zone unknown
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)

    status: Mapped[PhotoStatus] = mapped_column(enum_column(PhotoStatus), default=PhotoStatus.PROCESSING, index=True)
    processing_error: Mapped[str | None] = mapped_column(sa.String(500))
    processed_at: Mapped[datetime | None]
    display_key: Mapped[str | None] = mapped_column(sa.String(200))
    thumb_256_key: Mapped[str | None] = mapped_column(sa.String(200))
    thumb_1280_key: Mapped[str | None] = mapped_column(sa.String(200))

    uploaded_by_user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id"))
    technician_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("technicians.id"), index=True)
    upload_id: Mapped[uuid.UUID | None]                  # the tus upload it came from (None: multipart)

    def variant_key(self, variant: Variant) -> str | None:
        return {
            Variant.DISPLAY: self.display_key,
            Variant.THUMB_256: self.thumb_256_key,
            Variant.THUMB_1280: self.thumb_1280_key,
        }.get(variant)


class UploadStatus(enum.StrEnum):
    OPEN = "open"              # bytes still coming
    COMPLETE = "complete"      # every byte received and the photo created (kept until expiry for HEAD)


class Upload(UUIDPrimaryKey, Timestamps, db.Model):
    """A tus upload. The partial file sits in MEDIA_ROOT/uploads; `upload_offset` counts the bytes
    acknowledged to the client. Not synced: the phone learns the photo through the photos table."""

    __tablename__ = "uploads"
    __table_args__ = (sa.Index("ix_uploads_session", "user_id", "work_order_id", "status"),)

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id"))
    technician_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("technicians.id"))
    work_order_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("work_orders.id"))
    visit_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("visits.id"))
    record_id: Mapped[uuid.UUID | None]
    damage_claim_id: Mapped[uuid.UUID | None]
    kind: Mapped[PhotoKind] = mapped_column(enum_column(PhotoKind))
    photo_id: Mapped[uuid.UUID] = mapped_column(index=True)   # the photo this upload will create
    filename: Mapped[str | None] = mapped_column(sa.String(255))
    declared_content_type: Mapped[str | None] = mapped_column(sa.String(100))
    captured_at: Mapped[datetime | None]
    latitude: Mapped[float | None] = mapped_column(sa.Float)
    longitude: Mapped[float | None] = mapped_column(sa.Float)
    raw_metadata: Mapped[str | None] = mapped_column(sa.Text)  # echoed in HEAD, as tus requires

    upload_length: Mapped[int] = mapped_column(sa.BigInteger)
    upload_offset: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    status: Mapped[UploadStatus] = mapped_column(enum_column(UploadStatus), default=UploadStatus.OPEN)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    completed_at: Mapped[datetime | None]
