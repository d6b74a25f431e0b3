"""The consent arithmetic of R-REP-4, shared by the charge path and the stock path.

Which jobs are chargeable, which quotes the customer accepted (a consent bound to the quote's current
hash; one recorded by staff only with its evidence), which accepted quote line covers more work, and
whether accepted quotes cover the parts issued to a repair job. This module imports only models (and the
error types), so `parts.service` and `commerce.charges` both use it without importing each other's
services: `commerce.charges` may import `parts.service`, never the reverse.
"""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from fieldservice.commerce.errors import ConsentRequired
from fieldservice.commerce.models import (
    ConsentChannel,
    ConsentDecision,
    PriceItemKind,
    Quote,
    QuoteConsent,
    QuoteLine,
    QuoteStatus,
    VisitCharge,
    WarrantyDecision,
)
from fieldservice.extensions import db
from fieldservice.parts.models import MovementKind, Part, StockMovement
from fieldservice.workorders.models import WorkOrder, WorkOrderKind

EVIDENCE_FIELDS = ("evidence_kind", "evidence_reference", "evidence_at")
"""What a consent recorded by staff must carry (R-REP-4); evidence_photo_id is optional."""


def format_quantity(centi: int) -> str:
    return f"{centi // 100}.{centi % 100:02d}"


def is_chargeable(work_order_id: uuid.UUID) -> bool:
    """Whether work on the job is chargeable: yes unless a warranty decision says it is free. A job with no
    decision is treated as chargeable (R-REP-4: no consent, no chargeable work)."""
    chargeable = db.session.scalar(sa.select(WarrantyDecision.chargeable).where(
        WarrantyDecision.work_order_id == work_order_id))
    return True if chargeable is None else bool(chargeable)


def evidenced() -> sa.ColumnElement[bool]:
    """A consent that counts as given: any consent the customer gave themselves, or one recorded by staff
    with its evidence (legacy staff rows without it do not count)."""
    return sa.or_(QuoteConsent.channel != ConsentChannel.STAFF,
                  sa.and_(*(getattr(QuoteConsent, name).is_not(None) for name in EVIDENCE_FIELDS)))


def accepted_quote_ids(work_order_id: uuid.UUID) -> sa.Select[Any]:
    """The job's quotes the customer accepted, by a consent bound to the quote's current hash (R-REP-4)."""
    return sa.select(Quote.id).join(QuoteConsent, QuoteConsent.quote_id == Quote.id).where(
        Quote.work_order_id == work_order_id, Quote.status == QuoteStatus.ACCEPTED,
        QuoteConsent.decision == ConsentDecision.ACCEPTED, QuoteConsent.content_sha256 == Quote.content_sha256,
        evidenced())


def covering_line(work_order_id: uuid.UUID, kind: PriceItemKind, code: str, quantity_centi: int) -> QuoteLine:
    """The accepted quote line that covers this much more work, or ConsentRequired saying why not."""
    accepted = accepted_quote_ids(work_order_id)
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


def parts_consent_applies(order: WorkOrder | None) -> bool:
    """Parts on the job are charged to the customer: a repair that is chargeable. Installations, maintenance
    under contract and free warranty repairs are not."""
    return order is not None and order.kind is WorkOrderKind.REPAIR and is_chargeable(order.id)


def quoted_part_centi(work_order_id: uuid.UUID, part_code: str) -> int:
    """Hundredths of `part_code` on the part lines of the job's accepted quotes."""
    return int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(QuoteLine.quantity_centi), 0)).where(
        QuoteLine.quote_id.in_(accepted_quote_ids(work_order_id)), QuoteLine.kind == PriceItemKind.PART,
        QuoteLine.code == part_code)) or 0)


def issued_to_job(work_order_id: uuid.UUID) -> dict[str, int]:
    """Units of each part (by part number) on the job now: issues are negative ledger lines, returns
    positive, so what is on the job is minus their sum. Parts all returned are left out."""
    rows = db.session.execute(
        sa.select(Part.part_number, sa.func.sum(StockMovement.quantity))
        .join(Part, Part.id == StockMovement.part_id)
        .where(StockMovement.work_order_id == work_order_id,
               StockMovement.kind.in_((MovementKind.ISSUE, MovementKind.RETURN)))
        .group_by(Part.part_number)).all()
    return {number: -int(total) for number, total in rows if total and -int(total) > 0}


def require_consent_for_parts(work_order_id: uuid.UUID, part_code: str, quantity: int) -> None:
    """R-REP-4 on the stock path: parts issued from a van to a chargeable repair job need an accepted quote
    whose part lines for `part_code` cover everything issued to the job so far plus `quantity`. Work orders
    that are not repairs (installation, maintenance under contract) and free warranty jobs are not charged."""
    order = db.session.get(WorkOrder, work_order_id)
    if not parts_consent_applies(order):
        return
    assert order is not None
    quoted_centi = quoted_part_centi(work_order_id, part_code)
    on_job = issued_to_job(work_order_id).get(part_code, 0)
    if (on_job + quantity) * 100 > quoted_centi:
        raise ConsentRequired(
            f"chargeable work needs the customer's consent first (R-REP-4): part {part_code!r} on repair job "
            f"{order.number} is quoted {format_quantity(quoted_centi)} in accepted quotes, {on_job} already "
            f"issued; {quantity} more needs a (supplementary) quote the customer accepts",
            reason="parts_not_quoted", kind=PriceItemKind.PART.value, item_code=part_code)
