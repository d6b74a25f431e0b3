"""Visit use cases: schedule, assign (R-TEC-1, no double booking), confirm with the customer
(R-REP-2, R-MNT-2), arrive, depart, cancel, and the technician's work logs."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context

from fieldservice.audit import service as audit_service
from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.changes import bulk_inserted, insert_numbered
from fieldservice.common.lengths import check_lengths
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.common.versioning import check_version
from fieldservice.db import utcnow
from fieldservice.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidTransition,
    NotFound,
    ReferenceNotFound,
    TechnicianUnavailable,
    ValidationFailed,
)
from fieldservice.extensions import db
from fieldservice.lifecycle import gate, states
from fieldservice.lifecycle import service as lifecycle
from fieldservice.lifecycle.events import (
    VisitAssigned,
    VisitConfirmed,
    VisitRescheduled,
    VisitScheduled,
    publish,
)
from fieldservice.technicians.models import Technician
from fieldservice.technicians.service import require_certified
from fieldservice.visits.models import ACTIVE_VISIT_STATUSES, Visit, VisitHandover, VisitStatus, WorkLog
from fieldservice.workorders import service as workorders
from fieldservice.workorders.models import WorkOrder, WorkOrderStatus

S = WorkOrderStatus
MAX_VISIT_LENGTH = timedelta(days=7)
PRE_WORK = states.PRE_WORK


# ---- reading -------------------------------------------------------------------------------------

def _scope(stmt: sa.Select[Any], actor: Actor) -> sa.Select[Any]:
    """Technicians see only visits assigned to them; customers only visits for their own orders."""
    if actor.role is Role.TECHNICIAN:
        if actor.technician_id is None:  # a login without a technician profile: nothing, not unassigned visits
            return stmt.where(sa.false())
        return stmt.where(Visit.technician_id == actor.technician_id)
    if actor.role is Role.CUSTOMER:
        return stmt.where(Visit.work_order_id.in_(
            sa.select(WorkOrder.id).where(WorkOrder.customer_id == actor.customer_id)))
    if actor.role not in (Role.DISPATCHER, Role.OFFICE, Role.ADMIN):
        return stmt.where(sa.false())
    return stmt


def list_visits(actor: Actor, page: PageRequest, *, technician_id: uuid.UUID | None = None,
                work_order_id: uuid.UUID | None = None, status: list[VisitStatus] | None = None,
                starts_from: datetime | None = None, starts_before: datetime | None = None,
                customer_confirmed: bool | None = None, unassigned: bool = False) -> Page:
    stmt = _scope(sa.select(Visit), actor).order_by(Visit.scheduled_start, Visit.id)
    if technician_id:
        stmt = stmt.where(Visit.technician_id == technician_id)
    if unassigned:
        stmt = stmt.where(Visit.technician_id.is_(None))
    if work_order_id:
        stmt = stmt.where(Visit.work_order_id == work_order_id)
    if status:
        stmt = stmt.where(Visit.status.in_(status))
    if starts_from:
        stmt = stmt.where(Visit.scheduled_start >= starts_from)
    if starts_before:
        stmt = stmt.where(Visit.scheduled_start < starts_before)
    if customer_confirmed is not None:
        stmt = stmt.where(Visit.customer_confirmed == customer_confirmed)
    return paginate(stmt, page)


def get_visit(actor: Actor, visit_id: uuid.UUID) -> Visit:
    visit = db.session.scalar(_scope(sa.select(Visit).where(Visit.id == visit_id), actor))
    if visit is None:
        raise NotFound(f"visit {visit_id} not found")
    return visit


require_technician_on_order = workorders.require_technician_on_order


def open_handover(visit_id: uuid.UUID, technician_id: uuid.UUID | None) -> VisitHandover | None:
    if technician_id is None:
        return None
    return db.session.scalar(sa.select(VisitHandover).where(
        VisitHandover.visit_id == visit_id, VisitHandover.technician_id == technician_id,
        VisitHandover.completed_at.is_(None)))


def _check_field_access(actor: Actor, visit: Visit | None, visit_id: uuid.UUID, *, released: bool) -> None:
    """Who records work facts on a visit: its technician; with `released`, the technician it was just taken
    from (their phone may still hold unpushed work, see VisitHandover); dispatchers on a technician's behalf.
    Anyone else: Forbidden; another technician: 404 (ids do not leak)."""
    if actor.role in (Role.DISPATCHER, Role.ADMIN):
        if visit is None:
            raise NotFound(f"visit {visit_id} not found")
        return
    if actor.role is not Role.TECHNICIAN:
        raise Forbidden(f"role {actor.role.value} may not record work on a visit")
    if visit is None or (visit.technician_id != actor.technician_id and not released):
        raise NotFound(f"visit {visit_id} not found")


def visit_for_field_work(actor: Actor, visit_id: uuid.UUID, *, released_ok: bool = False) -> Visit:
    """The visit on which `actor` records work facts (see _check_field_access)."""
    visit = db.session.get(Visit, visit_id)
    released = bool(released_ok and visit is not None and actor.role is Role.TECHNICIAN
                    and visit.technician_id != actor.technician_id
                    and open_handover(visit.id, actor.technician_id) is not None)
    _check_field_access(actor, visit, visit_id, released=released)
    assert visit is not None
    return visit


def _require_own_visit(actor: Actor, visit: Visit) -> None:
    """Work facts on a visit are recorded by its technician (dispatchers may record them on their behalf)."""
    visit_for_field_work(actor, visit.id)


def _require_status(visit: Visit, allowed: tuple[VisitStatus, ...], action: str) -> None:
    InvalidTransition.unless(visit.status, allowed, f"{action}: the visit is {visit.status.value}")


# ---- dispatch rules ------------------------------------------------------------------------------

def _check_window(start: datetime, end: datetime) -> None:
    if end <= start:
        raise ValidationFailed("scheduled_end must be after scheduled_start",
                               errors={"json": {"scheduled_end": ["must be after scheduled_start"]}})
    if end - start > MAX_VISIT_LENGTH:
        raise ValidationFailed("a visit window may not exceed 7 days",
                               errors={"json": {"scheduled_end": ["window longer than 7 days"]}})


def _lock_technician(technician_id: uuid.UUID) -> Technician:
    """Serialise assignments per technician (PostgreSQL row lock) so two dispatchers cannot double-book."""
    technician = db.session.scalar(
        sa.select(Technician).where(Technician.id == technician_id).with_for_update())
    if technician is None:
        raise ReferenceNotFound(f"technician_id: no technician with id {technician_id}",
                                errors={"json": {"technician_id": ["unknown technician"]}})
    return technician


def find_overlaps(technician_id: uuid.UUID, start: datetime, end: datetime,
                  exclude_visit_id: uuid.UUID | None = None) -> list[Visit]:
    stmt = sa.select(Visit).where(
        Visit.technician_id == technician_id, Visit.status.in_(ACTIVE_VISIT_STATUSES),
        Visit.scheduled_start < end, Visit.scheduled_end > start)
    if exclude_visit_id:
        stmt = stmt.where(Visit.id != exclude_visit_id)
    return list(db.session.scalars(stmt.order_by(Visit.scheduled_start)))


def _check_assignable(technician: Technician, order: WorkOrder, start: datetime, end: datetime,
                      visit_id: uuid.UUID | None) -> None:
    """R-TEC-1 certification for the product line, and no overlapping visit."""
    require_certified(technician, order.product.product_line_id, start, end)
    overlaps = find_overlaps(technician.id, start, end, exclude_visit_id=visit_id)
    if overlaps:
        first = overlaps[0]
        raise TechnicianUnavailable(
            f"technician {technician.name} already has a visit from {first.scheduled_start.isoformat()} "
            f"to {first.scheduled_end.isoformat()}",
            conflicting_visit_ids=[str(v.id) for v in overlaps])


def _open_order(actor: Actor, work_order_id: uuid.UUID) -> WorkOrder:
    order = workorders.get_work_order(actor, work_order_id)
    if order.status not in (*PRE_WORK, S.IN_PROGRESS):
        raise InvalidTransition(
            f"work order {order.number} is {order.status.value}; visits can be planned only while it is "
            f"new, scheduled, dispatched, in progress or in rework",
            current_status=order.status.value, allowed_transitions=order.allowed_transitions)
    return order


# ---- use cases -----------------------------------------------------------------------------------

def schedule_visit(actor: Actor, work_order_id: uuid.UUID, data: dict[str, Any],
                   *, now: datetime | None = None) -> Visit:
    """Plan a visit for a work order, optionally assigning a technician at once."""
    now = now or utcnow()
    order = _open_order(actor, work_order_id)
    start, end = data["scheduled_start"], data["scheduled_end"]
    _check_window(start, end)
    technician_id = data.pop("technician_id", None)
    visit = Visit(work_order=order, status=VisitStatus.PLANNED, **data)
    if technician_id:
        technician = _lock_technician(technician_id)
        _check_assignable(technician, order, start, end, visit_id=data.get("id"))
        visit.technician_id = technician.id
    db.session.add(visit)
    db.session.flush()
    audit_service.record(actor, "visit.schedule", visit, {
        "work_order_id": order.id, "scheduled_start": start, "scheduled_end": end, "technician_id": technician_id},
        at=now)
    publish(VisitScheduled(visit, actor, now))
    lifecycle.settle_work_order(actor, order, at=now, cause="visit scheduled")
    return visit


def assign_technician(actor: Actor, visit_id: uuid.UUID, technician_id: uuid.UUID | None,
                      *, version: int | None = None, now: datetime | None = None) -> Visit:
    """Assign, reassign or (with None) unassign. Refused for an uncertified technician (422, R-TEC-1)
    or one with an overlapping visit (409)."""
    now = now or utcnow()
    visit = get_visit(actor, visit_id)
    check_version(visit, version)
    _require_status(visit, (VisitStatus.PLANNED,), "change the technician")
    order = _open_order(actor, visit.work_order_id)
    previous = visit.technician_id
    if technician_id == previous:
        return visit
    if technician_id is not None:
        technician = _lock_technician(technician_id)
        _check_assignable(technician, order, visit.scheduled_start, visit.scheduled_end, visit_id=visit.id)
    visit.technician_id = technician_id
    if previous is not None:
        # the old technician's phone may hold offline work on this visit: it leaves that phone only
        # after the phone has seen the change and pushed what it had (sync scope)
        db.session.add(VisitHandover(visit_id=visit.id, technician_id=previous, released_at=now))
    handed_back = open_handover(visit.id, technician_id)
    if handed_back is not None:
        handed_back.completed_at = now
    action = "visit.assign" if previous is None else ("visit.unassign" if technician_id is None else "visit.reassign")
    audit_service.record(actor, action, visit, {"from": previous, "to": technician_id}, at=now)
    publish(VisitAssigned(visit, previous, technician_id, actor, now))
    db.session.flush()
    lifecycle.settle_work_order(actor, order, at=now, cause=action)
    return visit


def reschedule_visit(actor: Actor, visit_id: uuid.UUID, data: dict[str, Any],
                     *, now: datetime | None = None) -> Visit:
    """Move a planned visit. A new time must be confirmed with the customer again (R-REP-2)."""
    now = now or utcnow()
    visit = get_visit(actor, visit_id)
    check_version(visit, data.pop("version", None))
    _require_status(visit, (VisitStatus.PLANNED,), "reschedule")
    start = data.get("scheduled_start", visit.scheduled_start)
    end = data.get("scheduled_end", visit.scheduled_end)
    _check_window(start, end)
    moved = (start, end) != (visit.scheduled_start, visit.scheduled_end)
    if moved and visit.technician_id:
        technician = _lock_technician(visit.technician_id)
        _check_assignable(technician, visit.work_order, start, end, visit_id=visit.id)
    data["scheduled_start"], data["scheduled_end"] = start, end
    diff = audit_service.changes(visit, data)
    withdrawn = moved and visit.customer_confirmed
    if withdrawn:
        visit.customer_confirmed, visit.customer_confirmed_at = False, None
        diff["customer_confirmed"] = [True, False]
    if diff:
        audit_service.record(actor, "visit.reschedule", visit, diff, at=now)
        publish(VisitRescheduled(visit, withdrawn, actor, now))
    return visit


def confirm_with_customer(actor: Actor, visit_id: uuid.UUID, *, confirmed_at: datetime | None = None,
                          note: str | None = None, now: datetime | None = None) -> Visit:
    """R-REP-2 / R-MNT-2: the time and place were confirmed with the customer."""
    now = now or utcnow()
    visit = get_visit(actor, visit_id)
    if actor.role is Role.TECHNICIAN:
        _require_own_visit(actor, visit)
    _require_status(visit, (VisitStatus.PLANNED,), "confirm the time")
    check_lengths({"confirmation_note": note}, Visit, ("confirmation_note",))  # also on sync push
    confirmed_at = confirmed_at or now
    if confirmed_at > now + timedelta(minutes=5):
        raise ValidationFailed("confirmed_at is in the future", errors={"json": {"confirmed_at": ["in the future"]}})
    visit.customer_confirmed, visit.customer_confirmed_at, visit.confirmation_note = True, confirmed_at, note
    audit_service.record(actor, "visit.confirm", visit, {"confirmed_at": confirmed_at, "note": note}, at=now)
    publish(VisitConfirmed(visit, actor, now))  # e.g. R-SLA-1 "or the time agreed" (sla/reactions.py)
    return visit


def waive_confirmation(actor: Actor, visit_id: uuid.UUID, reason: str, *, now: datetime | None = None) -> Visit:
    """A dispatcher lets a visit start without the customer's confirmation (R-REP-2, R-MNT-2), saying why (the
    customer cannot be reached before an urgent visit, a standing agreement, ...). The lifecycle gate accepts
    the waiver in place of the confirmation; who and why are on the visit and in the audit trail."""
    now = now or utcnow()
    actor.require(Role.DISPATCHER, Role.ADMIN)
    visit = get_visit(actor, visit_id)
    _require_status(visit, (VisitStatus.PLANNED,), "waive the confirmation")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("a reason is required to waive the customer's confirmation",
                               errors={"json": {"reason": ["required"]}})
    check_lengths({"confirmation_waiver_reason": reason}, Visit, ("confirmation_waiver_reason",))
    visit.confirmation_waived_at, visit.confirmation_waived_by_id = now, actor.user_id
    visit.confirmation_waiver_reason = reason
    audit_service.record(actor, "visit.confirmation_waived", visit, {"reason": reason}, at=now)
    publish(VisitConfirmed(visit, actor, now, waived=True))
    return visit


def cancel_visit(actor: Actor, visit_id: uuid.UUID, reason: str, *, now: datetime | None = None) -> Visit:
    """A dispatcher cancels a planned visit; the work order follows its remaining visits."""
    now = now or utcnow()
    visit = get_visit(actor, visit_id)
    lifecycle.cancel_visit(actor, visit, reason=reason, now=now)
    return visit


def record_arrival(actor: Actor, visit_id: uuid.UUID, *, arrived_at: datetime | None = None,
                   now: datetime | None = None) -> Visit:
    """The technician is on site: the visit and its work order are in progress, if the lifecycle gate agrees
    (certification on the day R-TEC-1, the customer's confirmation R-REP-2/R-MNT-2, not before the window)."""
    now = now or utcnow()
    visit = get_visit(actor, visit_id)
    _require_own_visit(actor, visit)
    lifecycle.start_visit(actor, visit, arrived_at=arrived_at, now=now, early_start=early_start_allowance())
    return visit


def arrival_blockers(visit: Visit) -> list[gate.Unmet]:
    """What the lifecycle gate would refuse if the technician arrived on time for this planned visit, so the
    dispatch board can flag it ahead: no technician or no valid certification on the day (R-TEC-1), the time
    not confirmed with the customer nor the confirmation waived (R-REP-2, R-MNT-2). Reads only: nothing is
    published or changed."""
    if visit.status is not VisitStatus.PLANNED:
        return []
    at = visit.scheduled_start
    return gate.visit_start_conditions(visit, visit.work_order, arrived_at=at, now=at)


def early_start_allowance() -> timedelta:
    """How long before its window a visit may start (VISIT_EARLY_START_MINUTES, default 120)."""
    minutes = current_app.config.get("VISIT_EARLY_START_MINUTES", 120) if has_app_context() else 120
    return timedelta(minutes=int(minutes))


def record_departure(actor: Actor, visit_id: uuid.UUID, *, work_complete: bool, departed_at: datetime | None = None,
                     notes: str | None = None, now: datetime | None = None) -> Visit:
    """The technician leaves. With the work complete the customer may now sign (R-SIG-2), once the lifecycle
    gate agrees (records written, no contract mismatch R-INS-3, ...); otherwise the work order goes back to
    planning for another visit."""
    now = now or utcnow()
    visit = get_visit(actor, visit_id)
    _require_own_visit(actor, visit)
    lifecycle.end_visit(actor, visit, work_complete=work_complete, departed_at=departed_at, notes=notes, now=now)
    return visit


def list_work_logs(actor: Actor, visit_id: uuid.UUID) -> list[WorkLog]:
    return list(get_visit(actor, visit_id).work_logs)


def _check_log_times(data: dict[str, Any]) -> None:
    if data.get("ended_at") and data.get("started_at") and data["ended_at"] < data["started_at"]:
        raise ValidationFailed("ended_at is before started_at", errors={"json": {"ended_at": ["before started_at"]}})


def _work_log_technician(actor: Actor, visit: Visit, data: dict[str, Any]) -> uuid.UUID:
    """The rules for a new work log on `visit` (access already checked): the visit is under way or done
    (a visit taken from the technician while offline still takes the work they logged), a technician is
    known, and the times are in order. Returns whose work it is."""
    released = actor.role is Role.TECHNICIAN and visit.technician_id != actor.technician_id
    if not released:
        _require_status(visit, (VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED), "log work")
    technician_id = actor.technician_id if actor.role is Role.TECHNICIAN else visit.technician_id
    if technician_id is None:
        raise InvalidTransition("the visit has no technician assigned", current_status=visit.status.value)
    _check_log_times(data)
    return technician_id


def add_work_log(actor: Actor, visit_id: uuid.UUID, data: dict[str, Any], *, now: datetime | None = None) -> WorkLog:
    """A technician logs work on their own visit, while on site or just after. A technician whose visit was
    reassigned while their phone was offline may still deliver the work they logged (VisitHandover)."""
    now = now or utcnow()
    visit = visit_for_field_work(actor, visit_id, released_ok=True)
    technician_id = _work_log_technician(actor, visit, data)
    log_entry = WorkLog(visit=visit, technician_id=technician_id, **data)
    db.session.add(log_entry)
    db.session.flush()
    audit_service.record(actor, "work_log.create", log_entry, {"visit_id": visit.id}, at=now)
    return log_entry


EXISTING = "existing"
"""add_work_logs(skip_existing=True): the item passed the rules, but a work log with its id already exists."""


def add_work_logs(actor: Actor, items: list[dict[str, Any]], *, now: datetime | None = None,
                  skip_existing: bool = False) -> list[DomainError | str | None]:
    """Many new work logs at once (a phone's day): the same rules as add_work_log, checked against data
    loaded in a few queries, and one bulk insert for the logs that pass. Returns, per item, None (created)
    or the rule it broke. Items carry `id`, `visit_id`, `started_at`, `ended_at`, `description` and the
    phone's `device_time` for the record (kept with the server's receive time on the log).

    `skip_existing`: an item that passes the rules but whose id is already a work log (anyone's) is not
    inserted and comes back as EXISTING (the insert skips it: sync/push.py compares those with the stored
    logs afterwards, instead of looking every new log up first)."""
    now = now or utcnow()
    session = db.session
    # a push's logs of one visit share one id object: deduplicated by identity first (a UUID hashes in Python)
    visit_ids = set({id(v): v for item in items if (v := item.get("visit_id"))}.values())
    by_id = {v.id: v for v in session.scalars(sa.select(Visit).where(Visit.id.in_(visit_ids)))} if visit_ids else {}
    # an open handover matters only on a visit that is no longer the technician's (_check_field_access)
    others = {v for v, visit in by_id.items() if visit.technician_id != actor.technician_id}
    released = set(session.scalars(sa.select(VisitHandover.visit_id).where(
        VisitHandover.visit_id.in_(others), VisitHandover.technician_id == actor.technician_id,
        VisitHandover.completed_at.is_(None)))) if others and actor.technician_id else set()
    outcomes: list[DomainError | str | None] = []
    # the new rows by column (insert_numbered's arrays, no dict per row), and the item of each (its outcome)
    ids: list[uuid.UUID] = []
    visit_of: list[uuid.UUID] = []
    technician_of: list[uuid.UUID] = []
    started: list[Any] = []
    ended: list[Any] = []
    descriptions: list[Any] = []
    device_times: list[Any] = []
    places: list[int] = []
    # the rules of the visit (access, status, whose work) once per visit, the log's own times per log: the
    # same checks in the same order as add_work_log (_work_log_technician checks the times last)
    per_visit: dict[Any, tuple[Visit, uuid.UUID] | DomainError] = {}
    last: Any = None  # the previous item's visit id object, whose outcome `checked` still holds
    checked: tuple[Visit, uuid.UUID] | DomainError | None = None
    for item in items:
        visit_id = item["visit_id"]
        if visit_id is not last or checked is None:
            last, checked = visit_id, per_visit.get(visit_id)
        if checked is None:
            try:
                visit = by_id.get(visit_id)
                _check_field_access(actor, visit, visit_id, released=visit_id in released)
                assert visit is not None
                checked = per_visit[visit_id] = (visit, _work_log_technician(actor, visit, {}))
            except DomainError as err:
                checked = per_visit[visit_id] = err
        if isinstance(checked, DomainError):
            outcomes.append(checked)
            continue
        started_at, ended_at = item.get("started_at"), item.get("ended_at")
        if ended_at and started_at and ended_at < started_at:
            try:
                _check_log_times({"started_at": started_at, "ended_at": ended_at})
            except DomainError as err:
                outcomes.append(err)
                continue
        ids.append(item["id"])
        visit_of.append(checked[0].id)
        technician_of.append(checked[1])
        started.append(started_at)
        ended.append(ended_at)
        descriptions.append(item.get("description"))
        device_times.append(item.get("device_time"))
        places.append(len(outcomes))
        outcomes.append(None)
    if not ids:
        return outcomes
    columns: dict[str, list[Any]] = {
        "id": ids, "visit_id": visit_of, "technician_id": technician_of, "started_at": started, "ended_at": ended,
        "description": descriptions, "device_time": device_times, "received_at": [now] * len(ids),
        "created_at": [now] * len(ids), "updated_at": [now] * len(ids)}
    # bulk inserts bypass the ORM's change numbering and its events: number them, then tell the hooks
    # (the sync scope: the new logs join the scope of every phone that holds their visit)
    skipped = insert_numbered(session, WorkLog.__table__, columns, skip_existing=skip_existing)
    if skipped:
        kept = [i for i, log_id in enumerate(ids) if log_id not in skipped]
        for i, log_id in zip(places, ids, strict=True):
            if log_id in skipped:
                outcomes[i] = EXISTING
        columns = {name: [values[i] for i in kept] for name, values in columns.items()}
        if not kept:
            return outcomes
    bulk_inserted(session, "work_logs", columns)
    # rows of one visit carry its Visit's id object: grouped by identity, in order of first appearance
    logs_of: dict[int, tuple[uuid.UUID, list[str]]] = {}
    for visit_id, log_id in zip(columns["visit_id"], columns["id"], strict=True):
        group = logs_of.get(id(visit_id))
        if group is None:
            group = logs_of[id(visit_id)] = (visit_id, [])
        group[1].append(str(log_id))
    # one audit event per visit naming its new logs (a phone's day is hundreds of logs)
    audit_service.record_many(actor, "work_log.create_many", "visits",
                              [(visit_id, {"work_log_ids": log_ids}) for visit_id, log_ids in logs_of.values()], at=now)
    return outcomes


def get_work_log(actor: Actor, log_id: uuid.UUID) -> WorkLog:
    """A work log the actor may change: their own (technicians), any (dispatchers)."""
    entry = db.session.get(WorkLog, log_id)
    if entry is None or (actor.role is Role.TECHNICIAN and entry.technician_id != actor.technician_id):
        raise NotFound(f"work log {log_id} not found")
    if actor.role not in (Role.TECHNICIAN, Role.DISPATCHER, Role.ADMIN):
        raise Forbidden(f"role {actor.role.value} may not change work logs")
    return entry


def update_work_log(actor: Actor, log_id: uuid.UUID, data: dict[str, Any], *, now: datetime | None = None) -> WorkLog:
    """Correct a work log. It stays on its visit: moving it to another visit is refused."""
    now = now or utcnow()
    entry = get_work_log(actor, log_id)
    if "visit_id" in data and data["visit_id"] != entry.visit_id:
        raise ValidationFailed("a work log cannot move to another visit",
                               errors={"json": {"visit_id": ["cannot change"]}})
    data.pop("visit_id", None)
    cleared = sorted(k for k in ("started_at", "description") if k in data and not data[k])
    if cleared:  # required, as on create (a phone may push null or ''): a 422, not a NOT NULL violation
        raise ValidationFailed(f"a work log keeps its {' and '.join(cleared)}",
                               errors={"json": {k: ["required"] for k in cleared}})
    _check_log_times({"started_at": entry.started_at, "ended_at": entry.ended_at, **data})
    diff = audit_service.changes(entry, data)
    if diff:
        audit_service.record(actor, "work_log.update", entry, diff, at=now)
    return entry


def delete_work_log(actor: Actor, log_id: uuid.UUID, *, now: datetime | None = None) -> None:
    entry = get_work_log(actor, log_id)
    audit_service.record(actor, "work_log.delete", entry, {"visit_id": entry.visit_id, "description": entry.description},
                         at=now or utcnow())
    db.session.delete(entry)


TECHNICIAN_VISIT_FIELDS = frozenset({"status", "customer_confirmed", "customer_confirmed_at", "confirmation_note",
                                     "arrived_at", "departed_at", "work_complete", "notes"})


def apply_field_changes(actor: Actor, visit_id: uuid.UUID, changes: dict[str, Any],
                        *, now: datetime | None = None) -> Visit:
    """Work facts a technician reports for a visit from the phone: confirmation with the customer, arrival,
    departure (with or without the work complete), time corrections and notes. Each goes through the same
    rule as its own endpoint; `changes` holds only fields the technician owns (TECHNICIAN_VISIT_FIELDS).
    A technician whose visit was reassigned while offline may still deliver notes (and work logs), nothing else.
    """
    now = now or utcnow()
    unknown = set(changes) - TECHNICIAN_VISIT_FIELDS
    if unknown:
        raise Forbidden(f"a technician does not set {', '.join(sorted(unknown))} on a visit")
    visit = visit_for_field_work(actor, visit_id, released_ok=True)
    if actor.role is Role.TECHNICIAN and visit.technician_id != actor.technician_id:
        facts = set(changes) - {"notes"}
        if facts:
            raise Conflict(f"the visit was reassigned to another technician; {', '.join(sorted(facts))} from you "
                           f"is no longer accepted (notes and work logs are)")
    if "notes" in changes and changes["notes"] != visit.notes:
        audit_service.record(actor, "visit.notes", visit, {"notes": [visit.notes, changes["notes"]]}, at=now)
        visit.notes = changes["notes"]
    if changes.get("customer_confirmed") and not visit.customer_confirmed:
        confirm_with_customer(actor, visit.id, confirmed_at=changes.get("customer_confirmed_at"),
                              note=changes.get("confirmation_note"), now=now)
    try:
        target = VisitStatus(changes["status"]) if changes.get("status") else visit.status
    except ValueError:  # a phone may send anything (sync push): a 422 naming the statuses, never a 500
        raise ValidationFailed(f"unknown visit status {changes['status']!r}; one of "
                               f"{', '.join(s.value for s in VisitStatus)}",
                               errors={"json": {"status": ["unknown status"]}}) from None
    if target is VisitStatus.PLANNED and visit.status is not VisitStatus.PLANNED or target is VisitStatus.CANCELLED:
        raise InvalidTransition(f"a technician cannot set a visit from {visit.status.value} to {target.value}",
                                current_status=visit.status.value, allowed_from=[])
    if target in (VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED) and visit.status is VisitStatus.PLANNED:
        record_arrival(actor, visit.id, arrived_at=changes.get("arrived_at"), now=now)
    elif "arrived_at" in changes and changes["arrived_at"] != visit.arrived_at:
        _correct_time(actor, visit, "arrived_at", changes["arrived_at"], now)
    if target is VisitStatus.COMPLETED and visit.status is VisitStatus.IN_PROGRESS:
        record_departure(actor, visit.id, work_complete=bool(changes.get("work_complete", visit.work_complete)),
                         departed_at=changes.get("departed_at"), now=now)
    elif "departed_at" in changes and changes["departed_at"] != visit.departed_at:
        _correct_time(actor, visit, "departed_at", changes["departed_at"], now)
    return visit


def _correct_time(actor: Actor, visit: Visit, field: str, value: datetime | None, now: datetime) -> None:
    """A technician corrects an arrival or departure time already recorded."""
    stage = VisitStatus.IN_PROGRESS if field == "arrived_at" else VisitStatus.COMPLETED
    reached = (VisitStatus.IN_PROGRESS, VisitStatus.COMPLETED) if field == "arrived_at" else (VisitStatus.COMPLETED,)
    if visit.status not in reached or value is None:
        raise InvalidTransition(f"{field} can be corrected only once the visit is {stage.value}",
                                current_status=visit.status.value)
    if field == "arrived_at":
        gate.require(gate.arrival_time_unmet(visit, value, early_start_allowance()), subject="visit",
                     subject_id=visit.id, transition="correct arrived_at", role=actor.role,
                     what="the arrival time cannot be corrected to that time")
    arrived = value if field == "arrived_at" else visit.arrived_at
    departed = value if field == "departed_at" else visit.departed_at
    if arrived and departed and departed < arrived:
        raise ValidationFailed("departed_at is before arrived_at", errors={"json": {field: ["departure before arrival"]}})
    audit_service.record(actor, "visit.time_correction", visit, {field: [getattr(visit, field), value]}, at=now)
    setattr(visit, field, value)
