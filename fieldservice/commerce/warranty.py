"""Warranty terms and the in/out-of-warranty decision for a job (R-RET-1, R-RET-2, R-REP-8).

Terms are data (`warranty_terms`), per product and overridable per sales contract; the most specific
row wins: (contract, product), (contract, any product), (any contract, product), the company default
row (neither). With no row at all the DOMAIN.md defaults apply (DEFAULT_TERMS) and the decision says so.

The decision, for a work order, from the asset's warranty dates and the fault type:
1. fault `no_reason` within `no_reason_return_days` of the start (delivery/installation): no-reason return;
2. a covered fault (quality) within `quality_return_months`: return or exchange at the company's cost;
3. a covered fault within the warranty period: free warranty repair (parts and labour free, R-REP-8);
4. otherwise: paid repair (quoted before any chargeable work, R-REP-8).
Shipping follows fault (R-RET-2): the terms' `shipping_liability` per fault type; a fault type not listed
is "unclear": the company pays outbound, the customer pays the return. After the first month a paid repair
(out of warranty, or a fault not covered) is the customer's, shipping both ways included, whatever the fault
(R-RET-1; seed 003: "超过一个月则...有偿维修，维修费用与运费均由客户承担").

The report date the windows are counted to is resolved by `report_dates.resolve` (R-RET-1): the job's
server-stamped report, or a later date, or an earlier one only with evidence from the office.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from fieldservice.assets.service import warranty_end_for
from fieldservice.audit import service as audit_service
from fieldservice.auth.service import Actor
from fieldservice.catalog.models import Product
from fieldservice.commerce import report_dates
from fieldservice.commerce.consent import is_chargeable as is_chargeable  # re-exported: the rule lives there
from fieldservice.commerce.models import Payer, WarrantyDecision, WarrantyOption, WarrantyTerms
from fieldservice.commerce.report_dates import ReportDate
from fieldservice.common.lookup import get_or_404, get_ref
from fieldservice.contracts.models import SalesContract, SalesContractLine
from fieldservice.db import utcnow
from fieldservice.errors import Conflict, NotFound, ValidationFailed
from fieldservice.extensions import db
from fieldservice.workorders import service as workorders

NO_REASON = "no_reason"
UNCLEAR = "unclear"
DEFAULT_TERMS: dict[str, Any] = {
    "warranty_months": None,
    "covered_fault_types": ["quality"],
    "no_reason_return_days": 7,          # R-RET-1
    "quality_return_months": 1,          # R-RET-1
    # R-RET-2: whoever is at fault pays ("outbound": the company's shipment to the customer, "return": the
    # customer's shipment back). These apply within the windows and the warranty; a paid repair after the
    # first month is PAID_REPAIR_SHIPPING whatever the fault (R-RET-1).
    "shipping_liability": {
        # seeds 003/001: a quality fault is returned, exchanged or repaired at the company's cost
        "quality": {"outbound": "company", "return": "company"},
        # seed 001: a no-reason return or exchange: the customer pays shipping both ways (双向邮费)
        "no_reason": {"outbound": "customer", "return": "customer"},
        # not a quality problem: the customer's (seed 003 B: 非质量问题...运费应由客户自己承担)
        "misuse": {"outbound": "customer", "return": "customer"},
        "wear": {"outbound": "customer", "return": "customer"},
    },
}
UNCLEAR_LIABILITY = {"outbound": "company", "return": "customer"}   # R-RET-2: unclear cases (seed 001)
PAID_REPAIR_SHIPPING = {"outbound": "customer", "return": "customer"}  # R-RET-1: after the first month


# ---- terms ---------------------------------------------------------------------------------------

def _check_terms(data: dict[str, Any]) -> None:
    for fault, payers in (data.get("shipping_liability") or {}).items():
        if not isinstance(payers, dict) or set(payers) != {"outbound", "return"} or \
                any(p not in (Payer.COMPANY.value, Payer.CUSTOMER.value) for p in payers.values()):
            raise ValidationFailed(f"shipping_liability.{fault}: give outbound and return, each company or customer",
                                   errors={"json": {"shipping_liability": {fault: ["outbound/return: company|customer"]}}})


def create_terms(actor: Actor, data: dict[str, Any]) -> WarrantyTerms:
    """Terms for a product, a contract, both, or the company default (neither). One row per combination."""
    if data.get("product_id"):
        get_ref(Product, data["product_id"], "product_id", "product")
    if data.get("contract_id"):
        get_ref(SalesContract, data["contract_id"], "contract_id", "sales contract")
    _check_terms(data)
    existing = db.session.scalar(sa.select(WarrantyTerms.id).where(
        _null_or_eq(WarrantyTerms.product_id, data.get("product_id")),
        _null_or_eq(WarrantyTerms.contract_id, data.get("contract_id"))))
    if existing is not None:
        raise Conflict("terms for this product/contract exist; change them instead", existing_id=str(existing))
    terms = WarrantyTerms(**data)
    db.session.add(terms)
    db.session.flush()
    audit_service.record(actor, "warranty_terms.create", terms, data)
    return terms


def update_terms(actor: Actor, terms_id: uuid.UUID, data: dict[str, Any]) -> WarrantyTerms:
    terms = get_or_404(WarrantyTerms, terms_id, "warranty terms")
    _check_terms(data)
    diff = audit_service.changes(terms, data)
    if diff:
        audit_service.record(actor, "warranty_terms.update", terms, diff)
    return terms


def list_terms(*, product_id: uuid.UUID | None = None) -> list[WarrantyTerms]:
    stmt = sa.select(WarrantyTerms).order_by(WarrantyTerms.created_at, WarrantyTerms.id).limit(1000)
    if product_id:
        stmt = stmt.where(WarrantyTerms.product_id == product_id)
    return list(db.session.scalars(stmt))


def _null_or_eq(column: Any, value: Any) -> Any:
    return column.is_(None) if value is None else column == value


def terms_for(product_id: uuid.UUID, contract_id: uuid.UUID | None) -> WarrantyTerms | None:
    """The most specific terms row for a product under a contract (or None: DEFAULT_TERMS apply)."""
    candidates = [(contract_id, product_id), (contract_id, None)] if contract_id else []
    candidates += [(None, product_id), (None, None)]
    for contract, product in candidates:
        terms = db.session.scalar(sa.select(WarrantyTerms).where(
            _null_or_eq(WarrantyTerms.contract_id, contract), _null_or_eq(WarrantyTerms.product_id, product)))
        if terms is not None:
            return terms
    return None


# ---- decision ------------------------------------------------------------------------------------

def evaluate(*, fault_type: str, reported_on: date, start: date | None, warranty_end: date | None,
             terms: dict[str, Any]) -> dict[str, Any]:
    """The pure rule: which option applies and who pays shipping, with the reasons (tested directly)."""
    covered = fault_type in terms["covered_fault_types"]
    liability = terms["shipping_liability"].get(fault_type, UNCLEAR_LIABILITY)
    basis: dict[str, Any] = {"start": start, "warranty_end": warranty_end, "fault_covered": covered}
    if start is None or reported_on < start:
        in_warranty = False
        option = WarrantyOption.PAID_REPAIR
        basis["reason"] = "no warranty start recorded for the unit" if start is None else \
            "reported before the warranty start"
    else:
        in_warranty = warranty_end is not None and reported_on <= warranty_end
        no_reason_until = start + relativedelta(days=terms["no_reason_return_days"] - 1)
        quality_until = start + relativedelta(months=terms["quality_return_months"]) - relativedelta(days=1)
        basis.update(no_reason_return_until=no_reason_until, quality_return_until=quality_until)
        if fault_type == NO_REASON:
            if reported_on <= no_reason_until:
                option, basis["reason"] = WarrantyOption.NO_REASON_RETURN, "within the no-reason return window"
            else:
                option, basis["reason"] = WarrantyOption.PAID_REPAIR, "the no-reason return window has passed"
        elif covered and reported_on <= quality_until:
            option = WarrantyOption.QUALITY_RETURN_OR_EXCHANGE
            basis["reason"] = "quality fault within the return/exchange window: at the company's cost"
        elif covered and in_warranty:
            option, basis["reason"] = WarrantyOption.WARRANTY_REPAIR, "covered fault within the warranty period"
        elif in_warranty:
            option, basis["reason"] = WarrantyOption.PAID_REPAIR, f"fault type {fault_type!r} is not covered"
        else:
            option, basis["reason"] = WarrantyOption.PAID_REPAIR, "out of warranty"
    past_first_month = start is None or reported_on > basis.get("quality_return_until", reported_on)
    if option is WarrantyOption.PAID_REPAIR and past_first_month:
        # R-RET-1: after the first month a paid repair's shipping is the customer's both ways, a quality
        # fault out of warranty included; within it a fault follows R-RET-2 (unclear: company outbound,
        # customer return)
        liability = PAID_REPAIR_SHIPPING
    return {
        "in_warranty": in_warranty, "option": option,
        "chargeable": option is WarrantyOption.PAID_REPAIR,
        "shipping_outbound_payer": Payer(liability["outbound"]), "shipping_return_payer": Payer(liability["return"]),
        "basis": basis,
    }


def _terms_dict(terms: WarrantyTerms | None) -> dict[str, Any]:
    if terms is None:
        return dict(DEFAULT_TERMS)
    return {"warranty_months": terms.warranty_months, "covered_fault_types": list(terms.covered_fault_types),
            "no_reason_return_days": terms.no_reason_return_days,
            "quality_return_months": terms.quality_return_months,
            "shipping_liability": dict(terms.shipping_liability)}


def decide(actor: Actor, work_order_id: uuid.UUID, data: dict[str, Any], *, now: datetime | None = None,
           report: ReportDate | None = None) -> WarrantyDecision:
    """Decide and store the warranty outcome for a job (replacing an earlier decision). The unit's warranty
    start is the asset's warranty_start (else install date, else the contract line's ship or sale date);
    its end is the asset's warranty_end, or start + the terms' (else the product's) warranty months.
    The report date is `report` when the caller already resolved it (a return case), else resolved from
    `data` (`reported_on`, `reported_on_evidence`) by report_dates.resolve: the job's report by default, a
    later day, or an earlier one by the office with evidence (R-RET-1; raises what resolve raises)."""
    now = now or utcnow()
    order = workorders.get_work_order(actor, work_order_id)
    if report is None:
        report = report_dates.resolve(actor, order, data, now=now)
    asset = order.asset
    contract_line = db.session.get(SalesContractLine, asset.contract_line_id) if asset and asset.contract_line_id \
        else None
    terms_row = terms_for(order.product_id, contract_line.contract_id if contract_line else None)
    terms = _terms_dict(terms_row)
    start = None
    if asset is not None:
        start = asset.warranty_start or asset.install_date
    if start is None and contract_line is not None:
        start = contract_line.ship_date or contract_line.sale_date
    end = asset.warranty_end if asset is not None else None
    months = terms["warranty_months"]
    if start is not None and (months is not None or end is None):
        end = warranty_end_for(start, months if months is not None else order.product.warranty_months)
    result = evaluate(fault_type=data["fault_type"], reported_on=report.on, start=start, warranty_end=end,
                      terms=terms)
    result["basis"]["terms"] = "default (no warranty terms configured)" if terms_row is None else str(terms_row.id)
    decision = db.session.scalar(sa.select(WarrantyDecision).where(WarrantyDecision.work_order_id == order.id))
    values = {"asset_id": asset.id if asset else None, "terms_id": terms_row.id if terms_row else None,
              "fault_type": data["fault_type"], **report_dates.audit_fields(report), "decided_at": now,
              "decided_by_id": actor.user_id, **result, "basis": audit_service._jsonable(result["basis"])}
    if decision is None:
        decision = WarrantyDecision(work_order_id=order.id, **values)
        db.session.add(decision)
        db.session.flush()
    else:
        for key, value in values.items():
            setattr(decision, key, value)
    audit_service.record(actor, "warranty.decide", decision,
                         {"work_order_id": order.id, "fault_type": data["fault_type"],
                          "option": result["option"], "in_warranty": result["in_warranty"],
                          **report_dates.audit_fields(report)}, at=now)
    return decision


def get_decision(actor: Actor, work_order_id: uuid.UUID) -> WarrantyDecision:
    order = workorders.get_work_order(actor, work_order_id)
    decision = db.session.scalar(sa.select(WarrantyDecision).where(WarrantyDecision.work_order_id == order.id))
    if decision is None:
        raise NotFound(f"work order {order.number} has no warranty decision yet")
    return decision
