"""Returned units: return/exchange cases inspected before any refund, exchange or repair (R-RET-1/2/3).

- A case is opened (office, admin) when the customer sends a unit back: the job (work order) it belongs to,
  the unit (asset, or a serial number), the customer's reason (a fault type: no_reason, quality, misuse, ...),
  their own description and their photos (photo ids of the job, like records name them).
- The warranty decision of the job is made with the existing warranty service (R-RET-1: no-reason return
  within 7 days, quality fault within 1 month at the company's cost, else paid repair; R-RET-2: shipping
  follows fault). It says which outcomes are possible (ALLOWED_OUTCOMES).
- R-RET-3: the unit is inspected against the customer's photos and description before any outcome. The
  inspection records whether the unit matches what the customer described, the findings, the inspector and
  the inspection photos. When it does not match, the inspector names the fault type actually found and the
  warranty is decided again for that fault type (a "quality fault" that turns out to be misuse is a paid repair).
- R-RET-1: the report date the windows count to is the server's receive day by default; the office may give a
  day on or after the job's server-stamped report, or an earlier one with evidence (report_dates.resolve). It
  is kept on the case (date, source, evidence) and the re-decision after the inspection uses it unchanged.
- States: received -> inspected -> decided -> closed. Deciding before the inspection is a 409
  inspection_required; an outcome the warranty decision does not allow is a 409 outcome_not_allowed.
"""
from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from fieldservice.archive import service as archive_service
from fieldservice.assets.models import Asset
from fieldservice.audit import service as audit_service
from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.commerce import report_dates, warranty
from fieldservice.commerce.errors import InspectionRequired, OutcomeNotAllowed
from fieldservice.commerce.models import (
    ReturnCase,
    ReturnOutcome,
    ReturnStatus,
    WarrantyDecision,
    WarrantyOption,
)
from fieldservice.commerce.report_dates import job_photo_ids
from fieldservice.common.lookup import get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.common.search import contains
from fieldservice.customers.models import Customer
from fieldservice.db import utcnow
from fieldservice.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from fieldservice.extensions import db
from fieldservice.photos.models import Photo
from fieldservice.workorders.models import WorkOrder

S = ReturnStatus
O = ReturnOutcome  # noqa: E741
WRITERS = (Role.OFFICE, Role.ADMIN)
RECEIVED_TOLERANCE = timedelta(minutes=5)   # a caller's clock a little ahead of the server's

ALLOWED_OUTCOMES: dict[WarrantyOption, tuple[ReturnOutcome, ...]] = {
    # R-RET-1: no-reason return within 7 days: the money back (or another unit); the customer pays shipping
    WarrantyOption.NO_REASON_RETURN: (O.REFUND, O.EXCHANGE, O.REFUSED),
    # R-RET-1: quality fault within 1 month: returned or exchanged at the company's cost (or repaired)
    WarrantyOption.QUALITY_RETURN_OR_EXCHANGE: (O.REFUND, O.EXCHANGE, O.REPAIR, O.REFUSED),
    # covered fault within the warranty: a free repair (R-REP-8), no refund or exchange
    WarrantyOption.WARRANTY_REPAIR: (O.REPAIR, O.REFUSED),
    # after 1 month, or not covered: paid repair (customer pays repair and shipping)
    WarrantyOption.PAID_REPAIR: (O.REPAIR, O.REFUSED),
}


def _writer(actor: Actor) -> None:
    actor.require(*WRITERS)


def _resolve_unit(order: WorkOrder, data: dict[str, Any]) -> tuple[Asset | None, str | None]:
    """The returned unit: the asset given, else the one with this serial of the job's product, else the
    job's asset. It must be the customer's unit of the job's product, and the job's asset when it has one."""
    asset: Asset | None = None
    serial = data.get("serial_number")
    if data.get("asset_id"):
        asset = get_ref(Asset, data["asset_id"], "asset_id", "asset")
    elif serial:
        asset = db.session.scalar(sa.select(Asset).where(Asset.product_id == order.product_id,
                                                         Asset.serial_number == serial))
    elif order.asset_id:
        asset = db.session.get(Asset, order.asset_id)
    if asset is None:
        if not serial:
            raise ValidationFailed("give asset_id or serial_number (the job has no unit recorded)",
                                   errors={"json": {"asset_id": ["asset_id or serial_number is required"]}})
        return None, serial
    if asset.customer_id != order.customer_id or asset.product_id != order.product_id:
        raise ValidationFailed("asset_id: not a unit of this job's customer and product",
                               errors={"json": {"asset_id": ["not this customer's unit of the job's product"]}})
    if order.asset_id and asset.id != order.asset_id:
        raise ValidationFailed("asset_id: the job is about another unit",
                               errors={"json": {"asset_id": ["not the job's unit"]}})
    if serial and serial != asset.serial_number:
        raise ValidationFailed("serial_number: does not match the unit's serial number",
                               errors={"json": {"serial_number": [f"the unit's serial is {asset.serial_number}"]}})
    return asset, asset.serial_number


def _apply_decision(case: ReturnCase, decision: WarrantyDecision) -> None:
    case.warranty_option = decision.option
    case.in_warranty = decision.in_warranty
    case.chargeable = decision.chargeable
    case.shipping_outbound_payer = decision.shipping_outbound_payer
    case.shipping_return_payer = decision.shipping_return_payer
    case.allowed_outcomes = [o.value for o in ALLOWED_OUTCOMES[decision.option]]


def receive(actor: Actor, data: dict[str, Any], *, now: datetime | None = None) -> ReturnCase:
    """Open a case for a returned unit and decide its warranty (R-RET-1/2) on the job."""
    now = now or utcnow()
    _writer(actor)
    order = get_ref(WorkOrder, data["work_order_id"], "work_order_id", "work order")
    open_case = db.session.scalar(sa.select(ReturnCase.number).where(
        ReturnCase.work_order_id == order.id, ReturnCase.status != S.CLOSED))
    if open_case is not None:
        raise Conflict(f"work order {order.number} already has the open return case {open_case}",
                       existing_number=open_case)
    asset, serial = _resolve_unit(order, data)
    photo_ids = job_photo_ids(order, data.get("photo_ids") or [], "photo_ids")
    if asset is not None and order.asset_id is None:
        order.asset_id = asset.id    # the job is about the returned unit: its warranty dates decide
    received_at = data.get("received_at") or now
    if received_at > now + RECEIVED_TOLERANCE:
        raise ValidationFailed("received_at: the unit cannot arrive in the future",
                               errors={"json": {"received_at": ["may not be in the future"]}})
    # R-RET-1: the server's receive day, or a day on/after the job's report, or an earlier one with evidence
    report = report_dates.resolve(actor, order, data, now=now, default=report_dates.RECEIVED)
    decision = warranty.decide(actor, order.id, {"fault_type": data["reason"]}, now=now, report=report)
    case = ReturnCase(
        id=data.get("id") or uuid.uuid4(), number=f"RMA-{now:%y%m%d}-{secrets.token_hex(3).upper()}",
        work_order_id=order.id, customer_id=order.customer_id, product_id=order.product_id,
        asset_id=asset.id if asset else None, serial_number=serial, reason=data["reason"],
        description=data["description"], photo_ids=photo_ids, **report_dates.audit_fields(report),
        received_at=received_at, status=S.RECEIVED, created_by_id=actor.user_id)
    _apply_decision(case, decision)
    if db.session.get(ReturnCase, case.id) is not None:
        raise Conflict(f"a return case with id {case.id} exists")
    db.session.add(case)
    db.session.flush()
    audit_service.record(actor, "return.receive", case, {
        "work_order_id": order.id, "reason": case.reason, "warranty_option": case.warranty_option,
        "allowed_outcomes": case.allowed_outcomes, "photo_ids": photo_ids, **report_dates.audit_fields(report)},
        at=now)
    return case


def _move(case: ReturnCase, allowed: tuple[ReturnStatus, ...], to: ReturnStatus, action: str) -> None:
    InvalidTransition.unless(case.status, allowed, f"{action} return case {case.number}: it is {case.status.value}")
    case.status = to


def _locked(actor: Actor, case_id: uuid.UUID) -> ReturnCase:
    _writer(actor)
    case = db.session.get(ReturnCase, case_id, with_for_update=True)
    if case is None:
        raise NotFound(f"return case {case_id} not found")
    return case


def inspect(actor: Actor, case_id: uuid.UUID, data: dict[str, Any], *, now: datetime | None = None) -> ReturnCase:
    """R-RET-3: record the inspection of the returned unit against the customer's photos and description.
    A unit that does not match names the fault type found; the warranty is decided again for it."""
    now = now or utcnow()
    case = _locked(actor, case_id)
    _move(case, (S.RECEIVED,), S.INSPECTED, "inspect")
    matches = bool(data["matches_description"])
    found = data.get("found_fault_type")
    if not matches and not found:
        raise ValidationFailed("found_fault_type: say what the inspection found when the unit does not match "
                               "the customer's description",
                               errors={"json": {"found_fault_type": ["required when matches_description is false"]}})
    found = found or case.reason
    order = db.session.get(WorkOrder, case.work_order_id)
    assert order is not None
    case.inspection_photo_ids = job_photo_ids(order, data.get("photo_ids") or [], "photo_ids")
    case.inspected_at, case.inspected_by_id = now, actor.user_id
    case.inspector_name = data.get("inspector_name") or actor.display_name
    case.matches_description, case.findings, case.found_fault_type = matches, data["findings"], found
    before = case.warranty_option
    if found != case.reason:
        # the case's report date was resolved when the unit was received (R-RET-1): decided again on it
        report = report_dates.ReportDate(case.reported_on, case.reported_on_source or report_dates.CALLER,
                                         case.reported_on_evidence)
        decision = warranty.decide(actor, case.work_order_id, {"fault_type": found}, now=now, report=report)
        _apply_decision(case, decision)
    audit_service.record(actor, "return.inspect", case, {
        "matches_description": matches, "found_fault_type": found, "findings": case.findings,
        "inspection_photo_ids": case.inspection_photo_ids, "warranty_option": [before, case.warranty_option],
        "allowed_outcomes": case.allowed_outcomes}, at=now)
    return case


def decide(actor: Actor, case_id: uuid.UUID, data: dict[str, Any], *, now: datetime | None = None) -> ReturnCase:
    """The outcome: only after the inspection (409 inspection_required, R-RET-3) and only one the warranty
    decision allows (409 outcome_not_allowed, R-RET-1/2)."""
    now = now or utcnow()
    case = _locked(actor, case_id)
    outcome = ReturnOutcome(data["outcome"])
    if case.status is S.RECEIVED:
        raise InspectionRequired(
            f"return case {case.number} has not been inspected: the unit is inspected against the customer's "
            f"photos and description before a {outcome.value} is decided", current_status=case.status.value)
    if outcome.value not in case.allowed_outcomes:
        raise OutcomeNotAllowed(
            f"{outcome.value} is not possible for return case {case.number}: the warranty decision is "
            f"{case.warranty_option.value}", warranty_option=case.warranty_option.value,
            allowed_outcomes=list(case.allowed_outcomes))
    _move(case, (S.INSPECTED,), S.DECIDED, "decide")
    case.outcome, case.outcome_note = outcome, data.get("note")
    case.decided_at, case.decided_by_id = now, actor.user_id
    audit_service.record(actor, "return.decide", case, {"outcome": outcome, "note": case.outcome_note,
                                                        "warranty_option": case.warranty_option}, at=now)
    return case


def close(actor: Actor, case_id: uuid.UUID, *, now: datetime | None = None) -> ReturnCase:
    now = now or utcnow()
    case = _locked(actor, case_id)
    _move(case, (S.DECIDED,), S.CLOSED, "close")
    case.closed_at = now
    audit_service.record(actor, "return.close", case, {"outcome": case.outcome}, at=now)
    return case


def _can_see(actor: Actor, case: ReturnCase) -> bool:
    if actor.role is Role.CUSTOMER:
        return actor.customer_id is not None and case.customer_id == actor.customer_id
    return actor.role in (Role.OFFICE, Role.ADMIN, Role.DISPATCHER)


def get_case(actor: Actor, case_id: uuid.UUID) -> ReturnCase:
    """A case the actor may see (a customer: only their own)."""
    case = db.session.get(ReturnCase, case_id)
    if case is None or not _can_see(actor, case):
        raise NotFound(f"return case {case_id} not found")
    return case


def list_cases(actor: Actor, page: PageRequest, *, status: list[ReturnStatus] | None = None,
               customer_id: uuid.UUID | None = None, work_order_id: uuid.UUID | None = None,
               q: str | None = None) -> Page:
    """Cases newest first (a customer: only their own). `q` is a case-insensitive substring of the customer's
    name or phone, the case number or the unit's serial number (the office list's customer search)."""
    stmt = sa.select(ReturnCase).order_by(ReturnCase.received_at.desc(), ReturnCase.id)
    if actor.role is Role.CUSTOMER:
        stmt = stmt.where(ReturnCase.customer_id == actor.customer_id)
    elif actor.role not in (Role.OFFICE, Role.ADMIN, Role.DISPATCHER):
        stmt = stmt.where(sa.false())
    if status:
        stmt = stmt.where(ReturnCase.status.in_(status))
    if customer_id:
        stmt = stmt.where(ReturnCase.customer_id == customer_id)
    if work_order_id:
        stmt = stmt.where(ReturnCase.work_order_id == work_order_id)
    if q and q.strip():
        q = q.strip()
        customers = sa.select(Customer.id).where(sa.or_(contains(Customer.name, q), contains(Customer.phone, q)))
        stmt = stmt.where(sa.or_(ReturnCase.customer_id.in_(customers), contains(ReturnCase.number, q),
                                 contains(ReturnCase.serial_number, q)))
    return paginate(stmt, page)


# ---- what the office pages show ------------------------------------------------------------------

@dataclass(frozen=True)
class ReturnWindows:
    """R-RET-1 windows of a case's unit, from the job's warranty decision: the last day of the 7-day
    no-reason return and of the 1-month quality return/exchange (None when the unit has no warranty start)."""

    start: date | None
    no_reason_until: date | None
    quality_until: date | None
    warranty_end: date | None
    reason: str | None

    def within_no_reason(self, on: date) -> bool:
        return self.no_reason_until is not None and self.start is not None and self.start <= on <= self.no_reason_until

    def within_quality(self, on: date) -> bool:
        return self.quality_until is not None and self.start is not None and self.start <= on <= self.quality_until


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def windows_for(cases: list[ReturnCase]) -> dict[uuid.UUID, ReturnWindows]:
    """The R-RET-1 windows of each case (keyed by case id), read from its job's warranty decision basis."""
    order_ids = {case.work_order_id for case in cases}
    if not order_ids:
        return {}
    bases = {order_id: basis for order_id, basis in db.session.execute(
        sa.select(WarrantyDecision.work_order_id, WarrantyDecision.basis)
        .where(WarrantyDecision.work_order_id.in_(order_ids)))}
    result = {}
    for case in cases:
        basis = bases.get(case.work_order_id) or {}
        result[case.id] = ReturnWindows(
            start=_day(basis.get("start")), no_reason_until=_day(basis.get("no_reason_return_until")),
            quality_until=_day(basis.get("quality_return_until")), warranty_end=_day(basis.get("warranty_end")),
            reason=basis.get("reason"))
    return result


def labels_for(cases: list[ReturnCase]) -> dict[uuid.UUID, dict[str, Any]]:
    """Per case id: the customer's name and the job's number (for the list)."""
    customer_ids = {case.customer_id for case in cases}
    order_ids = {case.work_order_id for case in cases}
    names = {cid: name for cid, name in db.session.execute(
        sa.select(Customer.id, Customer.name).where(Customer.id.in_(customer_ids)))}
    numbers = {oid: number for oid, number in db.session.execute(
        sa.select(WorkOrder.id, WorkOrder.number).where(WorkOrder.id.in_(order_ids)))}
    return {case.id: {"customer_name": names.get(case.customer_id, ""),
                      "work_order_number": numbers.get(case.work_order_id, "")} for case in cases}


def _photos(ids: list[Any] | None) -> list[Photo]:
    wanted = [uuid.UUID(str(i)) for i in ids or []]
    if not wanted:
        return []
    found = {p.id: p for p in db.session.scalars(sa.select(Photo).where(Photo.id.in_(wanted)))}
    return [found[i] for i in wanted if i in found]


def view_case(actor: Actor, case_id: uuid.UUID, *, via: str) -> dict[str, Any]:
    """One case as the office page shows it: the case, its customer and job, its R-RET-1 windows, the
    customer's photos, the inspection photos, and the job's other photos (to pick inspection photos from).
    A view that shows photos is an archive read (R-ARC-3): it is logged as `return_case` in the same
    transaction. Raises NotFound (also for a case the actor may not see)."""
    case = get_case(actor, case_id)
    order = db.session.get(WorkOrder, case.work_order_id)
    customer = db.session.get(Customer, case.customer_id)
    customer_photos = _photos(case.photo_ids)
    inspection_photos = _photos(case.inspection_photo_ids)
    shown = {p.id for p in customer_photos} | {p.id for p in inspection_photos}
    job_photos = [] if actor.role not in WRITERS or case.status is not S.RECEIVED else list(db.session.scalars(
        sa.select(Photo).where(Photo.work_order_id == case.work_order_id, Photo.id.not_in(shown) if shown else
                               sa.true()).order_by(Photo.created_at, Photo.id).limit(100)))
    if customer_photos or inspection_photos or job_photos:
        archive_service.log_read(actor, "return_case", case.id, via=via)
    return {"case": case, "order": order, "customer": customer, "windows": windows_for([case])[case.id],
            "customer_photos": customer_photos, "inspection_photos": inspection_photos, "job_photos": job_photos}
