"""Signing-link use cases: create a link, show the record through it, sign through it, download the PDF.

The customer's signature goes through `records.service.sign_record`, the same function as the technician's
device and sync push, so R-SIG-1 (bound to the content hash shown on the page), R-SIG-2 (refused before the
work is complete) and R-SIG-3 (a signed version never changes) hold here too. The link acts as the customer
of the record's work order and only for that one record version (R-ARC-3).
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from fieldservice.audit import service as audit_service
from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.db import utcnow
from fieldservice.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from fieldservice.extensions import db
from fieldservice.photos import service as photos_service
from fieldservice.photos.adapters import Media
from fieldservice.photos.models import Variant
from fieldservice.records import documents, labels
from fieldservice.records import service as records_service
from fieldservice.records.models import ServiceRecord, SignerRole, Signoff
from fieldservice.scoping import UNRESTRICTED
from fieldservice.signing.models import SigningLink
from fieldservice.visits.models import Visit
from fieldservice.workorders.models import WorkOrder

log = logging.getLogger(__name__)

TOKEN_PREFIX = "sl_"
MAX_TTL_HOURS = 24 * 30


class SigningLinkNotFound(NotFound):
    code, title = "signing_link_not_found", "Unknown signing link"


class SigningLinkExpired(DomainError):
    status, code, title = 410, "signing_link_expired", "Signing link expired"


class SigningLinkUsed(DomainError):
    """410: the link has signed its record. While the link's PDF window is open the error carries
    `pdf_until` (the page then offers the signed PDF); `language` is the link's, for the page's words."""

    status, code, title = 410, "signing_link_used", "Signing link already used"

    def __init__(self, detail: str, *, language: str | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.language = language


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def link_actor(link: SigningLink, order: WorkOrder) -> Actor:
    """The link acts as the record's customer (no login): what it may read is the customer's own scope."""
    return Actor(user_id=None, role=Role.CUSTOMER, display_name=f"signing link {link.id}",
                 customer_id=order.customer_id)


# ---- creating a link -----------------------------------------------------------------------------

def _may_create(actor: Actor, record: ServiceRecord) -> bool:
    """Office staff (dispatcher, office, admin) or the technician of the record's visit."""
    if actor.role in UNRESTRICTED:
        return True
    if actor.role is Role.TECHNICIAN and actor.technician_id is not None:
        visit = db.session.get(Visit, record.visit_id)
        return actor.technician_id in (record.technician_id, visit.technician_id if visit else None)
    return False


def create_link(actor: Actor, record_id: uuid.UUID, data: dict[str, Any],
                *, now: datetime | None = None) -> tuple[str, SigningLink]:
    """A single-use link for one record version. Returns the raw token (shown once; only its SHA-256 is
    stored) and the link. Refused: 404 for a record the actor may not see, 409 already_signed for a signed
    version (R-SIG-3: a change needs a correction, which gets its own link)."""
    now = now or utcnow()
    record = db.session.get(ServiceRecord, record_id)
    if record is None or not _may_create(actor, record):
        if actor.role not in (*UNRESTRICTED, Role.TECHNICIAN):
            raise Forbidden(f"role {actor.role.value} may not create signing links")
        raise NotFound(f"record {record_id} not found")
    if record.is_signed:
        raise records_service.AlreadySigned(f"record version {record.id} is already signed; a change needs a "
                                            f"correction, which can then be signed through a new link")
    order = db.session.get(WorkOrder, record.work_order_id)
    assert order is not None
    hours = data.get("expires_in_hours") or int(current_app.config["SIGNING_LINK_TTL_HOURS"])
    if not 1 <= hours <= MAX_TTL_HOURS:
        raise ValidationFailed(f"expires_in_hours must be between 1 and {MAX_TTL_HOURS}",
                               errors={"json": {"expires_in_hours": [f"1..{MAX_TTL_HOURS}"]}})
    language = data.get("language") or (order.customer.preferred_language
                                        if order.customer.preferred_language in labels.LANGUAGES
                                        else labels.DEFAULT_LANGUAGE)
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    link = SigningLink(token_hash=hash_token(raw), record_id=record.id, language=language, created_at=now,
                       created_by_id=actor.user_id, expires_at=now + timedelta(hours=hours))
    db.session.add(link)
    db.session.flush()
    audit_service.record(actor, "signing_link.create", link, {"record_id": record.id, "language": language,
                                                               "expires_at": link.expires_at}, at=now)
    return raw, link


def revoke_link(actor: Actor, link_id: uuid.UUID, *, now: datetime | None = None) -> SigningLink:
    """End an unused link now (sent to the wrong person, or no longer wanted): it answers 410 expired from
    then on. Whoever may create links for the record may revoke them; a used link is kept as it is (409)."""
    now = now or utcnow()
    link = db.session.get(SigningLink, link_id, with_for_update=True)
    record = db.session.get(ServiceRecord, link.record_id) if link is not None else None
    if link is None or record is None or not _may_create(actor, record):
        if actor.role not in (*UNRESTRICTED, Role.TECHNICIAN):
            raise Forbidden(f"role {actor.role.value} may not revoke signing links")
        raise NotFound(f"signing link {link_id} not found")
    if link.used_at is not None:
        raise Conflict(f"signing link {link.id} was used at {link.used_at.isoformat()}; it cannot be revoked")
    if link.expires_at > now:
        link.expires_at = now
        audit_service.record(actor, "signing_link.revoke", link, {"record_id": link.record_id}, at=now)
    return link


# ---- using a link --------------------------------------------------------------------------------

@dataclass
class Resolved:
    link: SigningLink
    record: ServiceRecord
    order: WorkOrder
    actor: Actor


def _lookup(token: str) -> Resolved:
    link = db.session.scalar(sa.select(SigningLink).where(SigningLink.token_hash == hash_token(token)))
    if link is None:
        raise SigningLinkNotFound("this signing link does not exist")
    record = db.session.get(ServiceRecord, link.record_id)
    assert record is not None
    order = db.session.get(WorkOrder, record.work_order_id)
    assert order is not None
    return Resolved(link, record, order, link_actor(link, order))


def resolve_open(token: str, *, now: datetime | None = None) -> Resolved:
    """A link that can still be signed with: 404 unknown, 410 used, 410 expired."""
    now = now or utcnow()
    found = _lookup(token)
    if found.link.used_at is not None:
        until = found.link.pdf_until if pdf_window_open(found.link, now) else None
        raise SigningLinkUsed("this signing link has already been used"
                              + ("; the signed record's PDF can still be downloaded through it" if until else ""),
                              language=found.link.language, signed_at=found.link.used_at.isoformat(),
                              **({"pdf_until": until.isoformat()} if until else {}))
    if found.link.expires_at <= now:
        raise SigningLinkExpired("this signing link has expired; ask for a new one",
                                 expired_at=found.link.expires_at.isoformat())
    return found


def pdf_window_open(link: SigningLink, now: datetime) -> bool:
    """A used link serves the signed record's PDF until `pdf_until` (SIGNING_LINK_PDF_HOURS after signing);
    that is the only expiry of a used link: afterwards no PDF, and no PDF link on its page."""
    return link.used_at is not None and link.pdf_until is not None and now < link.pdf_until


def resolve_for_pdf(token: str, *, now: datetime | None = None) -> Resolved:
    """A used link whose PDF window is open: 404 unknown, 409 not signed yet, 410 window closed."""
    now = now or utcnow()
    found = _lookup(token)
    if found.link.used_at is None:
        raise documents.RecordNotSigned("the record has not been signed through this link yet")
    if not pdf_window_open(found.link, now):
        raise SigningLinkExpired("the PDF is no longer available through this link; ask the service team for it")
    return found


@dataclass
class PageView:
    """What the signing page shows."""

    link: SigningLink
    record: ServiceRecord
    order: WorkOrder
    language: str
    content_sha256: str
    rows: list[dict[str, Any]]
    work_complete: bool
    refusal: str | None = None
    photo_ids: list[str] = field(default_factory=list)


NOT_DONE = frozenset({"work_not_complete", "visit_in_progress"})
INSTALLATION = frozenset({"contract_mismatch", "contract_check_missing", "not_per_product", "commissioning_missing",
                          "commissioning_out_of_range", "install_step_not_done", "training_not_recorded"})


def refusal_label(codes: list[str]) -> str:
    """The page's sentence for a gate refusal: "not complete yet" for R-SIG-2, the installation sheet's own
    sentence for R-INS-3/4/5, else "cannot be signed yet"."""
    if NOT_DONE & set(codes):
        return "work_not_complete"
    return "installation_blocked" if INSTALLATION & set(codes) else "conditions_not_met"


def page_view(token: str, lang: str | None, *, now: datetime | None = None) -> PageView:
    """The record as the customer sees it, in their language, with the canonical hash they will sign."""
    found = resolve_open(token, now=now)
    language = lang if lang in labels.LANGUAGES else found.link.language
    records_service.get_record(found.actor, found.record.id, log_via="page")  # R-ARC-3, as for any read
    refusal = None
    if found.record.is_signed:            # signed meanwhile (on the technician's phone, or another link)
        refusal = labels.text("already_signed", language)
    else:  # what the lifecycle gate would refuse if the customer signed now (R-SIG-2, R-INS-3/4)
        refusals = records_service.signoff_refusals(found.record, found.order)
        if refusals:
            refusal = labels.text(refusal_label([u.code for u in refusals]), language)
    rows = labels.rows(found.record.content, language)
    photo_ids = [pid for row in rows for pid in row["photo_ids"]]
    # R-ARC-3: a customer's read of their record is logged like any other, naming the link
    audit_service.record(found.actor, "signing_link.viewed", found.link,
                         {"record_id": found.record.id, "language": language}, at=now or utcnow())
    return PageView(found.link, found.record, found.order, language, records_service.content_hash(found.record),
                    rows, refusal is None, refusal, photo_ids)


def sign_via_link(token: str, data: dict[str, Any], *, client: str | None = None,
                  now: datetime | None = None) -> tuple[SigningLink, Signoff]:
    """The customer signs through the link: marks it used (a second use is 410) and calls
    records.service.sign_record with the hash the page showed, as the record's customer. Every refusal of
    sign_record (R-SIG-2 work_not_complete, content_hash_mismatch, contract_mismatch, ...) rolls the whole
    request back, so the link stays usable. Audited as signing_link.used (which link, which sign-off)."""
    now = now or utcnow()
    found = resolve_open(token, now=now)
    # claim the link first: under concurrency only one request sees the row unused (PostgreSQL row lock)
    claimed = db.session.execute(sa.update(SigningLink).where(SigningLink.id == found.link.id,
                                                              SigningLink.used_at.is_(None))
                                 .values(used_at=now).execution_options(synchronize_session=False)).rowcount
    if claimed != 1:
        raise SigningLinkUsed("this signing link has already been used")
    db.session.refresh(found.link)
    png = data.get("signature_png")
    if png and png.startswith("data:"):       # canvas.toDataURL() gives "data:image/png;base64,<data>"
        png = png.partition(",")[2]
    signoff = records_service.sign_record(found.actor, found.record.id, {
        "content_sha256": data["content_sha256"], "signer_name": data["signer_name"],
        "signer_role": SignerRole.CUSTOMER, "signature_png": png,
        "strokes": data.get("strokes"), "device_id": f"signing-link/{found.link.id}",
        "device_time": data.get("device_time") or now}, now=now)
    found.link.signoff_id = signoff.id
    found.link.pdf_until = now + timedelta(hours=int(current_app.config["SIGNING_LINK_PDF_HOURS"]))
    audit_service.record(found.actor, "signing_link.used", found.link, {
        "record_id": found.record.id, "signoff_id": signoff.id, "content_sha256": signoff.content_sha256,
        "client": client}, at=now)
    log.info("record %s signed through signing link %s", found.record.id, found.link.id)
    return found.link, signoff


def pdf_via_link(token: str, *, media: Media | None, now: datetime | None = None) -> documents.PdfDocument:
    """The signed record's PDF, for a limited time after the link was used; logged as record.pdf_downloaded."""
    now = now or utcnow()
    found = resolve_for_pdf(token, now=now)
    records_service.get_record(found.actor, found.record.id, log_via="page")  # R-ARC-3
    document = documents.render_signed_record(found.record, lang=found.link.language, media=media)
    audit_service.record(found.actor, "record.pdf_downloaded", found.record,
                         {"version_no": found.record.version_no, "signing_link_id": found.link.id}, at=now)
    return document


def photo_via_link(token: str, photo_id: uuid.UUID, *, media: Media,
                   now: datetime | None = None) -> photos_service.PhotoContent:
    """A thumbnail of a photo the record shows, while the link is open (or its PDF window is): only photos the
    record's content names, through the photo service's customer scope (never the original with GPS). Each
    thumbnail served is logged in the archive read log (`photo`, via page; R-ARC-3), like the record itself."""
    now = now or utcnow()
    try:
        found = resolve_open(token, now=now)
    except SigningLinkUsed:
        found = resolve_for_pdf(token, now=now)
    names = {str(i) for row in labels.rows(found.record.content, labels.DEFAULT_LANGUAGE) for i in row["photo_ids"]}
    if str(photo_id) not in names:
        raise NotFound(f"photo {photo_id} not found")
    return photos_service.photo_content(found.actor, photo_id, Variant.THUMB_256, media=media, log_via="page")
