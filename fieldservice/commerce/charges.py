"""Chargeable work recorded on a visit (R-REP-4, R-REP-8): parts (with serials), labour hours, fees.

On a chargeable job (out of warranty, or with no warranty decision yet) each charge must be covered by a
line of an accepted quote of the job (the original or a supplementary one): same kind and code, and the
quantity charged so far on that line plus this charge not above the quoted quantity. Without that the
charge is refused (409 consent_required, naming the reason); on sync push it is quarantined with it.
On a free warranty job the charge is recorded as warranty work (no price, no consent needed).
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fieldservice.audit import service as audit_service
from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.commerce import warranty
from fieldservice.commerce.errors import ConsentRequired
from fieldservice.commerce.models import (
    ConsentDecision,
    PriceItemKind,
    Quote,
    QuoteConsent,
    QuoteLine,
    QuoteStatus,
    VisitCharge,
)
from fieldservice.commerce.quotes import format_quantity
from fieldservice.common.lengths import check_lengths
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.db import utcnow
from fieldservice.errors import Conflict, NotFound, ValidationFailed
from fieldservice.extensions import db
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


def _accepted_quote_ids(work_order_id: uuid.UUID) -> sa.Select[Any]:
    """The job's quotes the customer accepted, by a consent bound to the quote's current hash (R-REP-4)."""
    return sa.select(Quote.id).join(QuoteConsent, QuoteConsent.quote_id == Quote.id).where(
        Quote.work_order_id == work_order_id, Quote.status == QuoteStatus.ACCEPTED,
        QuoteConsent.decision == ConsentDecision.ACCEPTED, QuoteConsent.content_sha256 == Quote.content_sha256)


def covering_line(work_order_id: uuid.UUID, kind: PriceItemKind, code: str, quantity_centi: int) -> QuoteLine:
    """The accepted quote line that covers this much more work, or ConsentRequired saying why not."""
    accepted = _accepted_quote_ids(work_order_id)
    lines = list(db.session.scalars(sa.select(QuoteLine).where(
        QuoteLine.quote_id.in_(accepted), QuoteLine.kind == kind, QuoteLine.code == code)
        .order_by(QuoteLine.created_at, QuoteLine.position)
        # locked: two charges against the last quoted unit are serialised, the second sees the first (PostgreSQL)
        .with_for_update(of=QuoteLine)))
    if not lines:
        declined = db.session.scalar(sa.select(Quote.number).where(
            Quote.work_order_id == work_order_id, Quote.status == QuoteStatus.DECLINED).limit(1))
        pending = db.session.scalar(sa.select(Quote.number).where(
            Quote.work_order_id == work_order_id, Quote.status.in_(
                (QuoteStatus.DRAFT, QuoteStatus.PENDING_APPROVAL, QuoteStatus.APPROVED, QuoteStatus.PRESENTED)))
            .limit(1))
        why = f"no accepted quote of this job has a {kind.value} line {code!r}"
        if declined and not pending:
            why += f" (the customer declined quote {declined})"
        elif pending:
            why += f" (quote {pending} is still awaiting the customer's decision)"
        raise ConsentRequired(f"chargeable work needs the customer's consent first (R-REP-4): {why}; "
                              "add a supplementary quote for additional work", reason="no_accepted_quote_line",
                              kind=kind.value, item_code=code)
    used = dict(db.session.execute(sa.select(VisitCharge.quote_line_id, sa.func.sum(VisitCharge.quantity_centi))
                                   .where(VisitCharge.quote_line_id.in_([line.id for line in lines]))
                                   .group_by(VisitCharge.quote_line_id)).all())
    for line in lines:
        if (used.get(line.id) or 0) + quantity_centi <= line.quantity_centi:
            return line
    quoted = sum(line.quantity_centi for line in lines)
    charged = sum(int(v or 0) for v in used.values())
    raise ConsentRequired(
        f"chargeable work needs the customer's consent first (R-REP-4): {kind.value} {code!r} is quoted "
        f"{format_quantity(quoted)}, {format_quantity(charged)} already charged; "
        f"{format_quantity(quantity_centi)} more needs a supplementary quote", reason="exceeds_accepted_quantity",
        kind=kind.value, item_code=code, quoted=format_quantity(quoted), charged=format_quantity(charged))


def require_consent_for_parts(work_order_id: uuid.UUID, part_code: str, quantity: int) -> None:
    """R-REP-4 on the stock path: parts issued from a van to a chargeable repair job need an accepted quote
    whose part lines for `part_code` cover everything issued to the job so far plus `quantity`. Work orders
    that are not repairs (installation, maintenance under contract) and free warranty jobs are not charged."""
    from fieldservice.parts.models import MovementKind, StockMovement
    from fieldservice.workorders.models import WorkOrder, WorkOrderKind

    order = db.session.get(WorkOrder, work_order_id)
    if order is None or order.kind is not WorkOrderKind.REPAIR or not warranty.is_chargeable(work_order_id):
        return
    accepted = _accepted_quote_ids(work_order_id)
    quoted_centi = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(QuoteLine.quantity_centi), 0)).where(
        QuoteLine.quote_id.in_(accepted), QuoteLine.kind == PriceItemKind.PART, QuoteLine.code == part_code)) or 0
    # issues are negative ledger lines, returns positive: what is on the job now is minus their sum
    on_job = -(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(StockMovement.quantity), 0)).where(
        StockMovement.work_order_id == work_order_id, StockMovement.kind.in_((MovementKind.ISSUE, MovementKind.RETURN)),
        StockMovement.part_id.in_(_part_ids(part_code)))) or 0)
    if (on_job + quantity) * 100 > quoted_centi:
        raise ConsentRequired(
            f"chargeable work needs the customer's consent first (R-REP-4): part {part_code!r} on repair job "
            f"{order.number} is quoted {format_quantity(int(quoted_centi))} in accepted quotes, {on_job} already "
            f"issued; {quantity} more needs a (supplementary) quote the customer accepts",
            reason="parts_not_quoted", kind=PriceItemKind.PART.value, item_code=part_code)


def _part_ids(part_code: str) -> sa.Select[Any]:
    from fieldservice.parts.models import Part

    return sa.select(Part.id).where(Part.part_number == part_code)


def record_charge(actor: Actor, data: dict[str, Any], *, now: datetime | None = None,
                  device_time: datetime | None = None) -> VisitCharge:
    """Record chargeable work on a visit (its technician, or a dispatcher on their behalf).

    Refused: 409 consent_required on a chargeable job without a covering accepted quote line (R-REP-4),
    409 when the visit is cancelled or completed, 422 for malformed serials."""
    now = now or utcnow()
    check_lengths(data, VisitCharge, ("code", "description"))  # a pushed charge skips the API schema
    visit = visits_service.visit_for_field_work(actor, data["visit_id"], released_ok=True)
    if visit.status.value in ("cancelled", "completed"):
        raise Conflict(f"the visit is {visit.status.value}; charges are recorded during the work")
    charge_id = data.get("id") or uuid.uuid4()
    if db.session.get(VisitCharge, charge_id) is not None:
        raise Conflict(f"a charge with id {charge_id} exists")
    kind = PriceItemKind(data["kind"])
    serials = _check_serials({**data, "kind": kind})
    charge = VisitCharge(id=charge_id, visit_id=visit.id, work_order_id=visit.work_order_id,
                         technician_id=visit.technician_id, kind=kind, code=data["code"],
                         description=data.get("description"), quantity_centi=data["quantity_centi"],
                         serial_numbers=serials, device_time=device_time or data.get("device_time"), received_at=now)
    if warranty.is_chargeable(visit.work_order_id):
        line = covering_line(visit.work_order_id, kind, data["code"], data["quantity_centi"])
        quote = db.session.get(Quote, line.quote_id)
        assert quote is not None
        charge.quote_line_id, charge.unit_price_minor, charge.currency = line.id, line.unit_price_minor, quote.currency
        charge.description = charge.description or line.description
    else:
        charge.warranty = True
    db.session.add(charge)
    db.session.flush()
    audit_service.record(actor, "visit_charge.create", charge,
                         {"visit_id": visit.id, "kind": kind, "code": charge.code, "quantity_centi": charge.quantity_centi,
                          "quote_line_id": charge.quote_line_id, "warranty": charge.warranty}, at=now)
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
