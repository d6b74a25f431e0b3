"""Service-record use cases: drafts, corrections, the customer's sign-off and reading the archive.

Rules: R-INS-1..6, R-REP-3..7, R-MNT-3 (content, see schemas.py), R-SIG-1 (the signature is bound to
the SHA-256 of the record's canonical JSON), R-SIG-2 (no sign-off before the work is complete), R-SIG-3
(a signed version never changes; a correction is a new version; every version and signature is in the
hash-chained archive log), R-ARC-3 (customers read only their own records).
"""
from __future__ import annotations

import base64
import binascii
import io
import logging
import uuid
from datetime import date, datetime
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from PIL import Image

from fieldservice.archive import service as archive_service
from fieldservice.assets import service as assets_service
from fieldservice.assets.models import Asset, AssetStatus
from fieldservice.audit import service as audit_service
from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.claims import service as claims_service
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.db import utcnow
from fieldservice.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    ReferenceNotFound,
    ValidationFailed,
)
from fieldservice.extensions import db
from fieldservice.lifecycle import gate
from fieldservice.lifecycle import service as lifecycle
from fieldservice.lifecycle.events import RecordSigned, publish
from fieldservice.photos.models import Photo
from fieldservice.records import archive, installation
from fieldservice.records.canonical import (
    canonical_bytes,
    canonical_sha256,
    normalise,
    photo_ids_in,
    sha256_hex,
)
from fieldservice.records.models import (
    ContractMismatchResolution,
    RecordKind,
    RecordStatus,
    ServiceRecord,
    Signoff,
)
from fieldservice.records.schemas import CONTENT_SCHEMAS
from fieldservice.scoping import UNRESTRICTED
from fieldservice.visits import service as visits_service
from fieldservice.visits.models import Visit
from fieldservice.workorders import service as workorders
from fieldservice.workorders.models import WorkOrder, WorkOrderKind, WorkOrderStatus

log = logging.getLogger(__name__)

S = WorkOrderStatus
CANONICAL_SCHEMA = "fieldservice.record/1"
MAX_PNG_BYTES = 512 * 1024
MAX_PNG_SIDE = 4000
ORDER_KIND_FOR = {
    RecordKind.INSTALLATION_SHEET: WorkOrderKind.INSTALLATION,
    RecordKind.REPAIR_RECORD: WorkOrderKind.REPAIR,
    RecordKind.MAINTENANCE_RECORD: WorkOrderKind.MAINTENANCE,
}


class AlreadySigned(Conflict):
    code, title = "already_signed", "This record version is already signed"


class ContentHashMismatch(Conflict):
    code, title = "content_hash_mismatch", "The signed content differs from the server's record"


class NoOpenMismatch(Conflict):
    code, title = "no_open_mismatch", "No such open contract mismatch"


class MismatchAmbiguous(Conflict):
    code, title = "mismatch_ambiguous", "Several open contract mismatches match"


class AssetIdentityConflict(Conflict):
    """R-INS-6: signing never rewrites the asset's contract identity silently."""

    code, title = "asset_serial_differs", "The installed serial differs from the asset's"


class RecordSuperseded(Conflict):
    code, title = "record_superseded", "A newer version of this record exists"


class DraftVersionStale(Conflict):
    """The draft changed since the client read it (body `lock_version`): nothing was overwritten."""

    code, title = "stale_version", "The record was changed by someone else"


class DraftPreconditionFailed(DomainError):
    """The draft changed since the client read it (`If-Match` ETag): nothing was overwritten."""

    status, code, title = 412, "precondition_failed", "The record was changed by someone else"


class DraftVersionRequired(DomainError):
    status, code, title = 428, "precondition_required", "Send the version you edited"


def etag(record: ServiceRecord) -> str:
    """The draft's ETag: its lock version, quoted (sent on GET and PATCH, checked by If-Match)."""
    return f'"{record.lock_version}"'


def _parse_if_match(value: str) -> int | None:
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    return int(text) if text.isdigit() and len(text) < 12 else None


def check_lock_version(record: ServiceRecord, *, lock_version: int | None, if_match: str | None) -> None:
    """Optimistic locking of drafts: the edit names the version it was made from (body `lock_version` or
    an `If-Match` ETag); a stale one is refused (409 / 412) naming the current version, nothing changes."""
    current = record.lock_version
    if if_match is not None:
        expected = _parse_if_match(if_match)
        if expected is None:
            raise ValidationFailed(f"If-Match {if_match[:40]!r} is not an ETag of this record (e.g. \"{current}\")",
                                   errors={"headers": {"If-Match": ["not a record ETag"]}})
        if expected != current:
            raise DraftPreconditionFailed(f"If-Match names version {expected}; the current version is {current}. "
                                          f"Reload the record and apply your change to it.",
                                          current_version=current, current_etag=etag(record))
    if lock_version is not None and lock_version != current:
        raise DraftVersionStale(f"lock_version {lock_version} is stale; the current version is {current}. "
                                f"Reload the record and apply your change to it.",
                                current_version=current, current_etag=etag(record))
    if if_match is None and lock_version is None:
        raise DraftVersionRequired(f"send the version you edited: header If-Match: \"{current}\" (the ETag of "
                                   f"GET /api/v1/records/{record.id}) or lock_version in the body",
                                   current_version=current)


# ---- content --------------------------------------------------------------------------------------

def validate_content(kind: RecordKind, content: dict[str, Any]) -> dict[str, Any]:
    """The content as stored: checked against the kind's schema, in plain JSON values."""
    try:
        loaded = CONTENT_SCHEMAS[kind]().load(content)
    except ma.ValidationError as err:
        raise ValidationFailed(f"content does not fit a {kind.value}",
                               errors={"json": {"content": err.messages}}) from err
    return normalise(loaded)


def _content_for(order: WorkOrder, kind: RecordKind, content: dict[str, Any]) -> dict[str, Any]:
    """A draft's content as stored: its kind's schema, an installation sheet against the order's product
    (R-INS-4: its commissioning parameters and checklist), photos of this work order. 422 otherwise."""
    content = validate_content(kind, content)
    if kind is RecordKind.INSTALLATION_SHEET:
        errors = installation.product_content_errors(content, order.product)
        if errors:
            raise ValidationFailed(f"the installation sheet does not follow the procedure of product "
                                   f"{order.product.model_code}", errors={"json": {"content": errors}})
    _photo_hashes(order.id, content)
    return content


_photo_ids = photo_ids_in


def _photo_hashes(work_order_id: uuid.UUID, content: dict[str, Any]) -> dict[str, str]:
    """{photo id: sha256} for the photos the content names; each must belong to the record's work order."""
    ids = sorted(set(_photo_ids(content)))
    if not ids:
        return {}
    rows = db.session.execute(sa.select(Photo.id, Photo.sha256, Photo.work_order_id)
                              .where(Photo.id.in_([uuid.UUID(i) for i in ids]))).all()
    hashes = {str(r.id): r.sha256 for r in rows if r.work_order_id == work_order_id}
    unknown = [i for i in ids if i not in hashes]
    if unknown:
        raise ReferenceNotFound(f"content: no photo of this work order with id {', '.join(unknown)}",
                                errors={"json": {"content": {"photo_ids": [f"unknown photo {i}" for i in unknown]}}})
    return hashes


def _with_photo_hashes(value: Any, hashes: dict[str, str]) -> Any:
    """Photos are signed by content: every `photo_ids` list becomes `photo_sha256` (same order)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "photo_ids" and isinstance(item, list):
                out["photo_sha256"] = [hashes[str(i)] for i in item]
            else:
                out[key] = _with_photo_hashes(item, hashes)
        return out
    if isinstance(value, list):
        return [_with_photo_hashes(v, hashes) for v in value]
    return value


def canonical_document(record: ServiceRecord, content: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the customer signs (docs/signoffs.md); `content` instead of the stored one, to check what a
    phone says the customer saw."""
    content = record.content if content is None else content
    hashes = _photo_hashes(record.work_order_id, content)
    return {
        "schema": CANONICAL_SCHEMA,
        "record_id": record.id,
        "kind": record.kind.value,
        "version_no": record.version_no,
        "previous_version_id": record.previous_version_id,
        "work_order_id": record.work_order_id,
        "visit_id": record.visit_id,
        "content": _with_photo_hashes(content, hashes),
    }


def content_hash(record: ServiceRecord) -> str:
    return canonical_sha256(canonical_document(record))


def signoff_document(signoff: Signoff) -> dict[str, Any]:
    """What the archive log binds for a signature (the PNG and strokes by their hashes)."""
    return {
        "record_id": signoff.record_id, "content_sha256": signoff.content_sha256,
        "signer_name": signoff.signer_name, "signer_role": signoff.signer_role.value,
        "signature_png_sha256": signoff.signature_png_sha256,
        "strokes_sha256": canonical_sha256(signoff.strokes) if signoff.strokes else None,
        "device_id": signoff.device_id, "device_time": signoff.device_time,
        "latitude": signoff.latitude, "longitude": signoff.longitude, "signed_at": signoff.signed_at,
    }


# ---- access ---------------------------------------------------------------------------------------

def _can_read(actor: Actor, record: ServiceRecord) -> bool:
    if actor.role in UNRESTRICTED:
        return True
    if actor.role is Role.TECHNICIAN:
        if actor.technician_id is None:
            return False
        if record.technician_id == actor.technician_id:
            return True
        return db.session.get(Visit, record.visit_id).technician_id == actor.technician_id  # type: ignore[union-attr]
    if actor.role is Role.CUSTOMER:
        order = db.session.get(WorkOrder, record.work_order_id)
        return order is not None and actor.customer_id is not None and order.customer_id == actor.customer_id
    return False


def get_record(actor: Actor, record_id: uuid.UUID, *, log_via: str | None = None) -> ServiceRecord:
    """One record version with all versions of the record (R-ARC-3: a customer sees only their own; the
    read is logged in the archive read log when `log_via` says through which door it came)."""
    record = db.session.get(ServiceRecord, record_id)
    if record is None or not _can_read(actor, record):
        raise NotFound(f"record {record_id} not found")
    if log_via is not None:
        archive_service.log_read(actor, "service_record", record.id, via=log_via)
    record.versions = list(db.session.scalars(  # type: ignore[attr-defined]
        sa.select(ServiceRecord).where(ServiceRecord.root_id == record.root_id).order_by(ServiceRecord.version_no)))
    return record


def list_records(actor: Actor, page: PageRequest, *, visit_id: uuid.UUID | None = None,
                 work_order_id: uuid.UUID | None = None, log_via: str | None = None) -> Page:
    """One page of the record versions of a visit or work order in the actor's scope; with `log_via`, the
    listing is logged in the archive read log (entity `record_list`, the filter as the id)."""
    stmt = sa.select(ServiceRecord).order_by(ServiceRecord.created_at, ServiceRecord.version_no, ServiceRecord.id)
    if visit_id:
        stmt = stmt.where(ServiceRecord.visit_id == visit_id)
    if work_order_id:
        stmt = stmt.where(ServiceRecord.work_order_id == work_order_id)
    if actor.role is Role.TECHNICIAN:
        stmt = stmt.where(ServiceRecord.technician_id == actor.technician_id) if actor.technician_id else \
            stmt.where(sa.false())
    elif actor.role is Role.CUSTOMER:
        stmt = stmt.where(ServiceRecord.work_order_id.in_(
            sa.select(WorkOrder.id).where(WorkOrder.customer_id == actor.customer_id)))
    elif actor.role not in UNRESTRICTED:
        stmt = stmt.where(sa.false())
    records = paginate(stmt, page)
    if log_via is not None:
        target = f"visit:{visit_id}" if visit_id else f"work_order:{work_order_id}" if work_order_id else "all"
        archive_service.log_read(actor, "record_list", target, via=log_via)
    return records


def get_canonical(actor: Actor, record_id: uuid.UUID, *, log_via: str | None = None) -> dict[str, Any]:
    """The canonical JSON text and its hash, for a client that wants to check its own computation. Same read
    rules as `get_record` (a customer only their own, others 404). The text is the record's whole content,
    so with `log_via` the read is logged in the archive read log as `record_canonical` (R-ARC-3)."""
    record = get_record(actor, record_id)
    if log_via is not None:
        archive_service.log_read(actor, "record_canonical", record.id, via=log_via)
    data = canonical_bytes(canonical_document(record))
    return {"record_id": record.id, "canonical_json": data.decode("utf-8"), "content_sha256": sha256_hex(data)}


def _record_for_field_work(actor: Actor, record_id: uuid.UUID) -> tuple[ServiceRecord, Visit]:
    """The record's visit technician (or a dispatcher/admin on their behalf); others get 404/403."""
    record = db.session.get(ServiceRecord, record_id)
    if record is None:
        raise NotFound(f"record {record_id} not found")
    try:
        visit = visits_service.visit_for_field_work(actor, record.visit_id)
    except NotFound:
        raise NotFound(f"record {record_id} not found") from None
    return record, visit


def _record_for_signing(actor: Actor, record_id: uuid.UUID) -> tuple[ServiceRecord, Visit]:
    """Who may hand in the customer's signature: the visit's technician (their device), a dispatcher on their
    behalf, or the customer themself (a customer actor; the signing page, fieldservice/signing, acts as the
    customer its link was made for) on their own record only. Anyone else: 404/403."""
    if actor.role is not Role.CUSTOMER:
        return _record_for_field_work(actor, record_id)
    record = db.session.get(ServiceRecord, record_id)
    if record is None or not _can_read(actor, record):
        raise NotFound(f"record {record_id} not found")
    return record, db.session.get(Visit, record.visit_id)  # type: ignore[return-value]


def _check_new_id(record_id: uuid.UUID | None) -> uuid.UUID:
    if record_id is None:
        return uuid.uuid4()
    if db.session.get(ServiceRecord, record_id) is not None:
        raise Conflict(f"a record with id {record_id} exists", record_id=str(record_id))
    return record_id


def _archive_version(actor: Actor, action: str, record: ServiceRecord, at: datetime) -> None:
    db.session.flush()
    archive.append(actor, action, "service_records", record.id, canonical_document(record), at=at)


# ---- drafts and corrections ----------------------------------------------------------------------

def _after_content_change(actor: Actor, record: ServiceRecord, order: WorkOrder, now: datetime) -> None:
    """R-INS-2: packaging damage recorded on an installation sheet becomes (or refreshes) a carrier claim."""
    if record.kind is RecordKind.INSTALLATION_SHEET:
        claims_service.sync_from_sheet(actor, record, order, now=now)


def create_record(actor: Actor, data: dict[str, Any], *, now: datetime | None = None) -> ServiceRecord:
    """A draft record for a visit, written by the visit's technician (or a dispatcher). One record of each
    kind per visit; installation/repair/maintenance records only on work orders of that kind."""
    now = now or utcnow()
    kind: RecordKind = data["kind"]
    visit = visits_service.visit_for_field_work(actor, data["visit_id"])
    order = visit.work_order
    expected = ORDER_KIND_FOR.get(kind)
    if expected is not None and order.kind is not expected:
        raise ValidationFailed(f"a {kind.value} belongs to a {expected.value} work order, not {order.kind.value}",
                               errors={"json": {"kind": [f"the work order is a {order.kind.value} job"]}})
    existing = db.session.scalar(sa.select(ServiceRecord.id).where(
        ServiceRecord.visit_id == visit.id, ServiceRecord.kind == kind).limit(1))
    if existing is not None:
        raise Conflict(f"the visit already has a {kind.value}; edit it or correct it", existing_id=str(existing))
    content = _content_for(order, kind, data["content"])
    record_id = _check_new_id(data.get("id"))
    record = ServiceRecord(id=record_id, root_id=record_id, version_no=1, kind=kind, status=RecordStatus.DRAFT,
                           work_order_id=order.id, visit_id=visit.id, technician_id=visit.technician_id,
                           content=content, created_by_id=actor.user_id)
    db.session.add(record)
    audit_service.record(actor, "record.create", record, {"kind": kind, "version_no": 1}, at=now)
    _archive_version(actor, "record.create", record, now)
    _after_content_change(actor, record, order, now)
    return record


def update_record(actor: Actor, record_id: uuid.UUID, data: dict[str, Any], *, if_match: str | None = None,
                  now: datetime | None = None) -> ServiceRecord:
    """Replace a draft's content, guarded by its lock version (`data["lock_version"]` or `if_match`).

    Raises 409 record_signed once signed (R-SIG-3); 409 stale_version / 412 precondition_failed when the
    draft changed since the client read it; 428 when no version is named; 422 for content that does not fit.
    """
    now = now or utcnow()
    record, visit = _record_for_field_work(actor, record_id)
    record.require_draft()
    content = _content_for(visit.work_order, record.kind, data["content"])
    check_lock_version(record, lock_version=data.get("lock_version"), if_match=if_match)
    if content == record.content:
        return record  # nothing changed: no new version, no log entry
    record.content = content
    audit_service.record(actor, "record.update", record, {"version_no": record.version_no}, at=now)
    _archive_version(actor, "record.update", record, now)
    _after_content_change(actor, record, visit.work_order, now)
    return record


def _latest_version(record: ServiceRecord) -> ServiceRecord:
    return db.session.scalars(sa.select(ServiceRecord).where(ServiceRecord.root_id == record.root_id)
                              .order_by(ServiceRecord.version_no.desc()).limit(1)).one()


def correct_record(actor: Actor, record_id: uuid.UUID, data: dict[str, Any],
                   *, now: datetime | None = None) -> ServiceRecord:
    """R-SIG-3: a correction of a signed version is a new draft version pointing at it; it needs its own
    signature. Only the latest version can be corrected; a draft is edited instead."""
    now = now or utcnow()
    record, new_visit = _record_for_field_work(actor, record_id)
    if not record.is_signed:
        raise Conflict(f"record version {record.id} is a draft: edit it instead of correcting it")
    latest = _latest_version(record)
    if latest.id != record.id:
        raise RecordSuperseded(f"version {latest.version_no} of this record exists; correct that one",
                               latest_version_id=str(latest.id))
    content = _content_for(new_visit.work_order, record.kind, data["content"])
    new = ServiceRecord(id=_check_new_id(data.get("id")), root_id=record.root_id, version_no=record.version_no + 1,
                        previous_version_id=record.id, kind=record.kind, status=RecordStatus.DRAFT,
                        work_order_id=record.work_order_id, visit_id=record.visit_id,
                        technician_id=record.technician_id, content=content, created_by_id=actor.user_id)
    db.session.add(new)
    audit_service.record(actor, "record.correct", new, {"version_no": new.version_no, "corrects": record.id,
                                                        "reason": data["reason"]}, at=now)
    _archive_version(actor, "record.correct", new, now)
    _after_content_change(actor, new, new_visit.work_order, now)
    return new


# ---- sign-off ------------------------------------------------------------------------------------

def signoff_refusals(record: ServiceRecord, order: WorkOrder) -> list[gate.Unmet]:
    """What the lifecycle gate would refuse if the customer signed `record` now (R-SIG-2, R-INS-3/4): the
    signing page shows it before the customer signs."""
    return gate.signoff_conditions(record, order)


def _describe(mismatches: list[dict[str, Any]]) -> str:
    return ", ".join(f"{m['item']}: the contract says {m['expected']!r}, found {m['found']!r}" for m in mismatches)


# ---- contract mismatch resolutions (R-INS-3) -------------------------------------------------------

def _installation_order(actor: Actor, work_order_id: uuid.UUID) -> WorkOrder:
    order = workorders.get_work_order(actor, work_order_id)
    if order.kind is not WorkOrderKind.INSTALLATION:
        raise NoOpenMismatch(f"work order {order.number} is a {order.kind.value} job: contract mismatches "
                             f"belong to installations", open_mismatches=[])
    return order


def resolve_contract_mismatch(actor: Actor, work_order_id: uuid.UUID, data: dict[str, Any],
                              *, now: datetime | None = None) -> ContractMismatchResolution:
    """R-INS-3: the back office (dispatcher, office, admin) resolves one open mismatch of an installation
    job, saying why (e.g. "contract amendment 3: SN-9 replaces SN-1"). The mismatch is named by `item`, and
    by `expected` / `found` when the item has several. Recorded with who and when, audited.
    Raises 403 for other roles, 404 for an unknown job, 409 no_open_mismatch (nothing open matches; the
    open ones are listed), 409 mismatch_ambiguous (several match: name expected/found)."""
    if actor.role not in UNRESTRICTED:
        raise Forbidden("only the back office resolves a contract mismatch")
    now = now or utcnow()
    order = _installation_order(actor, work_order_id)
    open_ = installation.open_contract_mismatches(order)
    matching: dict[tuple[str, str, str], dict[str, Any]] = {}
    for m in open_:
        if m["item"] == data["item"] and all(
                data.get(key) is None or installation.same(data[key], m[key]) for key in ("expected", "found")):
            matching.setdefault(installation.mismatch_key(m["item"], m["expected"], m["found"]), m)
    if not matching:
        raise NoOpenMismatch(f"work order {order.number} has no open {data['item']} mismatch"
                             + (f" ({_describe(open_)} are open)" if open_ else ""), open_mismatches=open_)
    if len(matching) > 1:
        candidates = list(matching.values())
        raise MismatchAmbiguous(f"several open {data['item']} mismatches ({_describe(candidates)}): name "
                                f"expected and found", candidates=candidates)
    mismatch = next(iter(matching.values()))
    resolution = ContractMismatchResolution(
        work_order_id=order.id, item=mismatch["item"], expected=mismatch["expected"], found=mismatch["found"],
        resolution=data["resolution"].strip(), resolved_by_id=actor.user_id, resolved_at=now, created_at=now)
    db.session.add(resolution)
    db.session.flush()
    audit_service.record(actor, "contract_mismatch.resolve", resolution, {
        "work_order_id": order.id, "item": resolution.item, "expected": resolution.expected,
        "found": resolution.found, "resolution": resolution.resolution, "record_id": mismatch["record_id"]}, at=now)
    log.info("work order %s: %s mismatch resolved (%s)", order.id, resolution.item, resolution.id)
    return resolution


def contract_resolutions(actor: Actor, work_order_id: uuid.UUID) -> dict[str, Any]:
    """The job's open mismatches and the resolutions recorded (back office; the job's technician)."""
    if actor.role not in UNRESTRICTED and actor.role is not Role.TECHNICIAN:
        raise Forbidden("only the back office and the job's technician read contract resolutions")
    order = _installation_order(actor, work_order_id)
    return {"work_order_id": order.id, "open_mismatches": installation.open_contract_mismatches(order),
            "resolutions": installation.resolutions(order.id)}


def _decode_png(text: str) -> bytes:
    """A real PNG of bounded size, or 422."""
    def bad(reason: str) -> ValidationFailed:
        return ValidationFailed(f"signature_png: {reason}", errors={"json": {"signature_png": [reason]}})

    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise bad("not valid base64") from None
    if len(raw) > MAX_PNG_BYTES:
        raise bad(f"larger than {MAX_PNG_BYTES} bytes")
    if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
        raise bad("not a PNG image")
    try:
        with Image.open(io.BytesIO(raw)) as image:
            if image.format != "PNG":
                raise bad("not a PNG image")
            width, height = image.size
            if width > MAX_PNG_SIDE or height > MAX_PNG_SIDE or width < 1 or height < 1:
                raise bad(f"image sides must be 1..{MAX_PNG_SIDE} pixels")
            image.verify()
    except ValidationFailed:
        raise
    except Exception:  # Pillow raises many types for broken files; all of them are bad input
        raise bad("not a readable PNG image") from None
    return raw


def sign_record(actor: Actor, record_id: uuid.UUID, data: dict[str, Any],
                *, now: datetime | None = None) -> Signoff:
    """The customer signs a record version on the technician's device (R-SIG-1).

    Refused: 409 work_not_complete (R-SIG-2), 409 already_signed, 409 content_hash_mismatch when the hash
    the customer saw is not the server's canonical hash, 409 contract_mismatch (R-INS-3), 409
    commissioning_out_of_range (R-INS-4), 422 for a signature that is not a bounded PNG.
    Effects: a work-order acceptance moves the work order to signed, or to rework when rejected (R-REP-7);
    an installation sheet creates or updates the Asset with serial, install date and warranty (R-INS-6).
    """
    now = now or utcnow()
    record, visit = _record_for_signing(actor, record_id)
    return _sign(actor, record, visit, data, now)


def _sign(actor: Actor, record: ServiceRecord, visit: Visit, data: dict[str, Any], now: datetime) -> Signoff:
    """The one core of a sign-off, for the API (sign_record) and the sync push (sign_pushed)."""
    if record.is_signed or db.session.scalar(sa.select(Signoff.id).where(Signoff.record_id == record.id)):
        raise AlreadySigned(f"record version {record.id} is already signed; a change needs a correction")
    order = visit.work_order
    gate.require(gate.signoff_conditions(record, order), subject="signoff", subject_id=record.id,
                 transition=f"sign:{record.kind.value}", role=actor.role,
                 what=f"the customer cannot sign this {record.kind.value} now", record_id=str(record.id))
    server_hash = content_hash(record)
    if data["content_sha256"] != server_hash:
        raise ContentHashMismatch("the hash of the content the customer saw does not match the server's canonical "
                                  "JSON of this record version; reload the record and sign again",
                                  server_sha256=server_hash, client_sha256=data["content_sha256"])
    png = _decode_png(data["signature_png"]) if data.get("signature_png") else None
    signoff = Signoff(**({"id": data["id"]} if data.get("id") else {}), record_id=record.id, content_sha256=server_hash, signer_name=data["signer_name"],
                      signer_role=data["signer_role"],
                      signature_png=base64.b64encode(png).decode("ascii") if png else None,
                      signature_png_sha256=sha256_hex(png) if png else None,
                      strokes=normalise(data.get("strokes")) if data.get("strokes") else None,
                      device_id=data["device_id"], device_time=data["device_time"],
                      latitude=data.get("latitude"), longitude=data.get("longitude"), signed_at=now,
                      captured_by_user_id=actor.user_id)
    db.session.add(signoff)
    record.status, record.content_sha256, record.signed_at = RecordStatus.SIGNED, server_hash, now
    db.session.flush()
    if record.kind is RecordKind.INSTALLATION_SHEET:
        _register_asset(actor, order, record.content, now)  # R-INS-6: before the acceptance can move the order
    audit_service.record(actor, "record.sign", record, {"content_sha256": server_hash,
                                                        "signer_role": signoff.signer_role}, at=now)
    archive.append(actor, "record.sign", "signoffs", signoff.id, signoff_document(signoff), at=now)
    publish(RecordSigned(record, signoff, order, actor, now))
    if record.kind is RecordKind.WORK_ORDER_ACCEPTANCE:  # R-REP-7, through the gate (records signed, ...)
        accepted = record.content["outcome"] == "accepted"
        lifecycle.move_work_order(actor, order, S.SIGNED if accepted else S.REWORK, at=now,
                                  cause="customer signed the acceptance" if accepted else "customer rejected the result",
                                  reason=None if accepted else record.content.get("rejection_reason"))
    log.info("record %s signed (signoff %s)", record.id, signoff.id)
    return signoff


class SignoffIdTaken(Conflict):
    code, title = "signoff_id_taken", "A different sign-off has this id"


def sign_pushed(actor: Actor, data: dict[str, Any], *, now: datetime | None = None) -> Signoff:
    """A sign-off captured offline and pushed by the phone: the same rules as the API (`_sign`: work
    complete (R-SIG-2), hash of the server's canonical JSON, R-INS-3/4, PNG), plus:

    - `content` (optional): the record content the customer saw; it must hash, with the record's
      metadata, to `content_sha256` (the phone's own view is consistent), else 409 content_hash_mismatch;
    - a sign-off id already stored for the same record and hash is a replay and changes nothing (for the
      caller who captured it or who works the record's visit; anyone else gets 404, not a confirmation).
    Raises 422 for a malformed sign-off (same schema as the API), 404 for a record not of the actor's visits.
    """
    from fieldservice.records.schemas import SignoffInSchema

    now = now or utcnow()
    existing = db.session.get(Signoff, data["id"])
    if existing is not None:
        if existing.captured_by_user_id != actor.user_id:
            _record_for_field_work(actor, existing.record_id)  # someone else's sign-off id: 404, never "accepted"
        if existing.record_id == data.get("record_id") and existing.content_sha256 == data.get("content_sha256"):
            return existing
        raise SignoffIdTaken(f"sign-off {data['id']} exists for another record or hash", signoff_id=str(data["id"]))
    if data.get("record_id") is None:
        raise ValidationFailed("record_id: required", errors={"json": {"record_id": ["required"]}})
    fields = {k: data[k] for k in ("content_sha256", "signer_name", "signer_role", "signature_png", "strokes",
                                   "device_id", "latitude", "longitude") if data.get(k) is not None}
    if data.get("device_time") is not None:
        fields["device_time"] = data["device_time"].isoformat()
    try:
        loaded = SignoffInSchema().load(fields)
    except ma.ValidationError as err:
        raise ValidationFailed("the sign-off is malformed", errors={"json": err.messages}) from err
    record, visit = _record_for_field_work(actor, data["record_id"])
    seen = data.get("content")
    if seen is not None:
        if not isinstance(seen, dict):
            raise ValidationFailed("content: the record content the customer saw, as an object",
                                   errors={"json": {"content": ["must be an object"]}})
        seen_hash = canonical_sha256(canonical_document(record, validate_content(record.kind, seen)))
        if seen_hash != loaded["content_sha256"]:
            raise ContentHashMismatch("the content sent with the sign-off does not hash to the hash the customer "
                                      "saw", content_sha256=loaded["content_sha256"], sent_content_sha256=seen_hash)
    return _sign(actor, record, visit, {**loaded, "id": data["id"]}, now)


def apply_pushed_record(actor: Actor, record_id: uuid.UUID, data: dict[str, Any],
                        *, now: datetime | None = None) -> ServiceRecord:
    """A record draft created or edited offline (sync push): create it, or edit it guarded by the
    `lock_version` the phone last pulled (stale: 409, quarantined); content equal to the server's is a
    replay and changes nothing. Same rules as the API (create_record / update_record)."""
    now = now or utcnow()
    record = db.session.get(ServiceRecord, record_id)
    if record is None:
        missing = [k for k in ("kind", "visit_id", "content") if data.get(k) is None]
        if missing:
            raise ValidationFailed(f"a new record needs {', '.join(missing)}",
                                   errors={"json": {k: ["required"] for k in missing}})
        try:
            kind = RecordKind(data["kind"])
        except ValueError:
            raise ValidationFailed(f"unknown record kind {data['kind']!r}",
                                   errors={"json": {"kind": ["unknown kind"]}}) from None
        return create_record(actor, {"id": record_id, "kind": kind, "visit_id": data["visit_id"],
                                     "content": data["content"]}, now=now)
    if data.get("content") is None:
        _record_for_field_work(actor, record.id)
        return record
    record, _ = _record_for_field_work(actor, record.id)
    if not record.is_signed and validate_content(record.kind, data["content"]) == record.content:
        return record
    if record.is_signed and data["content"] == record.content:
        return record
    return update_record(actor, record.id, {"content": data["content"], "lock_version": data.get("lock_version")},
                         now=now)


def _register_asset(actor: Actor, order: WorkOrder, content: dict[str, Any], now: datetime) -> Asset:
    """R-INS-6: the installed unit enters the archive with serial, install date and warranty period, only
    through the signed sheet. The asset's contract identity is never rewritten silently: an installed
    serial other than the one the job's asset is registered with needs the back office's serial_number
    resolution of this job (else 409 asset_serial_differs); the change is audited with its id."""
    serial = content["installed_serial_number"]
    installed_on = date.fromisoformat(content["installed_on"])
    dates = {"install_date": installed_on, "warranty_start": installed_on,
             "warranty_end": assets_service.warranty_end_for(installed_on, order.product.warranty_months)}
    asset = order.asset or db.session.scalar(sa.select(Asset).where(
        Asset.product_id == order.product_id, Asset.serial_number == serial))
    if asset is not None and asset.customer_id != order.customer_id:
        raise Conflict(f"serial {serial!r} is registered to another customer's unit", asset_id=str(asset.id))
    if asset is None:
        asset = assets_service.create_asset(actor, {"customer_id": order.customer_id, "site_id": order.site_id,
                                                    "product_id": order.product_id, "serial_number": serial,
                                                    "status": AssetStatus.IN_SERVICE, **dates})
    else:
        changes: dict[str, Any] = dict(dates)
        details: dict[str, Any] = {"cause": "installation sheet signed", "work_order_id": order.id}
        if not installation.same(asset.serial_number, serial):
            resolution = installation.serial_resolution(order.id, serial)
            if resolution is None:
                raise AssetIdentityConflict(
                    f"the installed serial {serial!r} differs from the asset's {asset.serial_number!r}; the back "
                    f"office must resolve the serial_number mismatch (POST /api/v1/work-orders/{order.id}/"
                    f"contract-resolutions) before the sheet is signed", asset_id=str(asset.id),
                    asset_serial_number=asset.serial_number, installed_serial_number=serial)
            changes["serial_number"] = serial
            details["resolution_id"] = resolution.id
        assets_service.put_in_service(actor, asset, changes, details, today=now.date())
    if order.asset_id != asset.id:
        order.asset_id = asset.id
    return asset
