"""Whether a job's chargeable work and parts are covered (R-REP-4, R-REP-6), for the lifecycle gate.

`charge_problems(work_order_id)` lists what stands between the job and its completion on the commerce
side; [] for a clean job. The charge and stock paths refuse these cases when the work is recorded (see
commerce.charges, parts.service.issue_to_job); what is listed here are rows that got in before those rules
(legacy rows) or that a later change made uncovered (a warranty decision turned chargeable, a quote's
content changed after the consent). Models only: the gate imports this without importing any service.
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa

from fieldservice.commerce.consent import (
    EVIDENCE_FIELDS,
    accepted_quote_ids,
    format_quantity,
    is_chargeable,
    issued_to_job,
    parts_consent_applies,
    quoted_part_centi,
)
from fieldservice.commerce.models import (
    ConsentChannel,
    ConsentDecision,
    PriceItemKind,
    Quote,
    QuoteConsent,
    QuoteLine,
    VisitCharge,
)
from fieldservice.extensions import db
from fieldservice.workorders.models import WorkOrder

Problem = dict[str, str]


def _problem(code: str, rule: str, message: str) -> Problem:
    return {"code": code, "rule": rule, "message": message}


def _charge_label(charge: VisitCharge) -> str:
    return f"{charge.kind.value} {charge.code!r} x {format_quantity(charge.quantity_centi)} (charge {charge.id})"


def _charges(work_order_id: uuid.UUID) -> list[VisitCharge]:
    return list(db.session.scalars(sa.select(VisitCharge).where(VisitCharge.work_order_id == work_order_id)
                                   .order_by(VisitCharge.created_at, VisitCharge.id)))


def _parts_not_from_stock(charges: list[VisitCharge]) -> list[Problem]:
    """R-REP-6: every part used on a job is issued from stock, one ledger line per part charge."""
    return [_problem("part_charge_not_issued", "R-REP-6",
                     f"{_charge_label(c)} has no stock issue line: parts used on a job are issued from stock")
            for c in charges if c.kind is PriceItemKind.PART and c.stock_movement_id is None]


def _parts_beyond_consent(order: WorkOrder) -> list[Problem]:
    """R-REP-4: parts issued to a chargeable repair beyond the part lines of the accepted quotes."""
    if not parts_consent_applies(order):
        return []
    problems = []
    for number, on_job in sorted(issued_to_job(order.id).items()):
        quoted = quoted_part_centi(order.id, number)
        if on_job * 100 > quoted:
            problems.append(_problem(
                "parts_issued_beyond_consent", "R-REP-4",
                f"part {number!r}: {on_job} issued to repair job {order.number}, accepted quotes cover "
                f"{format_quantity(quoted)}; the customer's consent is needed before parts are used"))
    return problems


def _charges_without_consent(order: WorkOrder, charges: list[VisitCharge]) -> list[Problem]:
    """R-REP-4: on a chargeable job, each charge stays covered by a quote line whose quote the customer
    accepted with a consent bound to the quote's current hash."""
    if not is_chargeable(order.id):
        return []
    line_ids = {c.quote_line_id for c in charges if c.quote_line_id is not None}
    accepted_lines = set(db.session.scalars(sa.select(QuoteLine.id).where(
        QuoteLine.id.in_(line_ids), QuoteLine.quote_id.in_(accepted_quote_ids(order.id))))) if line_ids else set()
    problems = []
    for charge in charges:
        if charge.quote_line_id is None:
            problems.append(_problem(
                "charge_without_consent", "R-REP-4",
                f"{_charge_label(charge)} is not covered by an accepted quote line, and the job is chargeable"))
        elif charge.quote_line_id not in accepted_lines:
            problems.append(_problem(
                "consent_not_matching_quote", "R-REP-4",
                f"{_charge_label(charge)}: the consent to its quote no longer matches the quote's content hash "
                "(or the quote is no longer accepted)"))
    return problems


def _staff_consents_without_evidence(work_order_id: uuid.UUID) -> list[Problem]:
    """R-REP-4: an acceptance recorded by staff stands only with its evidence (rows from before the rule)."""
    missing = sa.or_(*(getattr(QuoteConsent, name).is_(None) for name in EVIDENCE_FIELDS))
    rows = db.session.execute(sa.select(Quote.number, QuoteConsent.id).join(Quote, Quote.id == QuoteConsent.quote_id)
                              .where(Quote.work_order_id == work_order_id,
                                     QuoteConsent.channel == ConsentChannel.STAFF,
                                     QuoteConsent.decision == ConsentDecision.ACCEPTED, missing)
                              .order_by(Quote.number)).all()
    return [_problem("staff_consent_without_evidence", "R-REP-4",
                     f"the acceptance of quote {number} (consent {consent_id}) was recorded by staff without "
                     "evidence of the customer's consent (evidence_kind, evidence_reference, evidence_at)")
            for number, consent_id in rows]


def charge_problems(work_order_id: uuid.UUID) -> list[Problem]:
    """What keeps the job's charges and parts from being covered, each {"code", "rule", "message"}:
    part charges with no stock issue line (R-REP-6, `part_charge_not_issued`); parts issued to a chargeable
    repair job beyond what accepted quotes cover (R-REP-4, `parts_issued_beyond_consent`); charges on a
    chargeable job without a covering quote line (`charge_without_consent`) or whose quote's consent no
    longer matches the quote's hash (`consent_not_matching_quote`); acceptances recorded by staff without
    evidence (`staff_consent_without_evidence`). [] for a clean job (and for an unknown id)."""
    order = db.session.get(WorkOrder, work_order_id)
    if order is None:
        return []
    charges = _charges(order.id)
    return [*_parts_not_from_stock(charges), *_parts_beyond_consent(order),
            *_charges_without_consent(order, charges), *_staff_consents_without_evidence(order.id)]
