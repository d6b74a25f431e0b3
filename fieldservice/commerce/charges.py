"""Chargeable work recorded on a visit (R-REP-4, R-REP-6, R-REP-8): parts (with serials), labour hours, fees.

On a chargeable job (out of warranty, or with no warranty decision yet) each charge must be covered by a
line of an accepted quote of the job (the original or a supplementary one): same kind and code, and the
quantity charged so far on that line plus this charge not above the quoted quantity. Without that the
charge is refused (409 consent_required, naming the reason); on sync push it is quarantined with it.
On a free warranty job the charge is recorded as warranty work (no price, no consent needed).

A part (R-REP-6), on every job, warranty or not: its code is the part number of an approved, active catalog
part (422 part_not_in_catalog / part_not_approved), in whole units, and it comes from stock through exactly
one issue ledger line: the charge names an existing issue line of that part to the job (`stock_movement_id`,
not backing another charge, same quantity), or recording it issues the parts from the van of the visit's
technician through parts.issue_to_job (stock on hand, serials), and the charge links that line.
The consent arithmetic lives in commerce.consent (models only); this module may import parts.service,
never the reverse.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fieldservice.audit import service as audit_service
from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.commerce import consent
from fieldservice.commerce.models import PriceItemKind, Quote, VisitCharge
from fieldservice.common.lengths import check_lengths
from fieldservice.common.lookup import get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.db import utcnow
from fieldservice.errors import Conflict, NotFound, ValidationFailed
from fieldservice.extensions import db
from fieldservice.parts import service as parts
from fieldservice.parts.models import MovementKind, Part, StockMovement
from fieldservice.scoping import can_see_work_order
from fieldservice.visits import service as visits_service
from fieldservice.visits.models import Visit


def _check_serials(data: dict[str, Any]) -> list[str] | None:
    serials = data.get("serial_numbers")
    if serials is None:
        return None
    if data["kind"] != PriceItemKind.PART:
        raise ValidationFailed("serial_numbers: only parts carry serial numbers",
                               errors={"json": {"serial_numbers": ["only for parts"]}})
    if len(set(serials)) != len(serials):
        raise ValidationFailed("serial_numbers: a serial appears twice", errors={"json": {"serial_numbers": ["duplicate"]}})
    if serials and len(serials) * 100 != data["quantity_centi"]:
        raise ValidationFailed("serial_numbers: one serial per part (quantity)",
                               errors={"json": {"serial_numbers": ["one serial per part"]}})
    return list(serials)


def _whole_units(data: dict[str, Any]) -> int:
    """Parts are counted in whole units: quantity_centi is a multiple of 100."""
    if data["quantity_centi"] % 100:
        raise ValidationFailed("quantity: parts are used in whole units (R-REP-6)",
                               errors={"json": {"quantity": ["a whole number of parts"]}})
    return int(data["quantity_centi"] // 100)


def _linked_issue(visit: Visit, part: Part, quantity: int, serials: list[str] | None,
                  movement_id: uuid.UUID) -> StockMovement:
    """The issue ledger line a part charge names (R-REP-6): an issue of this part to the visit's work order,
    of this quantity, not backing another charge. Locked, so two charges naming it are serialised."""
    get_ref(StockMovement, movement_id, "stock_movement_id", "stock movement")
    movement = db.session.get(StockMovement, movement_id, with_for_update=True)
    assert movement is not None
    wrong = []
    if movement.kind is not MovementKind.ISSUE:
        wrong.append(f"it is a {movement.kind.value} line, not an issue to a job")
    if movement.part_id != part.id:
        wrong.append(f"it issued another part than {part.part_number}")
    if movement.work_order_id != visit.work_order_id:
        wrong.append("it issued the parts to another work order")
    if not wrong and -movement.quantity != quantity:
        wrong.append(f"it issued {-movement.quantity}, the charge is for {quantity}")
    if not wrong and serials and sorted(serials) != sorted(movement.serial_numbers or []):
        wrong.append("its serial numbers differ from the charge's")
    if wrong:
        raise ValidationFailed(f"stock_movement_id: not the issue of these parts (R-REP-6): {'; '.join(wrong)}",
                               errors={"json": {"stock_movement_id": wrong}})
    taken = db.session.scalar(sa.select(VisitCharge.id).where(VisitCharge.stock_movement_id == movement.id))
    if taken is not None:
        raise Conflict(f"stock movement {movement.id} already backs charge {taken}; one issue line per charge "
                       "(R-REP-6)", charge_id=str(taken))
    return movement


def _issue_for_charge(actor: Actor, visit: Visit, part: Part, quantity: int, serials: list[str] | None,
                      data: dict[str, Any], *, now: datetime, device_time: datetime | None) -> StockMovement:
    """The ledger line of a part charge (R-REP-6): the one it names, or a new issue from the van."""
    if data.get("stock_movement_id"):
        return _linked_issue(visit, part, quantity, serials, data["stock_movement_id"])
    return parts.issue_to_job(actor, {"part_id": part.id, "quantity": quantity, "serial_numbers": serials or None},
                              now=now, device_time=device_time, for_visit=visit)


def record_charge(actor: Actor, data: dict[str, Any], *, now: datetime | None = None,
                  device_time: datetime | None = None) -> VisitCharge:
    """Record chargeable work on a visit (its technician, or a dispatcher on their behalf).

    Refused: 409 consent_required on a chargeable job without a covering accepted quote line (R-REP-4),
    409 when the visit is cancelled or completed, 422 for malformed serials; for a part (R-REP-6): 422
    part_not_in_catalog / part_not_approved, 422 for a fraction of a part or a stock_movement_id that is not
    the issue of these parts, 409 insufficient_stock (the van does not hold them) or when the named issue
    line already backs another charge, 422 serial_mismatch."""
    now = now or utcnow()
    check_lengths(data, VisitCharge, ("code", "description"))  # a pushed charge skips the API schema
    # the change counter before the quote lines and the van's balance: the lock order of every stock writer
    parts.take_locks()
    visit = visits_service.visit_for_field_work(actor, data["visit_id"], released_ok=True)
    if visit.status.value in ("cancelled", "completed"):
        raise Conflict(f"the visit is {visit.status.value}; charges are recorded during the work")
    charge_id = data.get("id") or uuid.uuid4()
    if db.session.get(VisitCharge, charge_id) is not None:
        raise Conflict(f"a charge with id {charge_id} exists")
    kind = PriceItemKind(data["kind"])
    serials = _check_serials({**data, "kind": kind})
    part = None
    if kind is PriceItemKind.PART:
        part = parts.usable_part(data["code"])
        quantity = _whole_units(data)
    elif data.get("stock_movement_id"):
        raise ValidationFailed("stock_movement_id: only a part charge is backed by a stock issue",
                               errors={"json": {"stock_movement_id": ["only for kind part"]}})
    charge = VisitCharge(id=charge_id, visit_id=visit.id, work_order_id=visit.work_order_id,
                         technician_id=visit.technician_id, kind=kind, code=data["code"],
                         description=data.get("description"), quantity_centi=data["quantity_centi"],
                         serial_numbers=serials, device_time=device_time or data.get("device_time"), received_at=now)
    if consent.is_chargeable(visit.work_order_id):
        line = consent.covering_line(visit.work_order_id, kind, data["code"], data["quantity_centi"])
        quote = db.session.get(Quote, line.quote_id)
        assert quote is not None
        charge.quote_line_id, charge.unit_price_minor, charge.currency = line.id, line.unit_price_minor, quote.currency
        charge.description = charge.description or line.description
    else:
        charge.warranty = True
    if part is not None:
        movement = _issue_for_charge(actor, visit, part, quantity, serials, data, now=now, device_time=device_time)
        charge.stock_movement_id, charge.serial_numbers = movement.id, movement.serial_numbers
    db.session.add(charge)
    db.session.flush()
    audit_service.record(actor, "visit_charge.create", charge,
                         {"visit_id": visit.id, "kind": kind, "code": charge.code, "quantity_centi": charge.quantity_centi,
                          "quote_line_id": charge.quote_line_id, "warranty": charge.warranty,
                          "stock_movement_id": charge.stock_movement_id}, at=now)
    return charge


def list_charges(actor: Actor, page: PageRequest, *, visit_id: uuid.UUID | None = None,
                 work_order_id: uuid.UUID | None = None) -> Page:
    if visit_id is None and work_order_id is None:
        raise ValidationFailed("give visit_id or work_order_id", errors={"query": {"visit_id": ["required"]}})
    stmt = sa.select(VisitCharge).order_by(VisitCharge.created_at, VisitCharge.id)
    if visit_id:
        visit = db.session.get(Visit, visit_id)
        if visit is None or not can_see_work_order(actor, visit.work_order_id) or (
                actor.role is Role.TECHNICIAN and visit.technician_id != actor.technician_id):
            raise NotFound(f"visit {visit_id} not found")
        stmt = stmt.where(VisitCharge.visit_id == visit_id)
    if work_order_id:
        if not can_see_work_order(actor, work_order_id):
            raise NotFound(f"work order {work_order_id} not found")
        stmt = stmt.where(VisitCharge.work_order_id == work_order_id)
    return paginate(stmt, page)
