"""Photo use cases: resumable (tus) and multipart uploads, content addressing, processing, reading with
access checks. R-INS-2: packaging damage is recorded with photos (kind `packaging_damage`, optionally
linked to the carrier claim).

Rules:
- technicians upload only to visits assigned to them (or work orders they have a visit on); dispatchers and
  admins to any job; nobody else uploads;
- staff (dispatcher, office, admin) read every photo; technicians the photos of their visits' work orders;
  customers the processed photos of their own work orders, and only the copies without metadata;
- the same bytes are stored once (key = SHA-256); the same client photo id with the same bytes is an
  idempotent repeat, with other bytes a conflict;
- a file that is not an allowed, sane image is refused before anything is stored; processing (thumbnails,
  served copy) runs after the original is committed, and its failure only marks the photo;
- an upload session is one login's uploads for one work order; its bytes (unfinished uploads plus stored
  photos) may not exceed MEDIA_SESSION_QUOTA_BYTES.
"""
from __future__ import annotations

import logging
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from fieldservice.audit import service as audit_service
from fieldservice.auth.models import Role
from fieldservice.auth.service import SYSTEM, Actor
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.db import utcnow
from fieldservice.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    PhotoNotProcessed,
    ReferenceNotFound,
    UploadExpired,
    UploadQuotaExceeded,
    ValidationFailed,
)
from fieldservice.extensions import db
from fieldservice.photos.adapters import Media
from fieldservice.photos.models import Photo, PhotoKind, PhotoStatus, Upload, UploadStatus, Variant
from fieldservice.scoping import visible_work_order_ids
from media.errors import ChunkInterrupted, MediaError, NotAnImage, OffsetMismatch, UploadTooLarge
from media.images import inspect_image, make_served_copy, make_variant
from media.storage import blob_key, sha256_file
from media.types import check_allowed_declaration, check_declared
from media.uploads import Checksum, copy_stream

log = logging.getLogger(__name__)

UPLOADERS = (Role.TECHNICIAN, Role.DISPATCHER, Role.ADMIN)
STAFF = (Role.DISPATCHER, Role.OFFICE, Role.ADMIN, Role.TECHNICIAN)
CUSTOMER_VARIANTS = (Variant.DISPLAY, Variant.THUMB_256, Variant.THUMB_1280)
THUMBNAILS = ((Variant.THUMB_256, 256), (Variant.THUMB_1280, 1280))
STALE_PROCESSING = timedelta(minutes=10)
"""A photo still `processing` after this long lost its inline run (worker killed): the CLI picks it up."""


# ---- side effects after commit ---------------------------------------------------------------------------
# Partial files are removed only once the transaction that stops needing them has committed: if it rolls
# back, the upload row still points at them.

_AFTER_COMMIT = "fieldservice.photos.after_commit"


def _after_commit(action: Callable[[], None]) -> None:
    db.session.info.setdefault(_AFTER_COMMIT, []).append(action)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for action in session.info.pop(_AFTER_COMMIT, []):
        try:
            action()
        except Exception:  # noqa: BLE001 - the commit stands; a leftover file is swept by cleanup-uploads
            log.exception("post-commit media action failed")


@event.listens_for(Session, "after_transaction_end")
def _forget_after_commit(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_AFTER_COMMIT, None)


# ---- targets, access, quota ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    work_order_id: uuid.UUID
    visit_id: uuid.UUID | None


def _unknown(field_name: str, what: str, value: uuid.UUID, where: str) -> ReferenceNotFound:
    return ReferenceNotFound(f"{field_name}: no {what} with id {value}", errors={where: {field_name: [f"unknown {what}"]}})


def resolve_target(actor: Actor, *, visit_id: uuid.UUID | None, work_order_id: uuid.UUID | None,
                   where: str) -> Target:
    """The job a photo is for. A technician may name only a visit assigned to them, or a work order they
    have a visit on; anything else is an unknown reference (422), as if it did not exist."""
    from fieldservice.visits import service as visits
    from fieldservice.workorders import service as workorders

    actor.require(*UPLOADERS)
    if actor.role is Role.TECHNICIAN and actor.technician_id is None:
        raise Forbidden("this login has no technician profile, so it has no visits to add photos to")
    if visit_id is not None:
        try:
            visit = visits.get_visit(actor, visit_id)
        except NotFound:
            raise _unknown("visit_id", "visit", visit_id, where) from None
        if actor.role is Role.TECHNICIAN and visit.technician_id != actor.technician_id:
            raise _unknown("visit_id", "visit", visit_id, where)
        if work_order_id is not None and work_order_id != visit.work_order_id:
            raise ValidationFailed("work_order_id does not match the visit's work order",
                                   errors={where: {"work_order_id": ["not the visit's work order"]}})
        return Target(work_order_id=visit.work_order_id, visit_id=visit.id)
    if work_order_id is not None:
        try:
            order = workorders.get_work_order(actor, work_order_id)
        except NotFound:
            raise _unknown("work_order_id", "work order", work_order_id, where) from None
        return Target(work_order_id=order.id, visit_id=None)
    raise ValidationFailed("visit_id or work_order_id is required",
                           errors={where: {"visit_id": ["visit_id or work_order_id is required"]}})


def _check_links(data: dict[str, Any], target: Target, where: str) -> None:
    """A photo's record and carrier claim must be of the photo's own work order: a technician cannot tag
    a photo onto another customer's record or claim (it would list there). Unknown or foreign: 422."""
    from fieldservice.claims.models import CarrierClaim
    from fieldservice.records.models import ServiceRecord

    if data.get("damage_claim_id") and data["kind"] is not PhotoKind.PACKAGING_DAMAGE:
        raise ValidationFailed("damage_claim_id is only for packaging_damage photos (R-INS-2)",
                               errors={where: {"damage_claim_id": ["only with kind packaging_damage"]}})
    for name, model, what in (("record_id", ServiceRecord, "service record"),
                              ("damage_claim_id", CarrierClaim, "carrier claim")):
        value = data.get(name)
        if value is None:
            continue
        owner = db.session.scalar(sa.select(model.work_order_id).where(model.id == value))
        if owner != target.work_order_id:
            raise _unknown(name, f"{what} of this photo's work order", value, where)


def session_bytes(user_id: uuid.UUID | None, work_order_id: uuid.UUID, *, now: datetime,
                  exclude_upload: uuid.UUID | None = None) -> int:
    """Bytes the upload session (user, work order) holds: stored photos plus unfinished, unexpired uploads."""
    pending = sa.select(sa.func.coalesce(sa.func.sum(Upload.upload_length), 0)).where(
        Upload.user_id == user_id, Upload.work_order_id == work_order_id,
        Upload.status == UploadStatus.OPEN, Upload.expires_at > now)
    if exclude_upload is not None:
        pending = pending.where(Upload.id != exclude_upload)
    stored = sa.select(sa.func.coalesce(sa.func.sum(Photo.size_bytes), 0)).where(
        Photo.uploaded_by_user_id == user_id, Photo.work_order_id == work_order_id)
    return int(db.session.scalar(pending) or 0) + int(db.session.scalar(stored) or 0)


def _check_quota(actor: Actor, target: Target, size: int, media: Media, *, now: datetime,
                 exclude_upload: uuid.UUID | None = None) -> None:
    quota = media.settings.session_quota_bytes
    used = session_bytes(actor.user_id, target.work_order_id, now=now, exclude_upload=exclude_upload)
    if used + size > quota:
        raise UploadQuotaExceeded(
            f"this upload session (your uploads for this work order) would hold {used + size} bytes; "
            f"the quota is {quota}", quota_bytes=quota, used_bytes=used)


def _check_photo_id(photo_id: uuid.UUID, target: Target) -> None:
    existing = db.session.get(Photo, photo_id)
    if existing is not None and (existing.work_order_id, existing.visit_id) != (target.work_order_id, target.visit_id):
        raise Conflict(f"photo id {photo_id} is already used for another job", photo_id=str(photo_id))


# ---- storing a verified file -----------------------------------------------------------------------------

@dataclass
class Received:
    """A complete file on local disk, with what the client said about it."""

    path: Path
    sha256: str
    size: int
    photo_id: uuid.UUID
    target: Target
    data: dict[str, Any]                     # kind, record_id, damage_claim_id, captured_at, lat/lon
    filename: str | None
    declared_content_type: str | None
    user_id: uuid.UUID | None
    technician_id: uuid.UUID | None
    upload_id: uuid.UUID | None = None


def _store(actor: Actor, received: Received, media: Media, *, now: datetime) -> tuple[Photo, bool]:
    """Verify the file, store it under its SHA-256 and create the photo record. Returns (photo, created).

    Every check comes before the first write, so a refused file leaves nothing behind. Raises NotAnImage,
    UnsupportedImageType, DeclaredTypeMismatch, ImageTooLarge, CorruptImage, Conflict (photo id reused).
    """
    settings = media.settings
    info = inspect_image(received.path, allowed_formats=settings.allowed_formats, max_pixels=settings.max_pixels)
    check_declared(info.format, received.declared_content_type, received.filename)
    existing = db.session.get(Photo, received.photo_id)
    if existing is not None:
        same_job = (existing.work_order_id, existing.visit_id) == (received.target.work_order_id,
                                                                    received.target.visit_id)
        if existing.sha256 == received.sha256 and same_job:
            log.info("photo %s received again (same bytes): idempotent repeat", existing.id)
            return existing, False
        raise Conflict(f"photo id {received.photo_id} already names a different photo",
                       photo_id=str(received.photo_id))
    # the same bytes under another photo id are linked, not stored again
    media.storage.put_file(blob_key(received.sha256), received.path, info.mime_type)
    data = received.data
    latitude, longitude = info.latitude, info.longitude
    if latitude is None and data.get("latitude") is not None and data.get("longitude") is not None:
        latitude, longitude = data["latitude"], data["longitude"]
    photo = Photo(
        id=received.photo_id, work_order_id=received.target.work_order_id, visit_id=received.target.visit_id,
        record_id=data.get("record_id"), damage_claim_id=data.get("damage_claim_id"), kind=data["kind"],
        sha256=received.sha256, size_bytes=received.size, content_type=info.mime_type,
        declared_content_type=received.declared_content_type, filename=received.filename,
        width=info.width, height=info.height, orientation=info.orientation,
        captured_at=data.get("captured_at"), exif_captured_at=info.captured_at,
        exif_captured_local=info.captured_at_local.isoformat() if info.captured_at_local else None,
        latitude=latitude, longitude=longitude, status=PhotoStatus.PROCESSING,
        uploaded_by_user_id=received.user_id, technician_id=received.technician_id, upload_id=received.upload_id,
    )
    db.session.add(photo)
    db.session.flush()  # a concurrent insert of the same photo id fails here, before anything else
    audit_service.record(actor, "photo.upload", photo, {
        "work_order_id": photo.work_order_id, "visit_id": photo.visit_id, "kind": photo.kind,
        "sha256": photo.sha256, "size_bytes": photo.size_bytes, "content_type": photo.content_type}, at=now)
    return photo, True


# ---- resumable uploads (tus) -----------------------------------------------------------------------------

def create_upload(actor: Actor, data: dict[str, Any], *, length: int, raw_metadata: str | None, media: Media,
                  now: datetime | None = None) -> Upload:
    """Open a resumable upload for one photo. Refused before any byte is sent when the file is too large
    (413), the declared type is not allowed (415), the job is not the caller's (422) or the session quota
    would be exceeded (413)."""
    now = now or utcnow()
    settings = media.settings
    if length > settings.max_upload_bytes:
        raise UploadTooLarge(f"Upload-Length {length} exceeds the maximum of {settings.max_upload_bytes} bytes",
                             max_bytes=settings.max_upload_bytes)
    if length == 0:
        raise NotAnImage("an empty file is not an image")
    check_allowed_declaration(data.get("content_type"), data.get("filename"), settings.allowed_formats)
    target = resolve_target(actor, visit_id=data.get("visit_id"), work_order_id=data.get("work_order_id"),
                            where="metadata")
    _check_links(data, target, "metadata")
    photo_id = data.get("photo_id") or uuid.uuid4()
    _check_photo_id(photo_id, target)
    _check_quota(actor, target, length, media, now=now)
    upload = Upload(
        user_id=actor.user_id, technician_id=actor.technician_id, work_order_id=target.work_order_id,
        visit_id=target.visit_id, record_id=data.get("record_id"), damage_claim_id=data.get("damage_claim_id"),
        kind=data["kind"], photo_id=photo_id, filename=data.get("filename"),
        declared_content_type=data.get("content_type"), captured_at=data.get("captured_at"),
        latitude=data.get("latitude"), longitude=data.get("longitude"), raw_metadata=raw_metadata,
        upload_length=length, upload_offset=0, status=UploadStatus.OPEN,
        expires_at=now + settings.upload_expiry,
    )
    db.session.add(upload)
    db.session.flush()
    media.uploads.create(upload.id)
    log.info("upload %s opened: %d bytes for work order %s", upload.id, length, target.work_order_id)
    return upload


def get_upload(actor: Actor, upload_id: uuid.UUID, *, now: datetime | None = None) -> Upload:
    """The caller's own upload. Someone else's is 404; an unfinished one past its expiry is 410."""
    now = now or utcnow()
    upload = db.session.get(Upload, upload_id)
    if upload is None or upload.user_id != actor.user_id:
        raise NotFound(f"upload {upload_id} not found")
    if upload.status is UploadStatus.OPEN and upload.expires_at <= now:
        raise UploadExpired(f"upload {upload_id} expired at {upload.expires_at.isoformat()}; start a new one")
    return upload


def upload_offset(upload: Upload, media: Media) -> int:
    """The offset a client resumes from: acknowledged bytes that are really on disk (read-only)."""
    if upload.status is UploadStatus.COMPLETE:
        return upload.upload_length
    return min(upload.upload_offset, media.uploads.size(upload.id) or 0)


@dataclass
class ChunkOutcome:
    """What a PATCH did. `error` is raised by the view after the commit: the kept bytes of an interrupted
    chunk are acknowledged, and a refused file's upload is gone, before the client hears about it."""

    upload_id: uuid.UUID
    offset: int
    length: int
    expires_at: datetime | None
    photo_id: uuid.UUID | None = None
    photo_created: bool = False
    photo_status: PhotoStatus | None = None
    error: Exception | None = field(default=None)

    @property
    def complete(self) -> bool:
        return self.photo_id is not None

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def receive_chunk(actor: Actor, upload_id: uuid.UUID, *, offset: int, stream: IO[bytes], content_length: int | None,
                  checksum: Checksum | None, media: Media, now: datetime | None = None) -> ChunkOutcome:
    """Append a chunk at `offset` (tus PATCH). The caller holds the upload's lock.

    A wrong offset is 409 (the client asks HEAD and resumes); a chunk past the declared length is 413; a
    checksum mismatch is 460 and the chunk is discarded. With the last byte the whole file is verified and
    stored (see `_store`); a refused file ends the upload (its row and bytes are removed) and the outcome
    carries the error.
    """
    now = now or utcnow()
    upload = get_upload(actor, upload_id, now=now)
    if upload.status is UploadStatus.COMPLETE:
        if offset != upload.upload_length:
            raise OffsetMismatch(f"the upload is complete at offset {upload.upload_length}",
                                 upload_offset=upload.upload_length)
        if content_length:
            raise UploadTooLarge("the upload is already complete")
        photo = db.session.get(Photo, upload.photo_id)
        return ChunkOutcome(upload.id, upload.upload_length, upload.upload_length, upload.expires_at,
                            photo_id=upload.photo_id, photo_status=photo.status if photo else None)
    acknowledged = media.uploads.reconcile(upload.id, upload.upload_offset)
    if offset != acknowledged:
        raise OffsetMismatch(f"the upload is at offset {acknowledged}, not {offset}; resume from there",
                             upload_offset=acknowledged)
    remaining = upload.upload_length - acknowledged
    if content_length is not None and content_length > remaining:
        raise UploadTooLarge(f"the chunk of {content_length} bytes goes past Upload-Length "
                             f"({remaining} bytes remain)", upload_offset=acknowledged)
    result = media.uploads.append(upload.id, stream, offset=acknowledged, limit=remaining, checksum=checksum)
    if result.offset < upload.upload_length:
        upload.upload_offset = result.offset
        upload.expires_at = now + media.settings.upload_expiry  # still active: expiry counts from the last byte
        error = None
        if result.interrupted is not None:
            error = ChunkInterrupted(f"the request body ended after {result.written} bytes; they are kept, "
                                     f"resume at offset {result.offset}", upload_offset=result.offset)
        return ChunkOutcome(upload.id, result.offset, upload.upload_length, upload.expires_at, error=error)
    return _complete_upload(actor, upload, media, now=now)


def _complete_upload(actor: Actor, upload: Upload, media: Media, *, now: datetime) -> ChunkOutcome:
    upload_id = upload.id
    path = media.uploads.path(upload_id)
    received = Received(
        path=path, sha256=sha256_file(path), size=upload.upload_length, photo_id=upload.photo_id,
        target=Target(upload.work_order_id, upload.visit_id),
        data={"kind": upload.kind, "record_id": upload.record_id, "damage_claim_id": upload.damage_claim_id,
              "captured_at": upload.captured_at, "latitude": upload.latitude, "longitude": upload.longitude},
        filename=upload.filename, declared_content_type=upload.declared_content_type,
        user_id=upload.user_id, technician_id=upload.technician_id, upload_id=upload_id)
    try:
        photo, created = _store(actor, received, media, now=now)
    except (MediaError, DomainError) as err:
        # the file can never become a photo: end the upload, keep nothing
        log.info("upload %s refused: %s", upload_id, err)
        db.session.delete(upload)
        _after_commit(lambda: media.uploads.discard(upload_id))
        return ChunkOutcome(upload_id, upload.upload_offset, upload.upload_length, None, error=err)
    upload.upload_offset = upload.upload_length
    upload.status = UploadStatus.COMPLETE
    upload.completed_at = now
    upload.expires_at = now + media.settings.upload_expiry  # the row answers HEAD until then
    _after_commit(lambda: media.uploads.discard(upload_id))
    return ChunkOutcome(upload_id, upload.upload_length, upload.upload_length, upload.expires_at,
                        photo_id=photo.id, photo_created=created, photo_status=photo.status)


def cancel_upload(actor: Actor, upload_id: uuid.UUID, *, media: Media, now: datetime | None = None) -> None:
    """tus termination: forget the upload and its bytes (a photo it already created stays)."""
    upload = db.session.get(Upload, upload_id)
    if upload is None or upload.user_id != actor.user_id:
        raise NotFound(f"upload {upload_id} not found")
    db.session.delete(upload)
    _after_commit(lambda: media.uploads.discard(upload_id))
    log.info("upload %s cancelled", upload_id)


def expired_upload_ids(*, now: datetime | None = None) -> list[uuid.UUID]:
    """Uploads past their expiry: abandoned unfinished ones, and finished ones no longer needed for HEAD."""
    now = now or utcnow()
    return list(db.session.scalars(sa.select(Upload.id).where(Upload.expires_at <= now).order_by(Upload.expires_at)))


def expire_upload(upload_id: uuid.UUID, *, media: Media, now: datetime | None = None) -> bool:
    """Remove one expired upload and its partial file. False if it is gone or was resumed meanwhile."""
    now = now or utcnow()
    upload = db.session.get(Upload, upload_id)
    if upload is None or upload.expires_at > now:
        return False
    db.session.delete(upload)
    _after_commit(lambda: media.uploads.discard(upload_id))
    return True


def stray_upload_ids(media: Media, *, older_than: timedelta = timedelta(hours=1)) -> list[uuid.UUID]:
    """Partial files with no upload row (a crash between file and commit), untouched for `older_than`."""
    candidates = media.uploads.stray_ids(older_than_seconds=older_than.total_seconds())
    if not candidates:
        return []
    known = set(db.session.scalars(sa.select(Upload.id).where(Upload.id.in_(candidates))))
    return [c for c in candidates if c not in known]


# ---- multipart upload ------------------------------------------------------------------------------------

def create_photo_from_file(actor: Actor, data: dict[str, Any], stream: IO[bytes], *, filename: str | None,
                           content_type: str | None, media: Media, now: datetime | None = None) -> tuple[Photo, bool]:
    """A small photo in one multipart request: the same checks and storage as a finished tus upload.
    Returns (photo, created); created is False for an idempotent repeat of the same photo id and bytes."""
    now = now or utcnow()
    settings = media.settings
    check_allowed_declaration(content_type, filename, settings.allowed_formats)
    target = resolve_target(actor, visit_id=data.get("visit_id"), work_order_id=data.get("work_order_id"),
                            where="form")
    _check_links(data, target, "form")
    photo_id = data.get("photo_id") or uuid.uuid4()
    with media.uploads.spool(stream, limit=settings.max_form_bytes) as (path, sha, size):
        if size == 0:
            raise NotAnImage("an empty file is not an image")
        _check_quota(actor, target, size, media, now=now)
        received = Received(path=path, sha256=sha, size=size, photo_id=photo_id, target=target, data=data,
                            filename=filename, declared_content_type=content_type, user_id=actor.user_id,
                            technician_id=actor.technician_id)
        return _store(actor, received, media, now=now)


# ---- processing ------------------------------------------------------------------------------------------

def process_new_photo(photo_id: uuid.UUID, *, media: Media, now: datetime | None = None) -> Photo | None:
    """Process a photo just stored, unless processing is deferred to `flask media reprocess`."""
    if not media.settings.process_inline:
        return None
    return process_photo(photo_id, media=media, now=now)


def process_photo(photo_id: uuid.UUID, *, media: Media, now: datetime | None = None) -> Photo:
    """Make the served copy (upright, no metadata) and the 256/1280 px thumbnails.

    Variants already made for the same bytes are reused. Any failure (undecodable pixels, storage down)
    marks the photo `processing_failed` with the reason and leaves the original untouched; nothing is raised.
    """
    now = now or utcnow()
    photo = db.session.get(Photo, photo_id)
    if photo is None:
        raise NotFound(f"photo {photo_id} not found")
    if photo.status is PhotoStatus.READY:
        return photo
    twin = db.session.scalar(sa.select(Photo).where(
        Photo.sha256 == photo.sha256, Photo.status == PhotoStatus.READY, Photo.id != photo.id).limit(1))
    try:
        if twin is not None and all(media.storage.exists(k) for k in _keys(twin)):
            keys = _keys(twin)
        else:
            keys = _make_variants(photo.sha256, media)
    except Exception as err:  # noqa: BLE001 - whatever broke, the photo is marked and can be retried
        reason = f"{type(err).__name__}: {err}"[:500]
        log.warning("processing photo %s failed: %s", photo.id, reason)
        photo.status, photo.processing_error = PhotoStatus.PROCESSING_FAILED, reason
        audit_service.record(SYSTEM, "photo.processing_failed", photo, {"reason": reason}, at=now)
        return photo
    photo.display_key, photo.thumb_256_key, photo.thumb_1280_key = keys
    photo.status, photo.processing_error, photo.processed_at = PhotoStatus.READY, None, now
    return photo


def _keys(photo: Photo) -> tuple[str, str, str]:
    return (photo.display_key or "", photo.thumb_256_key or "", photo.thumb_1280_key or "")


def _make_variants(sha256: str, media: Media) -> tuple[str, str, str]:
    settings = media.settings
    limits = {"allowed_formats": settings.allowed_formats, "max_pixels": settings.max_pixels}
    media.uploads.root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=media.uploads.root, prefix="process-") as tmp:
        work = Path(tmp)
        source = _local_original(sha256, media, work)
        made: dict[Variant, Path] = {}
        for variant, side in THUMBNAILS:
            made[variant] = work / f"{variant.value}.jpg"
            make_variant(source, made[variant], max_side=side, **limits)
        made[Variant.DISPLAY] = work / "display.jpg"
        make_served_copy(source, made[Variant.DISPLAY], **limits)
        keys = {}
        for variant, path in made.items():
            keys[variant] = blob_key(sha256, f"{variant.value}.jpg")
            media.storage.put_file(keys[variant], path, "image/jpeg")
    return keys[Variant.DISPLAY], keys[Variant.THUMB_256], keys[Variant.THUMB_1280]


def _local_original(sha256: str, media: Media, work: Path) -> Path:
    """A local path of the original: the file itself for local storage, a streamed copy otherwise."""
    key = blob_key(sha256)
    path_for = getattr(media.storage, "path_for", None)
    if path_for is not None:
        return Path(path_for(key))
    dest = work / "original"
    copy_stream(media.storage.open(key), dest)
    return dest


def photo_ids_to_process(*, now: datetime | None = None, include_failed: bool = True) -> list[uuid.UUID]:
    """Photos whose processing failed, or that have waited longer than STALE_PROCESSING (deferred mode or
    a worker that died mid-way)."""
    now = now or utcnow()
    condition = sa.and_(Photo.status == PhotoStatus.PROCESSING, Photo.updated_at <= now - STALE_PROCESSING)
    if include_failed:
        condition = sa.or_(condition, Photo.status == PhotoStatus.PROCESSING_FAILED)
    return list(db.session.scalars(sa.select(Photo.id).where(condition).order_by(Photo.created_at, Photo.id)))


# ---- reading ---------------------------------------------------------------------------------------------

def _scope(stmt: sa.Select[Any], actor: Actor) -> sa.Select[Any]:
    if actor.role is Role.TECHNICIAN and actor.technician_id is None:
        return stmt.where(sa.false())  # a technician login without a profile has no visits
    visible = visible_work_order_ids(actor)
    if visible is not None:
        stmt = stmt.where(Photo.work_order_id.in_(visible))
    if actor.role is Role.CUSTOMER:
        stmt = stmt.where(Photo.status == PhotoStatus.READY)
    return stmt


def _get_scoped(actor: Actor, photo_id: uuid.UUID) -> Photo:
    photo = db.session.scalar(_scope(sa.select(Photo).where(Photo.id == photo_id), actor))
    if photo is None:
        raise NotFound(f"photo {photo_id} not found")
    return photo


def _variants_for(actor: Actor, photo: Photo) -> list[Variant]:
    available = [v for v in CUSTOMER_VARIANTS if photo.variant_key(v)]
    if actor.role in STAFF:
        available.insert(0, Variant.ORIGINAL)
    return available


def present(actor: Actor, photo: Photo) -> dict[str, Any]:
    """The photo as `actor` may see it: customers get no position, file name or original."""
    out: dict[str, Any] = {
        "id": photo.id, "work_order_id": photo.work_order_id, "visit_id": photo.visit_id,
        "record_id": photo.record_id, "damage_claim_id": photo.damage_claim_id, "kind": photo.kind,
        "status": photo.status, "width": photo.width, "height": photo.height, "captured_at": photo.captured_at,
        "created_at": photo.created_at, "variants": [v.value for v in _variants_for(actor, photo)],
    }
    if actor.role in STAFF:
        out.update({
            "content_type": photo.content_type, "declared_content_type": photo.declared_content_type,
            "size_bytes": photo.size_bytes, "sha256": photo.sha256, "filename": photo.filename,
            "exif_captured_at": photo.exif_captured_at, "exif_captured_local": photo.exif_captured_local,
            "latitude": photo.latitude, "longitude": photo.longitude,
            "processing_error": photo.processing_error, "processed_at": photo.processed_at,
            "uploaded_by_user_id": photo.uploaded_by_user_id, "technician_id": photo.technician_id,
            "updated_at": photo.updated_at,
        })
    return out


def list_photos(actor: Actor, page: PageRequest, *, visit_id: uuid.UUID | None = None,
                work_order_id: uuid.UUID | None = None, kind: PhotoKind | None = None,
                status: PhotoStatus | None = None, record_id: uuid.UUID | None = None,
                damage_claim_id: uuid.UUID | None = None) -> Page:
    stmt = _scope(sa.select(Photo), actor).order_by(Photo.created_at, Photo.id)
    for column, value in ((Photo.visit_id, visit_id), (Photo.work_order_id, work_order_id), (Photo.kind, kind),
                          (Photo.status, status), (Photo.record_id, record_id),
                          (Photo.damage_claim_id, damage_claim_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    result = paginate(stmt, page)
    result.items = [present(actor, p) for p in result.items]
    return result


def get_photo(actor: Actor, photo_id: uuid.UUID) -> dict[str, Any]:
    return present(actor, _get_scoped(actor, photo_id))


@dataclass(frozen=True)
class PhotoContent:
    key: str
    content_type: str
    etag: str
    download_name: str
    expires_in: int


def photo_content(actor: Actor, photo_id: uuid.UUID, variant: Variant, *, media: Media,
                  log_via: str | None = None) -> PhotoContent:
    """Where the bytes of one variant are. Customers never get the original (it carries the GPS position):
    403. A variant not made yet is 409. With `log_via`, a read that is allowed is logged in the archive read
    log as `photo` (R-ARC-3: photos are part of the customer's archive); a refused one logs nothing."""
    photo = _get_scoped(actor, photo_id)
    content = _variant_content(actor, photo, variant, media)
    if log_via is not None:
        from fieldservice.archive import service as archive_service

        archive_service.log_read(actor, "photo", photo.id, via=log_via)
    return content


def _variant_content(actor: Actor, photo: Photo, variant: Variant, media: Media) -> PhotoContent:
    stem = str(photo.id)
    if variant is Variant.ORIGINAL:
        if actor.role not in STAFF:
            raise Forbidden("customers receive the copy without location data; ask for variant=display")
        log.info("original of photo %s read by user %s", photo.id, actor.user_id)
        suffix = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/heif": ".heic"}
        return PhotoContent(blob_key(photo.sha256), photo.content_type, f"{photo.sha256}",
                            stem + suffix.get(photo.content_type, ""), media.settings.url_ttl_seconds)
    key = photo.variant_key(variant)
    if key is None:
        raise PhotoNotProcessed(f"the {variant.value} copy of photo {photo.id} is not available: the photo is "
                                f"{photo.status.value}", photo_status=photo.status.value)
    return PhotoContent(key, "image/jpeg", f"{photo.sha256}-{variant.value}", f"{stem}-{variant.value}.jpg",
                        media.settings.url_ttl_seconds)
