"""The lifecycle gate: every condition a work-order or visit transition, or a customer's sign-off, must meet.

Each `*_conditions` function reads the facts (models only; no other domain service is imported) and returns
the conditions that are NOT met, each with a machine-readable code, the rule it comes from and a sentence for
people. `require` turns a non-empty list into one refusal (409 `conditions_not_met`, the list in
`unmet_conditions`), after applying any overrides the caller is allowed to make with a recorded reason.

Who calls the gate: only fieldservice/lifecycle/service.py (every status change) and the sign-off core
(records.service._sign), so the JSON API (transitions, arrival, departure, sign-offs), the sync push, the
signing links, office pages, the CLI and the scheduler all meet the same conditions (docs/workflow.md).

| transition | conditions (rule) |
|---|---|
| visit planned -> in_progress (arrival) | a technician assigned; certified for the product line on the day (R-TEC-1); time confirmed with the customer or the confirmation waived by a dispatcher with a reason (R-REP-2, R-MNT-2); not before the visit's window (R-REP-2) |
| order -> scheduled / dispatched / new | consistent with its planned visits |
| order -> in_progress | a visit of the job is in progress |
| order -> work_complete | no visit still in progress and one departed with the work complete (R-SIG-2); the job's record written (R-INS-6, R-REP-5, R-MNT-3); no open contract mismatch (R-INS-3); the technician certified on the day of work (R-TEC-1); parts and charges issued from stock and covered by consent (R-REP-4, R-REP-6) |
| order -> signed | as work_complete, and the job's record signed (R-INS-6, R-REP-5, R-MNT-3) and the acceptance signed (R-REP-7) |
| order -> closed | a satisfaction survey signed (R-FUP-2), or the office overrides with the customer's refusal as reason |
| sign-off of a record | the work complete (order work_complete, signed or closed) and no visit in progress (R-SIG-2); for an installation sheet no contract mismatch (R-INS-3) and commissioning in range (R-INS-4) |
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from fieldservice.auth.models import Role
from fieldservice.commerce import coverage
from fieldservice.errors import Conflict, ValidationFailed
from fieldservice.extensions import db
from fieldservice.lifecycle.events import GateChecked, publish
from fieldservice.lifecycle.states import (
    ACTIVE_VISIT_STATUSES,
    WORK_DONE,
    VisitStatus,
    WorkOrderStatus,
)
from fieldservice.records import installation
from fieldservice.records.models import RecordKind, RecordStatus, ServiceRecord
from fieldservice.technicians.models import Technician
from fieldservice.visits.models import Visit
from fieldservice.workorders.models import WorkOrder, WorkOrderKind

S = WorkOrderStatus
V = VisitStatus
BACK_OFFICE_OVERRIDE = frozenset({Role.DISPATCHER, Role.OFFICE, Role.ADMIN})
REQUIRED_RECORD = {
    WorkOrderKind.INSTALLATION: RecordKind.INSTALLATION_SHEET,   # R-INS-6
    WorkOrderKind.REPAIR: RecordKind.REPAIR_RECORD,              # R-REP-5
    WorkOrderKind.MAINTENANCE: RecordKind.MAINTENANCE_RECORD,    # R-MNT-3
}
RECORD_RULE = {RecordKind.INSTALLATION_SHEET: "R-INS-6", RecordKind.REPAIR_RECORD: "R-REP-5",
               RecordKind.MAINTENANCE_RECORD: "R-MNT-3"}
DEFAULT_EARLY_START = timedelta(minutes=120)


@dataclass(frozen=True)
class Unmet:
    """One condition of a transition that does not hold."""

    code: str                       # machine-readable, stable: e.g. "visit_in_progress"
    rule: str                       # the DOMAIN.md rule id, e.g. "R-SIG-2"
    message: str                    # for people
    overridable_by: frozenset[Role] = field(default=frozenset())   # who may waive it with a reason
    details: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "rule": self.rule, "message": self.message,
                               "overridable_by": sorted(r.value for r in self.overridable_by)}
        if self.details:
            out["details"] = dict(self.details)
        return out


class ConditionsNotMet(Conflict):
    """A transition or sign-off refused by the lifecycle gate; `unmet_conditions` lists every reason."""

    code, title = "conditions_not_met", "The conditions for this change are not met"


# ---- facts -------------------------------------------------------------------------------------

def visits_of(order: WorkOrder) -> list[Visit]:
    return list(db.session.scalars(sa.select(Visit).where(Visit.work_order_id == order.id)
                                   .order_by(Visit.scheduled_start, Visit.id)))


def latest_records(order: WorkOrder, kind: RecordKind) -> list[ServiceRecord]:
    """The latest version of each record of `kind` on the job."""
    rows = db.session.scalars(sa.select(ServiceRecord).where(
        ServiceRecord.work_order_id == order.id, ServiceRecord.kind == kind)
        .order_by(ServiceRecord.root_id, ServiceRecord.version_no.desc()))
    latest: dict[uuid.UUID, ServiceRecord] = {}
    for record in rows:
        latest.setdefault(record.root_id, record)
    return list(latest.values())


def certified(technician: Technician, product_line_id: uuid.UUID, first: date, last: date) -> bool:
    """R-TEC-1: active, with a certification for the line valid (not revoked) over [first, last]."""
    return technician.is_active and any(c.covers(product_line_id, first, last) for c in technician.certifications)


def _day(value: datetime | None, fallback: datetime) -> date:
    return (value or fallback).date()


def _certification_unmet(technician: Technician | None, order: WorkOrder, first: date, last: date,
                         when: str) -> Unmet | None:
    if technician is None:
        return Unmet("no_technician", "R-TEC-1", "the visit has no technician assigned")
    line_id = order.product.product_line_id
    if certified(technician, line_id, first, last):
        return None
    on = f"on {first}" if first == last else f"from {first} to {last}"
    reason = "is not active" if not technician.is_active else "has no valid certification for the product line"
    return Unmet("technician_not_certified", "R-TEC-1",
                 f"technician {technician.name} {reason} {on} ({when}); a technician works only with a valid "
                 f"certification (上岗证)", details={"technician_id": str(technician.id),
                                                  "product_line_id": str(line_id)})


def _mismatch_unmet(order: WorkOrder) -> list[Unmet]:
    """R-INS-3: the delivered unit differs from the contract line and the back office has not resolved it
    (records/installation.py compares them; the contract is the source of truth)."""
    mismatches = installation.open_contract_mismatches(order)
    if not mismatches:
        return []
    described = ", ".join(f"{m['item']}: the contract says {m['expected']!r}, found {m['found']!r}"
                          for m in mismatches)
    return [Unmet("contract_mismatch", "R-INS-3",
                  f"the delivered product does not match the contract ({described}); the back office resolves it "
                  f"first (POST /api/v1/work-orders/{order.id}/contract-resolutions)",
                  details={"mismatches": mismatches})]


def _charge_unmet(order: WorkOrder) -> list[Unmet]:
    """R-REP-4 / R-REP-6: what the job's charges and parts still lack (commerce.coverage)."""
    return [Unmet(p["code"], p["rule"], p["message"]) for p in coverage.charge_problems(order.id)]


# ---- visits ------------------------------------------------------------------------------------

def visit_start_conditions(visit: Visit, order: WorkOrder, *, arrived_at: datetime, now: datetime,
                           early_start: timedelta = DEFAULT_EARLY_START) -> list[Unmet]:
    """Arrival (planned -> in_progress). `arrived_at` is the reported arrival time (never after `now`)."""
    unmet: list[Unmet] = []
    technician = db.session.get(Technician, visit.technician_id) if visit.technician_id else None
    cert = _certification_unmet(technician, order, arrived_at.date(), arrived_at.date(), "the day of the visit")
    if cert is not None:
        unmet.append(cert)
    if not visit.customer_confirmed and visit.confirmation_waived_at is None:
        unmet.append(Unmet(
            "visit_not_confirmed", "R-REP-2",
            "the visit's time and place were not confirmed with the customer (R-REP-2, R-MNT-2): record the "
            "customer's confirmation, or a dispatcher waives it with a reason (POST /visits/{id}/confirmation-waiver)",
            overridable_by=frozenset({Role.DISPATCHER, Role.ADMIN})))
    unmet += arrival_time_unmet(visit, min(arrived_at, now), early_start)
    return unmet


def arrival_time_unmet(visit: Visit, arrived_at: datetime, early_start: timedelta) -> list[Unmet]:
    """R-REP-2: work starts at the agreed time: not earlier than `early_start` before the visit's window (also
    checked when a technician corrects a recorded arrival time)."""
    earliest = visit.scheduled_start - early_start
    if arrived_at >= earliest:
        return []
    return [Unmet("before_visit_window", "R-REP-2",
                  f"the visit is planned from {visit.scheduled_start.isoformat()}; work may start at the earliest "
                  f"{int(early_start.total_seconds() // 60)} minutes before it. Reschedule the visit (and confirm the "
                  f"new time with the customer) to start earlier",
                  details={"scheduled_start": visit.scheduled_start.isoformat(), "earliest": earliest.isoformat()})]


# ---- work orders -------------------------------------------------------------------------------

def _in_progress_unmet(visits: Iterable[Visit]) -> list[Unmet]:
    busy = [v for v in visits if v.status is V.IN_PROGRESS]
    if not busy:
        return []
    return [Unmet("visit_in_progress", "R-SIG-2",
                  "a visit of the job is still in progress: the technician reports the departure first "
                  f"(POST /api/v1/visits/{busy[0].id}/departure)", details={"visit_ids": [str(v.id) for v in busy]})]


def _record_unmet(order: WorkOrder, *, signed: bool) -> list[Unmet]:
    kind = REQUIRED_RECORD[order.kind]
    rule = RECORD_RULE[kind]
    records = latest_records(order, kind)
    if not records:
        return [Unmet("record_missing", rule, f"the job has no {kind.value}: the technician writes it before the "
                      "work is reported complete", details={"kind": kind.value})]
    if not signed:
        return []
    unsigned = [r for r in records if r.status is not RecordStatus.SIGNED]
    if unsigned:
        return [Unmet("record_unsigned", rule, f"the {kind.value} is not signed by the customer "
                      f"(version {unsigned[0].version_no} of record {unsigned[0].root_id} is a draft)",
                      details={"record_ids": [str(r.id) for r in unsigned]})]
    return []


def _worked_certification_unmet(order: WorkOrder, visits: Iterable[Visit], now: datetime) -> list[Unmet]:
    unmet = []
    for visit in visits:
        if visit.status is not V.COMPLETED or not visit.work_complete:
            continue
        technician = db.session.get(Technician, visit.technician_id) if visit.technician_id else None
        found = _certification_unmet(technician, order, _day(visit.arrived_at, now), _day(visit.departed_at, now),
                                     "the day of the work")
        if found is not None:
            unmet.append(found)
    return unmet


def _acceptance_unmet(order: WorkOrder) -> list[Unmet]:
    accepted = [r for r in latest_records(order, RecordKind.WORK_ORDER_ACCEPTANCE)
                if r.status is RecordStatus.SIGNED and r.content.get("outcome") == "accepted"]
    if accepted:
        return []
    return [Unmet("acceptance_unsigned", "R-REP-7", "the customer has not signed an acceptance of the work")]


def _survey_unmet(order: WorkOrder) -> list[Unmet]:
    if any(r.status is RecordStatus.SIGNED for r in latest_records(order, RecordKind.SATISFACTION_SURVEY)):
        return []
    return [Unmet("survey_missing", "R-FUP-2",
                  "no satisfaction survey filled by the customer; if the customer declined it, the office closes "
                  "the job with an override giving that as the reason", overridable_by=BACK_OFFICE_OVERRIDE)]


def work_order_conditions(order: WorkOrder, to: WorkOrderStatus, *, now: datetime) -> list[Unmet]:
    """What blocks `order` from moving to `to` now (the state machine's own check comes first, in the model)."""
    if to in (S.CANCELLED, S.REWORK):
        return []
    visits = visits_of(order)
    active = [v for v in visits if v.status in ACTIVE_VISIT_STATUSES]
    if to is S.NEW:
        return [Unmet("visits_planned", "R-REP-2", "the job still has planned visits: cancel them first",
                      details={"visit_ids": [str(v.id) for v in active]})] if active else []
    if to is S.SCHEDULED:
        return [] if active else [Unmet("no_visit_planned", "R-REP-2", "no visit of the job is planned")]
    if to is S.DISPATCHED:
        return [] if any(v.technician_id for v in active) else [
            Unmet("no_technician", "R-TEC-1", "no planned visit of the job has a technician assigned")]
    if to is S.IN_PROGRESS:
        return [] if any(v.status is V.IN_PROGRESS for v in visits) else [
            Unmet("no_visit_in_progress", "R-REP-2", "work starts with the technician's arrival on a visit "
                  "(POST /api/v1/visits/{id}/arrival)")]
    unmet = _in_progress_unmet(visits)
    if to in (S.WORK_COMPLETE, S.SIGNED):
        if to is S.WORK_COMPLETE and not any(v.status is V.COMPLETED and v.work_complete for v in visits):
            unmet.append(Unmet("work_not_reported_complete", "R-SIG-2",
                               "no visit of the job departed with the work complete"))
        unmet += _record_unmet(order, signed=to is S.SIGNED)
        unmet += _mismatch_unmet(order)
        unmet += _worked_certification_unmet(order, visits, now)
        unmet += _charge_unmet(order)
        if to is S.SIGNED:
            unmet += _acceptance_unmet(order)
    elif to is S.CLOSED:
        unmet += _survey_unmet(order)
    return unmet


# ---- sign-offs ---------------------------------------------------------------------------------

def signoff_conditions(record: ServiceRecord, order: WorkOrder) -> list[Unmet]:
    """R-SIG-2: a customer signs only once the work is complete; R-INS-3/4 for an installation sheet."""
    unmet: list[Unmet] = []
    if order.status not in WORK_DONE:
        unmet.append(Unmet("work_not_complete", "R-SIG-2",
                           f"the work on work order {order.number} is not complete (it is {order.status.value}); "
                           "the customer signs after the technician reports it complete",
                           details={"work_order_status": order.status.value}))
    unmet += _in_progress_unmet(visits_of(order))
    if record.kind is RecordKind.INSTALLATION_SHEET:  # R-INS-3/4/5 against the contract and the product
        problems = installation.sheet_sign_problems(record, order)
        mismatch = _mismatch_unmet(order) if any(p["code"] == "contract_mismatch" for p in problems) else []
        unmet += mismatch
        unmet += [Unmet(p["code"], p["rule"], p["message"]) for p in problems
                  if not (mismatch and p["code"] == "contract_mismatch")]
    return unmet


# ---- refusing ----------------------------------------------------------------------------------

def require(unmet: list[Unmet], *, subject: str, subject_id: uuid.UUID, transition: str, what: str,
            role: Role, overrides: Mapping[str, str] | None = None, **extra: Any) -> dict[str, str]:
    """Refuse (ConditionsNotMet) unless every condition holds or is overridden. An override names a condition
    code and gives a reason; it counts only for a condition that is unmet and that `role` may override.
    Returns the overrides used (code -> reason), for the audit trail."""
    overrides = dict(overrides or {})
    used: dict[str, str] = {}
    for code, reason in overrides.items():
        condition = next((u for u in unmet if u.code == code), None)
        if condition is None:
            continue  # already met: nothing to waive (a retried request stays harmless)
        if role not in condition.overridable_by:
            raise ValidationFailed(f"overrides: {code} cannot be overridden by role {role.value}",
                                   errors={"json": {"overrides": {code: ["not overridable by your role"]}}})
        if not (reason or "").strip():
            raise ValidationFailed(f"overrides: {code} needs a reason", errors={"json": {"overrides": {code: ["reason required"]}}})
        used[code] = reason.strip()
    remaining = [u for u in unmet if u.code not in used]
    publish(GateChecked(subject, subject_id, transition, tuple(u.code for u in remaining), tuple(used)))
    if remaining:
        raise ConditionsNotMet(f"{what}: " + "; ".join(u.message for u in remaining),
                               unmet_conditions=[u.as_dict() for u in remaining], **extra)
    return used
