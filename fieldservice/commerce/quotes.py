"""Quotes and the customer's consent (R-REP-4, R-REP-8).

- A quote is made from the current published price list: every line names a price-list item (part,
  labour hour, fee); its list price is copied onto the line, the quoted price may differ.
- Deviation rule (R-REP-8): a quote needs an office manager's approval before the customer sees it when
  its total, or any single line, is more than MAX_DISCOUNT_PERCENT (10%) below the list price. Exactly 10%
  below is allowed; 11% below without approval is refused (409 approval_required) when presenting.
- States: draft -> (pending_approval -> approved) -> presented -> accepted | declined; a presented or
  declined quote is superseded when a revision that replaces it is presented.
- A supplementary quote (problems found during the work) references an accepted original on the same job.
- Presenting freezes the content: the SHA-256 of its canonical JSON (records/canonical.py) is what the
  customer's consent binds to, like a sign-off (R-SIG-1). A consent with another hash is refused.
"""
from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from fieldservice.audit import service as audit_service
from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.commerce import consent as consent_rules
from fieldservice.commerce import prices
from fieldservice.commerce.consent import format_quantity
from fieldservice.commerce.errors import (
    ApprovalRequired,
    ContentHashMismatch,
    LinkInvalid,
    QuoteNotPresented,
    RepairAgreementRequired,
)
from fieldservice.commerce.models import (
    EDITABLE_QUOTE,
    ConsentChannel,
    ConsentDecision,
    ConsentEvidenceKind,
    PriceItemKind,
    Quote,
    QuoteConsent,
    QuoteLine,
    QuoteStatus,
)
from fieldservice.common.lengths import check_lengths
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.db import utcnow
from fieldservice.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from fieldservice.extensions import db
from fieldservice.photos.models import Photo
from fieldservice.records import archive
from fieldservice.records.canonical import canonical_bytes, canonical_sha256, sha256_hex
from fieldservice.scoping import UNRESTRICTED, can_see_work_order, visible_work_order_ids
from fieldservice.visits.models import Visit
from fieldservice.workorders import service as workorders
from fieldservice.workorders.models import OPEN_STATUSES, WorkOrder

log = logging.getLogger(__name__)

Q = QuoteStatus
CANONICAL_SCHEMA = "fieldservice.quote/1"
MAX_DISCOUNT_PERCENT = 10
CUSTOMER_VISIBLE = (Q.PRESENTED, Q.ACCEPTED, Q.DECLINED, Q.SUPERSEDED)
LINK_TTL = timedelta(days=7)


# ---- money ---------------------------------------------------------------------------------------

def line_amount(unit_price_minor: int, quantity_centi: int) -> int:
    """unit price x quantity, rounded half up to a whole minor unit (quantities are hundredths)."""
    return (unit_price_minor * quantity_centi + 50) // 100


def too_far_below(quoted: int, listed: int) -> bool:
    """More than MAX_DISCOUNT_PERCENT below the list price (exactly at the limit is allowed)."""
    return quoted * 100 < listed * (100 - MAX_DISCOUNT_PERCENT)


# ---- access --------------------------------------------------------------------------------------

def _can_see(actor: Actor, quote: Quote) -> bool:
    if actor.role is Role.CUSTOMER and quote.status not in CUSTOMER_VISIBLE:
        return False  # drafts and approvals are internal
    return can_see_work_order(actor, quote.work_order_id)


def get_quote(actor: Actor, quote_id: uuid.UUID) -> Quote:
    """A quote the actor may see (technicians: their jobs; customers: their own presented quotes)."""
    quote = db.session.get(Quote, quote_id)
    if quote is None or not _can_see(actor, quote):
        raise NotFound(f"quote {quote_id} not found")
    return quote


def list_quotes(actor: Actor, page: PageRequest, *, work_order_id: uuid.UUID | None = None,
                status: list[QuoteStatus] | None = None) -> Page:
    stmt = sa.select(Quote).order_by(Quote.created_at.desc(), Quote.id)
    visible = visible_work_order_ids(actor)
    if visible is not None:
        stmt = stmt.where(Quote.work_order_id.in_(visible))
    if actor.role is Role.CUSTOMER:
        stmt = stmt.where(Quote.status.in_(CUSTOMER_VISIBLE))
    if work_order_id:
        stmt = stmt.where(Quote.work_order_id == work_order_id)
    if status:
        stmt = stmt.where(Quote.status.in_(status))
    return paginate(stmt, page)


def _writable(actor: Actor, quote_id: uuid.UUID) -> Quote:
    if actor.role not in (Role.TECHNICIAN, *UNRESTRICTED):
        raise Forbidden(f"role {actor.role.value} may not change quotes")
    return get_quote(actor, quote_id)


# ---- content -------------------------------------------------------------------------------------

def _build_lines(quote: Quote, lines: list[dict[str, Any]]) -> None:
    """Lines from the quote's price list; totals and the approval flag follow."""
    price_list = prices.get_price_list(quote.price_list_id)
    items = {(i.kind, i.code): i for i in price_list.items}
    built = []
    for position, data in enumerate(lines, start=1):
        item = items.get((PriceItemKind(data["kind"]), data["code"]))
        if item is None:
            raise ValidationFailed(
                f"lines[{position - 1}]: {data['kind']} {data['code']!r} is not on price list version "
                f"{price_list.version}", errors={"json": {"lines": {str(position - 1): {"code": ["not on the price list"]}}}})
        unit = data.get("unit_price_minor")
        unit = item.unit_price_minor if unit is None else unit
        quantity = data["quantity_centi"]
        if item.kind is PriceItemKind.PART and quantity % 100:  # R-REP-6: parts are counted in whole units
            raise ValidationFailed(
                f"lines[{position - 1}]: part {item.code!r} is quoted in whole units, not {quantity / 100:g}",
                errors={"json": {"lines": {str(position - 1): {"quantity": ["a whole number of parts"]}}}})
        built.append(QuoteLine(position=position, kind=item.kind, code=item.code,
                               description=data.get("description") or item.name, quantity_centi=quantity,
                               list_unit_price_minor=item.unit_price_minor, unit_price_minor=unit,
                               line_total_minor=line_amount(unit, quantity),
                               list_total_minor=line_amount(item.unit_price_minor, quantity)))
    quote.lines.clear()
    db.session.flush()
    quote.lines.extend(built)
    quote.list_total_minor = sum(line.list_total_minor for line in built)
    quote.total_minor = sum(line.line_total_minor for line in built)
    quote.requires_approval = too_far_below(quote.total_minor, quote.list_total_minor) or any(
        too_far_below(line.line_total_minor, line.list_total_minor) for line in built)


def deviation(quote: Quote) -> dict[str, Any]:
    """How far below the list the quote is, in percent (total and worst line), for the office."""
    def pct(quoted: int, listed: int) -> float:
        return round(100 * (listed - quoted) / listed, 2) if listed else 0.0

    return {"total_percent_below_list": pct(quote.total_minor, quote.list_total_minor),
            "worst_line_percent_below_list": max((pct(ln.line_total_minor, ln.list_total_minor) for ln in quote.lines),
                                                 default=0.0),
            "limit_percent": MAX_DISCOUNT_PERCENT}


def create_quote(actor: Actor, data: dict[str, Any], *, now: datetime | None = None) -> Quote:
    """A draft quote for an open job from the current price list (technician on their job, or the office)."""
    now = now or utcnow()
    if actor.role not in (Role.TECHNICIAN, *UNRESTRICTED):
        raise Forbidden(f"role {actor.role.value} may not make quotes")
    order = workorders.get_work_order(actor, data["work_order_id"])
    if order.status not in OPEN_STATUSES:
        raise Conflict(f"work order {order.number} is {order.status.value}; quotes are for open jobs")
    for field in ("supplements_quote_id", "replaces_quote_id"):
        ref_id = data.get(field)
        if ref_id is None:
            continue
        ref = db.session.get(Quote, ref_id)
        if ref is None or ref.work_order_id != order.id:
            raise ValidationFailed(f"{field}: no quote of this work order with id {ref_id}",
                                   errors={"json": {field: ["unknown quote of this work order"]}})
        if field == "supplements_quote_id" and ref.status is not Q.ACCEPTED:
            raise Conflict(f"a supplementary quote references an accepted quote; {ref.number} is {ref.status.value}")
    price_list = prices.current_price_list()
    quote_id = data.get("id") or uuid.uuid4()
    if db.session.get(Quote, quote_id) is not None:
        raise Conflict(f"a quote with id {quote_id} exists")
    quote = Quote(id=quote_id, number=f"Q-{now:%y%m%d}-{secrets.token_hex(3).upper()}", work_order_id=order.id,
                  price_list_id=price_list.id, currency=price_list.currency, status=Q.DRAFT,
                  supplements_quote_id=data.get("supplements_quote_id"), replaces_quote_id=data.get("replaces_quote_id"),
                  notes=data.get("notes"), created_by_id=actor.user_id)
    db.session.add(quote)
    _build_lines(quote, data["lines"])
    db.session.flush()
    audit_service.record(actor, "quote.create", quote, {"work_order_id": order.id, "total_minor": quote.total_minor,
                                                        "list_total_minor": quote.list_total_minor,
                                                        "requires_approval": quote.requires_approval}, at=now)
    return quote


def update_quote(actor: Actor, quote_id: uuid.UUID, data: dict[str, Any], *, now: datetime | None = None) -> Quote:
    """Replace lines/notes before presentation; any change drops an approval (it approved other numbers)."""
    now = now or utcnow()
    quote = _writable(actor, quote_id)
    if quote.status not in EDITABLE_QUOTE:
        raise Conflict(f"quote {quote.number} is {quote.status.value}; a presented quote is changed by a revision "
                       "(a new quote with replaces_quote_id)")
    if "notes" in data:
        quote.notes = data["notes"]
    _build_lines(quote, data["lines"])
    quote.status, quote.approved_by_id, quote.approved_at = Q.DRAFT, None, None
    audit_service.record(actor, "quote.update", quote, {"total_minor": quote.total_minor,
                                                        "requires_approval": quote.requires_approval}, at=now)
    return quote


def _move(quote: Quote, allowed: tuple[QuoteStatus, ...], to: QuoteStatus, action: str) -> None:
    InvalidTransition.unless(quote.status, allowed, f"{action} quote {quote.number}: it is {quote.status.value}")
    quote.status = to


def submit_for_approval(actor: Actor, quote_id: uuid.UUID, *, now: datetime | None = None) -> Quote:
    now = now or utcnow()
    quote = _writable(actor, quote_id)
    if not quote.requires_approval:
        raise Conflict(f"quote {quote.number} is within {MAX_DISCOUNT_PERCENT}% of the price list; present it")
    _move(quote, (Q.DRAFT,), Q.PENDING_APPROVAL, "submit")
    audit_service.record(actor, "quote.submit", quote, deviation(quote), at=now)
    return quote


def decide_approval(actor: Actor, quote_id: uuid.UUID, approve: bool, note: str | None,
                    *, now: datetime | None = None) -> Quote:
    """R-REP-8: an office manager approves (or sends back) a quote below the allowed deviation."""
    now = now or utcnow()
    actor.require(Role.OFFICE, Role.ADMIN)
    quote = get_quote(actor, quote_id)
    if approve:
        _move(quote, (Q.PENDING_APPROVAL, Q.DRAFT), Q.APPROVED, "approve")
        quote.approved_by_id, quote.approved_at = actor.user_id, now
    else:
        _move(quote, (Q.PENDING_APPROVAL,), Q.DRAFT, "reject")
    quote.approval_note = note
    audit_service.record(actor, "quote.approve" if approve else "quote.reject", quote,
                         {**deviation(quote), "note": note}, at=now)
    return quote


def canonical_document(quote: Quote) -> dict[str, Any]:
    """What the customer consents to (docs/commerce.md)."""
    order = db.session.get(WorkOrder, quote.work_order_id)
    assert order is not None
    return {
        "schema": CANONICAL_SCHEMA,
        "quote_id": quote.id, "number": quote.number,
        "work_order_id": quote.work_order_id, "work_order_number": order.number, "customer_id": order.customer_id,
        "supplements_quote_id": quote.supplements_quote_id, "replaces_quote_id": quote.replaces_quote_id,
        "currency": quote.currency,
        "lines": [{"position": line.position, "kind": line.kind.value, "code": line.code,
                   "description": line.description, "quantity": format_quantity(line.quantity_centi),
                   "unit_price_minor": line.unit_price_minor, "line_total_minor": line.line_total_minor}
                  for line in quote.lines],
        "total_minor": quote.total_minor,
        "notes": quote.notes,
        # R-REP-8: only a quote that needs the written agreement carries it (earlier hashes stay valid)
        **({"repair_agreement": {"text": quote.agreement_text, "sha256": agreement_sha256(quote)}}
           if quote.agreement_required else {}),
    }


# ---- the written repair agreement (R-REP-8) ------------------------------------------------------

def agreement_threshold() -> tuple[int, str]:
    """(REPAIR_AGREEMENT_THRESHOLD_MINOR, REPAIR_AGREEMENT_CURRENCY): 500000 CNY fen = 5,000 yuan by default."""
    return (int(current_app.config.get("REPAIR_AGREEMENT_THRESHOLD_MINOR", 500_000)),
            str(current_app.config.get("REPAIR_AGREEMENT_CURRENCY", "CNY")))


def job_total(quote: Quote) -> int:
    """The amount the customer commits to by accepting: the quote's total, and for a supplementary quote
    also the accepted original and its accepted supplements (a job is not made "cheap" by splitting it)."""
    total = quote.total_minor
    if quote.supplements_quote_id:
        original = quote.supplements_quote_id
        total += int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Quote.total_minor), 0)).where(
            sa.or_(Quote.id == original, Quote.supplements_quote_id == original), Quote.id != quote.id,
            Quote.status == Q.ACCEPTED, Quote.currency == quote.currency)) or 0)   # PostgreSQL sums as numeric
    return total


def needs_agreement(quote: Quote) -> bool:
    """R-REP-8: a chargeable (out-of-warranty or undecided) job's quote whose total (with the accepted quotes
    it supplements) is above the threshold. A quote in another currency than the threshold's cannot be
    compared, so it needs the agreement too."""
    if not consent_rules.is_chargeable(quote.work_order_id):
        return False
    threshold, threshold_currency = agreement_threshold()
    return quote.currency != threshold_currency or job_total(quote) > threshold


def agreement_sha256(quote: Quote) -> str | None:
    return sha256_hex(quote.agreement_text.encode("utf-8")) if quote.agreement_text is not None else None


def _check_agreement(quote: Quote, data: dict[str, Any], channel: ConsentChannel) -> str | None:
    """Accepting a quote that needs the written repair agreement must carry it: the SHA-256 of the agreement
    text shown (the canonical JSON includes it) and the customer's signature; recorded by staff, the
    signature is on paper: evidence `signed_document` with the scan of it (evidence_photo_id). Declining
    needs neither."""
    if not quote.agreement_required or data["decision"] != ConsentDecision.ACCEPTED.value:
        return None
    expected = agreement_sha256(quote)
    given = data.get("agreement_sha256")
    threshold, threshold_currency = agreement_threshold()
    facts = {"total_minor": quote.total_minor, "job_total_minor": job_total(quote), "currency": quote.currency,
             "threshold_minor": threshold,
             "threshold_currency": threshold_currency, "agreement_sha256": expected}
    if not given:
        raise RepairAgreementRequired(
            f"quote {quote.number} is an out-of-warranty repair above {threshold} {threshold_currency} (minor "
            "units): accepting it needs the signed written repair agreement (agreement_sha256 of the agreement "
            "text shown, and the signature)", reason="agreement_missing", **facts)
    if given != expected:
        raise RepairAgreementRequired(
            "the repair agreement the customer signed is not the one of this quote; show it again",
            reason="agreement_mismatch", client_agreement_sha256=given, **facts)
    if channel is ConsentChannel.STAFF:
        if data.get("evidence_kind") != ConsentEvidenceKind.SIGNED_DOCUMENT or not data.get("evidence_photo_id"):
            raise RepairAgreementRequired(
                "the written repair agreement needs the customer's signature: recorded by staff, that is the "
                "signed agreement (evidence_kind signed_document with its scan as evidence_photo_id)",
                reason="signature_missing", **facts)
    elif not data.get("signature_png"):
        raise RepairAgreementRequired("the written repair agreement needs the customer's signature (signature_png)",
                                      reason="signature_missing", **facts)
    return expected


def content_hash(quote: Quote) -> str:
    return canonical_sha256(canonical_document(quote))


def get_canonical(actor: Actor, quote_id: uuid.UUID) -> dict[str, Any]:
    quote = get_quote(actor, quote_id)
    data = canonical_bytes(canonical_document(quote))
    return {"quote_id": quote.id, "canonical_json": data.decode("utf-8"), "content_sha256": sha256_hex(data)}


def present(actor: Actor, quote_id: uuid.UUID, *, now: datetime | None = None) -> Quote:
    """Show the quote to the customer: refused (409 approval_required) when it is more than 10% below the
    list without an approval (R-REP-8). Freezes the content hash; a quote it replaces is superseded."""
    now = now or utcnow()
    quote = _writable(actor, quote_id)
    if quote.requires_approval and quote.status is not Q.APPROVED:
        raise ApprovalRequired(
            f"quote {quote.number} is more than {MAX_DISCOUNT_PERCENT}% below the price list; an office manager "
            "must approve it before the customer sees it", **deviation(quote), status_now=quote.status.value)
    _move(quote, (Q.DRAFT, Q.APPROVED), Q.PRESENTED, "present")
    quote.presented_at = now
    quote.agreement_required = needs_agreement(quote)
    quote.agreement_text = current_app.config.get("REPAIR_AGREEMENT_TEXT") if quote.agreement_required else None
    quote.content_sha256 = content_hash(quote)
    if quote.replaces_quote_id:
        old = db.session.get(Quote, quote.replaces_quote_id)
        assert old is not None
        if old.status is Q.ACCEPTED and _charges_against(old):
            raise Conflict(f"quote {old.number} already covers recorded charges; add a supplementary quote instead")
        if old.status not in (Q.SUPERSEDED,):
            old.status = Q.SUPERSEDED
            audit_service.record(actor, "quote.supersede", old, {"replaced_by": quote.id}, at=now)
    db.session.flush()
    audit_service.record(actor, "quote.present", quote, {"content_sha256": quote.content_sha256,
                                                         "agreement_required": quote.agreement_required}, at=now)
    return quote


def _charges_against(quote: Quote) -> bool:
    from fieldservice.commerce.models import VisitCharge

    return db.session.scalar(sa.select(VisitCharge.id).where(
        VisitCharge.quote_line_id.in_([line.id for line in quote.lines])).limit(1)) is not None


# ---- consent -------------------------------------------------------------------------------------

def _decode_png(text: str) -> bytes:
    from fieldservice.records.service import _decode_png as decode

    return decode(text)


def _evidence_document(consent: QuoteConsent) -> dict[str, Any]:
    """R-REP-4: a staff-recorded consent binds its evidence (the scan by its SHA-256) and who recorded it."""
    photo = db.session.get(Photo, consent.evidence_photo_id) if consent.evidence_photo_id else None
    return {"recorded_by_user_id": consent.captured_by_user_id, "evidence": {
        "kind": consent.evidence_kind.value if consent.evidence_kind else None,
        "reference": consent.evidence_reference, "at": consent.evidence_at,
        "photo_id": consent.evidence_photo_id, "photo_sha256": photo.sha256 if photo else None}}


def consent_document(consent: QuoteConsent) -> dict[str, Any]:
    """What the archive log binds for a consent (the PNG by its hash; a staff consent's evidence)."""
    return {"quote_id": consent.quote_id, "decision": consent.decision.value,
            "content_sha256": consent.content_sha256, "signer_name": consent.signer_name,
            "channel": consent.channel.value, "visit_id": consent.visit_id,
            "signature_png_sha256": consent.signature_png_sha256,
            **({"agreement_sha256": consent.agreement_sha256} if consent.agreement_sha256 else {}),
            **(_evidence_document(consent) if consent.channel is ConsentChannel.STAFF else {}),
            "device_id": consent.device_id,
            "device_time": consent.device_time, "decided_at": consent.decided_at}


def _check_consent_actor(actor: Actor, quote: Quote, data: dict[str, Any]) -> ConsentChannel:
    """Technician: on a visit of the job (the customer uses the technician's device); customer: own quote;
    dispatcher/admin: channel `staff`, recording a consent the customer gave by phone, email, a signed
    document or in person (its evidence is checked by _check_evidence)."""
    if actor.role is Role.CUSTOMER:
        data["visit_id"] = None
        return ConsentChannel.PORTAL
    if actor.role is Role.TECHNICIAN:
        visit_id = data.get("visit_id")
        visit = db.session.get(Visit, visit_id) if visit_id else db.session.scalar(
            sa.select(Visit).where(Visit.work_order_id == quote.work_order_id,
                                   Visit.technician_id == actor.technician_id).limit(1))
        if visit is None or visit.work_order_id != quote.work_order_id or visit.technician_id != actor.technician_id:
            raise NotFound(f"quote {quote.id} not found")
        data["visit_id"] = visit.id
        return ConsentChannel.DEVICE
    if actor.role in (Role.DISPATCHER, Role.ADMIN):
        visit_id = data.get("visit_id")
        visit = db.session.get(Visit, visit_id) if visit_id else None
        if visit_id and (visit is None or visit.work_order_id != quote.work_order_id):
            raise ValidationFailed("visit_id: not a visit of this quote's work order",
                                   errors={"json": {"visit_id": ["not a visit of this work order"]}})
        return ConsentChannel.STAFF
    raise Forbidden(f"role {actor.role.value} may not record a customer's consent")


EVIDENCE_INPUT = (*consent_rules.EVIDENCE_FIELDS, "evidence_photo_id")
NOT_FROM_STAFF = ("signature_png", "device_id", "device_time")


def _refuse(message: str, errors: dict[str, list[str]]) -> ValidationFailed:
    return ValidationFailed(message, errors={"json": errors})


def _check_evidence(quote: Quote, channel: ConsentChannel, data: dict[str, Any], now: datetime) -> dict[str, Any]:
    """R-REP-4: a consent recorded by staff is shown as such, never as a device signature. It carries no
    signature or device, and needs its evidence: how (evidence_kind), a reference to the record of it
    (evidence_reference), when the customer consented (evidence_at: not in the future, not before the quote
    was presented), optionally the scan of the signed document (evidence_photo_id, a photo of the same work
    order). The customer's own channels (device, link, portal) carry no evidence fields."""
    given = {name: data.get(name) for name in EVIDENCE_INPUT if data.get(name) is not None}
    if channel is not ConsentChannel.STAFF:
        if given:
            raise _refuse(f"{', '.join(given)}: evidence is only for a consent recorded by staff; the customer's "
                          "own decision is bound to the quote by the device, link or portal",
                          {name: ["only for a consent recorded by staff"] for name in given})
        return {}
    device = [name for name in NOT_FROM_STAFF if data.get(name)]
    if device:
        raise _refuse(f"{', '.join(device)}: a consent recorded by staff (R-REP-4) is not a signature on a device; "
                      "it is recorded from its evidence (evidence_kind, evidence_reference, evidence_at)",
                      {name: ["not for a consent recorded by staff"] for name in device})
    reference = (given.get("evidence_reference") or "").strip()
    missing = [name for name in consent_rules.EVIDENCE_FIELDS
               if not (reference if name == "evidence_reference" else given.get(name))]
    if missing:
        raise _refuse(f"a consent recorded by staff needs its evidence (R-REP-4): {', '.join(missing)} missing: how "
                      "the customer consented (phone_call, email, signed_document, in_person), the reference of "
                      "that record (call record number, email id, document number) and when",
                      {name: ["required for a consent recorded by staff"] for name in missing})
    try:
        kind = ConsentEvidenceKind(given["evidence_kind"])
    except ValueError:
        raise _refuse("evidence_kind: one of " + ", ".join(k.value for k in ConsentEvidenceKind),
                      {"evidence_kind": ["unknown evidence kind"]}) from None
    at = given["evidence_at"]
    if at > now:
        raise _refuse("evidence_at: the customer's consent cannot be in the future", {"evidence_at": ["in the future"]})
    if quote.presented_at is not None and at < quote.presented_at:
        raise _refuse(f"evidence_at: before quote {quote.number} was presented; the customer consents to what "
                      "they were shown", {"evidence_at": ["before the quote was presented"]})
    photo_id = given.get("evidence_photo_id")
    if photo_id is not None and db.session.scalar(sa.select(Photo.id).where(
            Photo.id == photo_id, Photo.work_order_id == quote.work_order_id)) is None:
        raise _refuse("evidence_photo_id: not a photo of this quote's work order",
                      {"evidence_photo_id": ["not a photo of this work order"]})
    return {"evidence_kind": kind, "evidence_reference": reference, "evidence_at": at,
            "evidence_photo_id": photo_id}


def record_consent(actor: Actor, quote_id: uuid.UUID, data: dict[str, Any], *, now: datetime | None = None,
                   channel: ConsentChannel | None = None) -> QuoteConsent:
    """The customer accepts or declines a presented quote (R-REP-4), bound to its content SHA-256.

    Refused: 409 quote_not_presented (draft, awaiting approval, or already decided), 409
    content_hash_mismatch (the customer saw other content), 422 for a signature that is not a bounded PNG;
    recorded by staff (channel `staff`): 422 without its evidence or with a signature (_check_evidence).
    """
    now = now or utcnow()
    # a pushed consent skips the API schema
    check_lengths(data, QuoteConsent, ("signer_name", "device_id", "evidence_reference"))
    # the quote row is locked first: two devices deciding at once are serialised, the second sees it decided
    locked = db.session.get(Quote, quote_id, with_for_update=True)
    quote = get_quote(actor, quote_id) if channel is not ConsentChannel.LINK else locked
    assert quote is not None
    channel = channel or _check_consent_actor(actor, quote, data)
    if quote.status is not Q.PRESENTED:
        raise QuoteNotPresented(f"quote {quote.number} is {quote.status.value}; only a presented quote can be "
                                "accepted or declined", current_status=quote.status.value)
    server_hash = content_hash(quote)
    if server_hash != quote.content_sha256:  # content changed after presentation: never bind to it
        raise ContentHashMismatch("the quote's content no longer matches what was presented",
                                  server_sha256=server_hash)
    if data["content_sha256"] != server_hash:
        raise ContentHashMismatch("the hash of the quote the customer saw does not match the server's canonical "
                                  "JSON of this quote; reload it and ask again",
                                  server_sha256=server_hash, client_sha256=data["content_sha256"])
    evidence = _check_evidence(quote, channel, data, now)
    signed_agreement = _check_agreement(quote, data, channel)
    consent_id = data.get("id") or uuid.uuid4()
    if db.session.get(QuoteConsent, consent_id) is not None:
        raise Conflict(f"a consent with id {consent_id} exists")
    png = _decode_png(data["signature_png"]) if data.get("signature_png") else None
    consent = QuoteConsent(
        id=consent_id, quote_id=quote.id, decision=ConsentDecision(data["decision"]), content_sha256=server_hash,
        signer_name=data["signer_name"], channel=channel, visit_id=data.get("visit_id"),
        signature_png=base64.b64encode(png).decode("ascii") if png else None,
        signature_png_sha256=sha256_hex(png) if png else None, agreement_sha256=signed_agreement,
        device_id=data.get("device_id"),
        device_time=data.get("device_time"), decided_at=now, captured_by_user_id=actor.user_id,
        created_at=now, updated_at=now, **evidence)
    db.session.add(consent)
    quote.status = Q.ACCEPTED if consent.decision is ConsentDecision.ACCEPTED else Q.DECLINED
    quote.decided_at = now
    quote.link_token_sha256, quote.link_expires_at = None, None   # a link is single-use
    db.session.flush()
    audit_service.record(actor, f"quote.{consent.decision.value}", quote,
                         {"content_sha256": server_hash, "channel": channel, "consent_id": consent.id,
                          **({"evidence_kind": evidence["evidence_kind"],
                              "evidence_reference": evidence["evidence_reference"]} if evidence else {})}, at=now)
    archive.append(actor, "quote.consent", "quote_consents", consent.id, consent_document(consent), at=now)
    log.info("quote %s %s (consent %s, %s)", quote.id, consent.decision.value, consent.id, channel.value)
    return consent


def get_consent(actor: Actor, quote_id: uuid.UUID) -> QuoteConsent:
    quote = get_quote(actor, quote_id)
    consent = db.session.scalar(sa.select(QuoteConsent).where(QuoteConsent.quote_id == quote.id))
    if consent is None:
        raise NotFound(f"quote {quote.number} has no consent yet")
    return consent


# ---- the customer's link -------------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_link(actor: Actor, quote_id: uuid.UUID, *, now: datetime | None = None) -> dict[str, Any]:
    """A single-use link for the customer to decide on a presented quote (the token is shown once)."""
    now = now or utcnow()
    quote = _writable(actor, quote_id)
    if quote.status is not Q.PRESENTED:
        raise QuoteNotPresented(f"quote {quote.number} is {quote.status.value}; present it first",
                                current_status=quote.status.value)
    token = secrets.token_urlsafe(32)
    quote.link_token_sha256, quote.link_expires_at = _token_hash(token), now + LINK_TTL
    audit_service.record(actor, "quote.link", quote, {"expires_at": quote.link_expires_at}, at=now)
    return {"token": token, "url": f"/api/v1/quote-links/{token}", "page_url": f"/quote/{token}",
            "expires_at": quote.link_expires_at}


def quote_by_link(token: str, *, now: datetime | None = None) -> Quote:
    now = now or utcnow()
    quote = db.session.scalar(sa.select(Quote).where(Quote.link_token_sha256 == _token_hash(token)))
    if quote is None or quote.link_expires_at is None or quote.link_expires_at <= now:
        raise LinkInvalid("this link is unknown, already used or expired; ask for a new one")
    return quote


def link_view(token: str) -> dict[str, Any]:
    quote = quote_by_link(token)
    data = canonical_bytes(canonical_document(quote))
    return {"quote_id": quote.id, "canonical_json": data.decode("utf-8"), "content_sha256": sha256_hex(data)}


def consent_by_link(token: str, data: dict[str, Any], *, now: datetime | None = None) -> QuoteConsent:
    quote = quote_by_link(token, now=now)
    order = db.session.get(WorkOrder, quote.work_order_id)
    assert order is not None
    actor = Actor(user_id=None, role=Role.CUSTOMER, display_name=f"customer link: {data['signer_name']}"[:120],
                  customer_id=order.customer_id)
    return record_consent(actor, quote.id, data, now=now, channel=ConsentChannel.LINK)
