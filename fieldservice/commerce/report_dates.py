"""The report date of a warranty decision or a return case (R-RET-1): a server-recorded fact or an evidenced
date, never a bare date from the caller.

The windows of R-RET-1 (7-day no-reason return, 1-month quality return/exchange, the warranty) are counted to
the day the customer reported. That day decides refunds, so it is resolved here, once, for every path
(`PUT /work-orders/{id}/warranty-decision`, `POST /returns`, and the re-decision after an inspection):

- Without a date the server picks its own record: for a decision the job's report (`job_report_at`: the
  creation of its service request, else of the work order, both stamped by the server); for a returned unit
  the server's receive time. Source `job_report` / `received`.
- A caller's date on or after the job's report and not in the future is kept (source `caller`): it can only
  make the windows shorter, never longer.
- An earlier date is back-dating. Only the office (office, admin) may do it, and only with evidence
  (`reported_on_evidence`: `{kind, reference, photo_id?}`, kind service_request | courier_receipt | email |
  call_record). A technician or dispatcher is refused (403), evidence missing is 422. Source `evidence`.
- A date that has not begun anywhere yet (later than today in UTC+14) is refused (422).

The date, its source and the evidence are stored on the decision and the case and written to the audit log.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.errors import Forbidden, ReferenceNotFound, ValidationFailed
from fieldservice.extensions import db
from fieldservice.photos.models import Photo
from fieldservice.servicerequests.models import ServiceRequest
from fieldservice.workorders.models import WorkOrder

JOB_REPORT, RECEIVED, CALLER, EVIDENCE = "job_report", "received", "caller", "evidence"
REPORT_SOURCES = (JOB_REPORT, RECEIVED, CALLER, EVIDENCE)
EVIDENCE_KINDS = ("service_request", "courier_receipt", "email", "call_record")
BACKDATERS = (Role.OFFICE, Role.ADMIN)
LATEST_ZONE = timedelta(hours=14)     # UTC+14: a date is "in the future" once it has begun nowhere on Earth


@dataclass(frozen=True)
class ReportDate:
    """The day the customer reported, where it comes from (REPORT_SOURCES) and the evidence of a back-date."""

    on: date
    source: str
    evidence: dict[str, Any] | None = None


def job_report_at(order: WorkOrder) -> datetime:
    """The job's own report as the server stamped it: its service request's creation (the report taken),
    else the work order's creation. Never a time a caller typed."""
    stamps = [order.created_at]
    if order.service_request_id is not None:
        stamps += db.session.scalars(sa.select(ServiceRequest.created_at).where(
            ServiceRequest.id == order.service_request_id)).all()
    return min(stamps)


def job_photo_ids(order: WorkOrder, photo_ids: list[uuid.UUID], field: str) -> list[str]:
    """Photo ids of the job (a customer's, an inspection's or an evidence photo); 422 for any other."""
    ids = list(dict.fromkeys(photo_ids))
    if not ids:
        return []
    found = set(db.session.scalars(sa.select(Photo.id).where(Photo.id.in_(ids), Photo.work_order_id == order.id)))
    unknown = [str(i) for i in ids if i not in found]
    if unknown:
        raise ReferenceNotFound(f"{field}: no photo of work order {order.number} with id {', '.join(unknown)}",
                                errors={"json": {field: [f"unknown photo {i}" for i in unknown]}})
    return [str(i) for i in ids]


def _evidence(order: WorkOrder, evidence: dict[str, Any], claimed: date) -> dict[str, Any]:
    """The evidence as stored: a service request must be the job's customer's and reported by the claimed
    day; a photo must be a photo of the job."""
    field = "reported_on_evidence"
    kept: dict[str, Any] = {"kind": evidence["kind"], "reference": evidence["reference"]}
    if evidence["kind"] == "service_request":
        try:
            request_id = uuid.UUID(str(evidence["reference"]))
        except ValueError:
            request_id = None
        request = db.session.get(ServiceRequest, request_id) if request_id else None
        if request is None or request.customer_id != order.customer_id:
            raise ReferenceNotFound(f"{field}.reference: no service request of this customer with that id",
                                    errors={"json": {field: {"reference": ["unknown service request"]}}})
        reported = min(request.reported_at, request.created_at).date()
        if claimed < reported:
            raise ValidationFailed(f"reported_on: the service request was reported on {reported}",
                                   errors={"json": {"reported_on": [f"the evidence says {reported}"]}})
    if evidence.get("photo_id"):
        kept["photo_id"] = job_photo_ids(order, [evidence["photo_id"]], f"{field}.photo_id")[0]
    return kept


def resolve(actor: Actor, order: WorkOrder, data: dict[str, Any], *, now: datetime,
            default: str = JOB_REPORT) -> ReportDate:
    """The report date for `data` (`reported_on`, `reported_on_evidence`) on the job (module docstring).
    Raises ValidationFailed (future date, back-date without evidence), Forbidden (back-dating by a role other
    than office/admin), ReferenceNotFound (evidence naming an unknown request or photo)."""
    floor = job_report_at(order).date()
    claimed: date | None = data.get("reported_on")
    evidence = data.get("reported_on_evidence")
    if claimed is None:
        if evidence:
            raise ValidationFailed("reported_on_evidence: give the reported_on date it is evidence of",
                                   errors={"json": {"reported_on": ["required with reported_on_evidence"]}})
        return ReportDate(floor, JOB_REPORT) if default == JOB_REPORT else ReportDate(now.date(), RECEIVED)
    if claimed > (now + LATEST_ZONE).date():
        raise ValidationFailed(f"reported_on: {claimed} is in the future",
                               errors={"json": {"reported_on": ["may not be in the future"]}})
    kept = _evidence(order, evidence, claimed) if evidence else None
    if claimed >= floor:
        return ReportDate(claimed, CALLER, kept)
    if actor.role not in BACKDATERS:
        raise Forbidden(f"reported_on: {claimed} is before the job's report on {floor}; only the office "
                        f"(office, admin) may back-date a report, with evidence (R-RET-1)",
                        errors={"json": {"reported_on": [f"not before {floor}"]}})
    if kept is None:
        raise ValidationFailed(
            f"reported_on: {claimed} is before the job's report on {floor}: give reported_on_evidence "
            f"(kind: {', '.join(EVIDENCE_KINDS)}; reference; photo_id optional) (R-RET-1)",
            errors={"json": {"reported_on_evidence": [f"required for a report date before {floor}"]}})
    return ReportDate(claimed, EVIDENCE, kept)


def audit_fields(report: ReportDate) -> dict[str, Any]:
    """What the decision, the case and their audit entries record of the report date."""
    return {"reported_on": report.on, "reported_on_source": report.source, "reported_on_evidence": report.evidence}
