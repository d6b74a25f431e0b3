"""The only functions that change a work order's or a visit's status.

Each one runs the state machine (states.py, through the model), then the gate (gate.py), then makes the
move, writes the audit trail and publishes the domain event (events.py) inside the caller's unit of work.
Entry points (visit and work-order services, sign-offs, sync push, office pages, CLI, scheduler) decide who
may ask; this module decides whether the move may happen, the same way for all of them.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from fieldservice.audit import service as audit_service
from fieldservice.auth.service import Actor
from fieldservice.errors import InvalidTransition, ValidationFailed
from fieldservice.extensions import db
from fieldservice.lifecycle import gate, guard
from fieldservice.lifecycle.events import VisitStatusChanged, WorkOrderStatusChanged, publish
from fieldservice.lifecycle.states import (
    ACTIVE_VISIT_STATUSES,
    PRE_WORK,
    VISIT_TRANSITIONS,
    VisitStatus,
    WorkOrderStatus,
)
from fieldservice.visits.models import Visit
from fieldservice.workorders.models import WorkOrder

S = WorkOrderStatus
V = VisitStatus


def move_work_order(actor: Actor, order: WorkOrder, to: WorkOrderStatus, *, at: datetime,
                    cause: str | None = None, reason: str | None = None,
                    overrides: Mapping[str, str] | None = None) -> WorkOrderStatus:
    """Move `order` to `to`: InvalidTransition (409, naming the allowed moves) when the state machine has no
    such move, ConditionsNotMet (409, listing what is unmet) when the gate refuses. Returns the old status."""
    if not order.can_transition(to):
        order.transition(to, at=at)  # raises with the allowed transitions named
    used = gate.require(
        gate.work_order_conditions(order, to, now=at), subject="work_order", subject_id=order.id,
        transition=f"{order.status.value}->{to.value}", role=actor.role, overrides=overrides,
        what=f"work order {order.number} cannot become {to.value}",
        current_status=order.status.value, requested=to.value, allowed_transitions=order.allowed_transitions)
    guard.allow(db.session, order, to)
    old = order.transition(to, at=at)
    details: dict[str, Any] = {"from": old, "to": to}
    if reason:
        details["reason"] = reason
    if cause:
        details["cause"] = cause
    if used:
        details["overrides"] = used
    audit_service.record(actor, "work_order.status", order, details, at=at)
    publish(WorkOrderStatusChanged(order, old, to, actor, at, cause=cause, reason=reason))
    return old


def _visit_machine(visit: Visit, to: VisitStatus, action: str) -> None:
    if to not in VISIT_TRANSITIONS[visit.status]:
        allowed_from = sorted(s.value for s, targets in VISIT_TRANSITIONS.items() if to in targets)
        raise InvalidTransition(f"cannot {action}: the visit is {visit.status.value}",
                                current_status=visit.status.value, allowed_from=allowed_from)


def _set_visit_status(visit: Visit, to: VisitStatus) -> VisitStatus:
    old = visit.status
    guard.allow(db.session, visit, to)
    visit.status = to
    return old


def start_visit(actor: Actor, visit: Visit, *, arrived_at: datetime | None, now: datetime,
                early_start: timedelta = gate.DEFAULT_EARLY_START) -> None:
    """Arrival: the visit and its work order are in progress. The gate checks the technician's certification
    on the day (R-TEC-1), the customer's confirmation or a dispatcher's waiver (R-REP-2, R-MNT-2), and that
    work does not start before the visit's window (R-REP-2)."""
    _visit_machine(visit, V.IN_PROGRESS, "record arrival")
    order = visit.work_order
    if order.status is not S.IN_PROGRESS and not order.can_transition(S.IN_PROGRESS):
        order.transition(S.IN_PROGRESS, at=now)  # raises with the allowed transitions
    arrived_at = arrived_at or now
    gate.require(gate.visit_start_conditions(visit, order, arrived_at=arrived_at, now=now, early_start=early_start),
                 subject="visit", subject_id=visit.id, transition="planned->in_progress", role=actor.role,
                 what=f"the visit cannot start (work order {order.number})", current_status=visit.status.value)
    old = _set_visit_status(visit, V.IN_PROGRESS)
    visit.arrived_at = arrived_at
    audit_service.record(actor, "visit.arrive", visit, {"arrived_at": arrived_at}, at=now)
    publish(VisitStatusChanged(visit, old, V.IN_PROGRESS, actor, now, arrived_at=arrived_at))
    if order.status is not S.IN_PROGRESS:
        move_work_order(actor, order, S.IN_PROGRESS, at=now, cause="technician arrived")


def end_visit(actor: Actor, visit: Visit, *, work_complete: bool, departed_at: datetime | None, now: datetime,
              notes: str | None = None) -> None:
    """Departure. With the work complete the order becomes work_complete (through the gate: records written,
    no contract mismatch, certification, parts and consent); otherwise it goes back to planning."""
    _visit_machine(visit, V.COMPLETED, "record departure")
    departed_at = departed_at or now
    if visit.arrived_at and departed_at < visit.arrived_at:
        raise ValidationFailed("departed_at is before arrived_at", errors={"json": {"departed_at": ["before arrival"]}})
    old = _set_visit_status(visit, V.COMPLETED)
    visit.departed_at, visit.work_complete = departed_at, work_complete
    if notes is not None:
        visit.notes = notes
    audit_service.record(actor, "visit.depart", visit, {"departed_at": departed_at, "work_complete": work_complete},
                         at=now)
    publish(VisitStatusChanged(visit, old, V.COMPLETED, actor, now, departed_at=departed_at,
                               work_complete=work_complete))
    order = visit.work_order
    if work_complete:
        move_work_order(actor, order, S.WORK_COMPLETE, at=now, cause="technician reported work complete")
    else:
        settle_work_order(actor, order, at=now, cause="visit ended, work not complete")


def cancel_visit(actor: Actor, visit: Visit, *, reason: str, now: datetime, cause: str | None = None,
                 settle: bool = True) -> None:
    """A planned visit is cancelled; the work order follows its remaining visits (unless `settle` is False:
    the order itself is being cancelled)."""
    _visit_machine(visit, V.CANCELLED, "cancel")
    old = _set_visit_status(visit, V.CANCELLED)
    visit.cancel_reason = reason
    details = {"reason": reason, **({"cause": cause} if cause else {})}
    audit_service.record(actor, "visit.cancel", visit, details, at=now)
    publish(VisitStatusChanged(visit, old, V.CANCELLED, actor, now, reason=reason))
    if settle:
        settle_work_order(actor, visit.work_order, at=now, cause="visit cancelled")


def settle_work_order(actor: Actor, order: WorkOrder, *, at: datetime, cause: str) -> None:
    """Bring a work order that is not yet under way (or in progress) in line with its planned visits."""
    if order.status not in (*PRE_WORK, S.IN_PROGRESS):
        return
    db.session.flush()
    planned = list(db.session.scalars(sa.select(Visit).where(
        Visit.work_order_id == order.id, Visit.status.in_(ACTIVE_VISIT_STATUSES))))
    if any(v.status is V.IN_PROGRESS for v in planned):
        target = S.IN_PROGRESS
    elif any(v.technician_id for v in planned):
        target = S.DISPATCHED
    elif planned:
        target = S.SCHEDULED
    else:
        target = S.NEW
    if target is not order.status and order.can_transition(target):
        move_work_order(actor, order, target, at=at, cause=cause)
