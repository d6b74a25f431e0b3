"""Carrier damage claims (R-INS-2): created from an installation sheet that records packaging/goods damage
with photos, then worked by the office: open -> submitted -> settled | rejected.

The claim is made by `sync_from_sheet`, which the records service calls whenever an installation sheet is
created, edited or corrected, so a sheet that arrives by the JSON API and one that arrives by sync push
create the same claim. Damage without photos never gets here: the sheet itself is refused (422).
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fieldservice.audit import service as audit_service
from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.claims.models import CLAIM_TRANSITIONS, CarrierClaim, ClaimStatus
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.db import utcnow
from fieldservice.errors import InvalidTransition, NotFound, StaleVersion, ValidationFailed
from fieldservice.extensions import db
from fieldservice.photos.models import Photo
from fieldservice.scoping import visible_work_order_ids

log = logging.getLogger(__name__)

OFFICE_ROLES = (Role.OFFICE, Role.ADMIN, Role.DISPATCHER)


def sync_from_sheet(actor: Actor, record: Any, order: Any, *, now: datetime | None = None) -> CarrierClaim | None:
    """R-INS-2: an installation sheet whose packaging is damaged (with photos, checked by the sheet's schema)
    has exactly one claim. A later edit of the sheet refreshes the evidence while the claim is still open;
    a claim already submitted to the carrier keeps what was sent."""
    now = now or utcnow()
    packaging = (record.content or {}).get("packaging") or {}
    if not packaging.get("damaged"):
        return None
    photo_ids = [str(p) for p in packaging.get("photo_ids") or []]
    claim = db.session.scalar(sa.select(CarrierClaim).where(CarrierClaim.record_root_id == record.root_id))
    evidence = {"record_id": record.id, "description": packaging.get("description"), "photo_ids": photo_ids}
    for name in ("carrier_name", "waybill_no"):
        if packaging.get(name):
            evidence[name] = packaging[name]
    if claim is None:
        claim = CarrierClaim(record_root_id=record.root_id, work_order_id=order.id, customer_id=order.customer_id,
                             status=ClaimStatus.OPEN, currency="CNY", status_changed_at=now, **evidence)
        db.session.add(claim)
        db.session.flush()
        audit_service.record(actor, "carrier_claim.create", claim,
                             {"record_id": record.id, "photos": len(photo_ids)}, at=now)
        log.info("carrier claim %s opened from installation sheet %s", claim.id, record.id)
    elif claim.status is ClaimStatus.OPEN:
        diff = audit_service.changes(claim, evidence)
        if diff:
            audit_service.record(actor, "carrier_claim.update", claim, {**diff, "cause": "installation sheet edited"},
                                 at=now)
    _link_photos(claim, photo_ids)
    return claim


def _link_photos(claim: CarrierClaim, photo_ids: list[str]) -> None:
    if photo_ids:
        db.session.execute(sa.update(Photo).where(Photo.id.in_([uuid.UUID(p) for p in photo_ids]),
                                                  Photo.work_order_id == claim.work_order_id)
                           .values(damage_claim_id=claim.id))


def _scoped(actor: Actor, stmt: sa.Select[Any]) -> sa.Select[Any]:
    visible = visible_work_order_ids(actor)
    return stmt if visible is None else stmt.where(CarrierClaim.work_order_id.in_(visible))


def list_claims(actor: Actor, page: PageRequest, *, status: list[ClaimStatus] | None = None,
                customer_id: uuid.UUID | None = None, work_order_id: uuid.UUID | None = None) -> Page:
    """Claims, newest first (office: all; a technician: those of their visits' work orders)."""
    stmt = _scoped(actor, sa.select(CarrierClaim).order_by(CarrierClaim.created_at.desc(), CarrierClaim.id))
    if status:
        stmt = stmt.where(CarrierClaim.status.in_(status))
    if customer_id:
        stmt = stmt.where(CarrierClaim.customer_id == customer_id)
    if work_order_id:
        stmt = stmt.where(CarrierClaim.work_order_id == work_order_id)
    return paginate(stmt, page)


def get_claim(actor: Actor, claim_id: uuid.UUID) -> CarrierClaim:
    claim = db.session.scalar(_scoped(actor, sa.select(CarrierClaim).where(CarrierClaim.id == claim_id)))
    if claim is None:
        raise NotFound(f"carrier claim {claim_id} not found")
    return claim


def update_claim(actor: Actor, claim_id: uuid.UUID, data: dict[str, Any], *, now: datetime | None = None) -> CarrierClaim:
    """The office works the claim: carrier, waybill, amount (minor units + currency), notes, and the status
    (open -> submitted -> settled | rejected). Submitting needs the carrier and the claimed amount; settling
    needs the settled amount. Raises 409 invalid_transition, 409 stale_version, 422."""
    now = now or utcnow()
    actor.require(*OFFICE_ROLES)
    claim = get_claim(actor, claim_id)
    expected = data.pop("version", None)
    if expected is not None and expected != claim.version:
        raise StaleVersion(f"version {expected} is stale; the current version is {claim.version}",
                           current_version=claim.version)
    target: ClaimStatus | None = data.pop("status", None)
    if claim.status in (ClaimStatus.SETTLED, ClaimStatus.REJECTED) and (data or (target and target != claim.status)):
        raise InvalidTransition(f"the claim is {claim.status.value} and can no longer change",
                                current_status=claim.status.value)
    diff = audit_service.changes(claim, data)
    if target is not None and target != claim.status:
        if target not in CLAIM_TRANSITIONS[claim.status]:
            raise InvalidTransition(f"a {claim.status.value} claim cannot become {target.value}",
                                    current_status=claim.status.value,
                                    allowed_transitions=[s.value for s in CLAIM_TRANSITIONS[claim.status]])
        if target is ClaimStatus.SUBMITTED:
            missing = [f for f in ("carrier_name", "amount_minor") if not getattr(claim, f)]
            if missing:
                raise ValidationFailed(f"a claim is submitted with {' and '.join(missing)}",
                                       errors={"json": {f: ["required to submit"] for f in missing}})
        if target is ClaimStatus.SETTLED and claim.settled_amount_minor is None:
            raise ValidationFailed("a settled claim needs settled_amount_minor",
                                   errors={"json": {"settled_amount_minor": ["required to settle"]}})
        diff["status"] = {"from": claim.status.value, "to": target.value}
        claim.status, claim.status_changed_at = target, now
    if diff:
        audit_service.record(actor, "carrier_claim.update", claim, diff, at=now)
    return claim
