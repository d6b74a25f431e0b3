"""Technician and certification use cases, and the availability rules used when assigning (R-TEC-1)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fieldservice.audit import service as audit_service
from fieldservice.auth.models import Role, User
from fieldservice.auth.service import Actor
from fieldservice.catalog.models import ProductLine
from fieldservice.common.lookup import get_or_404, get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.common.search import contains
from fieldservice.db import utcnow
from fieldservice.errors import Conflict, NotCertified, NotFound, ValidationFailed
from fieldservice.extensions import db
from fieldservice.technicians.models import Certification, Technician


def list_technicians(page: PageRequest, *, q: str | None = None, is_active: bool | None = None,
                     product_line_id: uuid.UUID | None = None, certified_on: datetime | None = None) -> Page:
    stmt = sa.select(Technician).order_by(Technician.name, Technician.id)
    if q:
        stmt = stmt.where(contains(Technician.name, q.strip()))
    if is_active is not None:
        stmt = stmt.where(Technician.is_active == is_active)
    if product_line_id:
        day = (certified_on or utcnow()).date()
        stmt = stmt.where(Technician.id.in_(sa.select(Certification.technician_id).where(
            Certification.product_line_id == product_line_id, Certification.revoked_at.is_(None),
            Certification.issued_on <= day, Certification.expires_on >= day)))
    return paginate(stmt, page)


def get_technician(actor: Actor, technician_id: uuid.UUID) -> Technician:
    technician = get_or_404(Technician, technician_id, "technician")
    if actor.role is Role.TECHNICIAN and actor.technician_id != technician.id:
        raise NotFound(f"technician {technician_id} not found")
    return technician


def _check_user_link(user_id: uuid.UUID, except_id: uuid.UUID | None = None) -> None:
    user = get_ref(User, user_id, "user_id", "user")
    if user.role is not Role.TECHNICIAN:
        raise ValidationFailed("the linked login must have role technician",
                               errors={"json": {"user_id": [f"user has role {user.role.value}"]}})
    linked = db.session.scalar(sa.select(Technician.id).where(Technician.user_id == user_id))
    if linked is not None and linked != except_id:
        raise Conflict("that login is already linked to another technician", technician_id=str(linked))


def create_technician(actor: Actor, data: dict[str, Any]) -> Technician:
    if data.get("user_id"):
        _check_user_link(data["user_id"])
    technician = Technician(**data)
    db.session.add(technician)
    db.session.flush()
    audit_service.record(actor, "technician.create", technician, {"name": technician.name})
    return technician


def update_technician(actor: Actor, technician_id: uuid.UUID, data: dict[str, Any]) -> Technician:
    technician = get_technician(actor, technician_id)
    if data.get("user_id"):
        _check_user_link(data["user_id"], except_id=technician.id)
    diff = audit_service.changes(technician, data)
    if diff:
        audit_service.record(actor, "technician.update", technician, diff)
    return technician


def add_certification(actor: Actor, technician_id: uuid.UUID, data: dict[str, Any]) -> Certification:
    technician = get_technician(actor, technician_id)
    get_ref(ProductLine, data["product_line_id"], "product_line_id", "product line")
    if data["expires_on"] < data["issued_on"]:
        raise ValidationFailed("expires_on is before issued_on", errors={"json": {"expires_on": ["before issued_on"]}})
    cert = Certification(technician=technician, **data)
    db.session.add(cert)
    db.session.flush()
    audit_service.record(actor, "certification.create", technician,
                         {"certification_id": cert.id, "product_line_id": cert.product_line_id,
                          "expires_on": cert.expires_on})
    return cert


def revoke_certification(actor: Actor, certification_id: uuid.UUID, *, now: datetime | None = None) -> Certification:
    cert = get_or_404(Certification, certification_id, "certification")
    if cert.revoked_at is None:
        cert.revoked_at = now or utcnow()
        audit_service.record(actor, "certification.revoke", cert.technician, {"certification_id": cert.id})
    return cert


def require_certified(technician: Technician, product_line_id: uuid.UUID, start: datetime, end: datetime) -> None:
    """R-TEC-1: a technician works only with a certification valid for the product line over the whole visit."""
    if not technician.is_active:
        raise NotCertified(f"technician {technician.name} is not active")
    if any(cert.covers(product_line_id, start.date(), end.date()) for cert in technician.certifications):
        return
    line = db.session.get(ProductLine, product_line_id)
    expired = [c for c in technician.certifications if c.product_line_id == product_line_id]
    reason = ("has only expired or revoked certifications" if expired else "has no certification")
    raise NotCertified(
        f"technician {technician.name} {reason} for product line {line.code if line else product_line_id} "
        f"valid from {start.date()} to {end.date()} (R-TEC-1)",
        technician_id=str(technician.id), product_line_id=str(product_line_id))


def certification_gaps(technician_id: uuid.UUID, product_line_ids: set[uuid.UUID], first: Any,
                       last: Any) -> list[ProductLine]:
    """R-TEC-1 ahead of time (a plan or a form warns with it): the product lines among `product_line_ids` for
    which the technician has no certification valid over [first, last] (all of them for an inactive or
    unknown technician). Assignment itself still refuses through require_certified."""
    technician = db.session.get(Technician, technician_id)
    lines = [line for line_id in sorted(product_line_ids, key=str) if (line := db.session.get(ProductLine, line_id))]
    if technician is None or not technician.is_active:
        return lines
    return [line for line in lines if not any(c.covers(line.id, first, last) for c in technician.certifications)]
