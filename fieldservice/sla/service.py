"""Service levels (R-SLA-1, R-SLA-2).

Clocks start and stop with work-order, visit and service-request events: sla/reactions.py subscribes to the
lifecycle's domain events and calls the small `on_*` functions here, so the rules hold on the JSON API, sync
push, signing links, CLI and scheduler alike (docs/workflow.md).

Targets and what they count (docs/sla.md):
- respond (default 30 min): work order opened -> a technician is assigned (dispatched) or work starts.
- on_site (default 2 h): work order opened -> the technician arrives; when a visit time is confirmed with the
  customer the deadline is the end of that agreed window instead ("or within the time agreed", R-SLA-1).
- fix (default 4 h): work order opened -> work complete. Paused while finished work awaits the customer's
  acceptance; resumed when the customer sends it back to rework (R-REP-7); stopped on sign-off/close.
- answer (default 24 h): service request reported -> answered, turned into a work order, or closed.
respond, on_site and fix count business time in the policy's calendar (the pledge is made for service
hours); answer counts wall-clock time (a "24 hours" answer pledge to the customer is a day on the clock).
Without a calendar every target counts wall-clock time.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from flask import current_app

from fieldservice.assets.models import Asset
from fieldservice.audit import service as audit_service
from fieldservice.auth.models import User
from fieldservice.auth.service import Actor
from fieldservice.common.lookup import get_or_404, get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.common.versioning import check_version
from fieldservice.contracts.models import SalesContract, SalesContractLine
from fieldservice.db import insert_unless_exists, utcnow
from fieldservice.errors import Conflict, ValidationFailed
from fieldservice.extensions import db
from fieldservice.notifications import service as notifications
from fieldservice.notifications.models import Channel
from fieldservice.servicerequests.models import ServiceRequest
from fieldservice.sla.calendar import Calendar, add_seconds, seconds_between
from fieldservice.sla.models import ClockStatus, SlaBreach, SlaCalendar, SlaClock, SlaPolicy, SlaTarget
from fieldservice.workorders.models import WorkOrder, WorkOrderKind, WorkOrderStatus

log = logging.getLogger(__name__)

S = WorkOrderStatus
T = SlaTarget
WORK_ORDER_TARGETS = (T.RESPOND, T.ON_SITE, T.FIX)
BUSINESS_TIME_TARGETS = frozenset({T.RESPOND, T.ON_SITE, T.FIX})
DEFAULT_MINUTES = {T.RESPOND: 30, T.ON_SITE: 120, T.FIX: 240, T.ANSWER: 24 * 60}  # R-SLA-1
BREACH_KIND = "sla.breach"


# ---- calendars ----------------------------------------------------------------------------------

def _check_calendar(data: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if "timezone" in data:
        try:
            ZoneInfo(data["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            errors["timezone"] = ["unknown time zone (use an IANA name such as Asia/Shanghai)"]
    start, end = data.get("day_start"), data.get("day_end")
    if isinstance(start, time) and isinstance(end, time) and end <= start:
        errors["day_end"] = ["must be after day_start"]
    if "workdays" in data and not data["workdays"]:
        errors["workdays"] = ["at least one working weekday"]
    if errors:
        raise ValidationFailed("invalid calendar", errors={"json": errors})


def _calendar_values(data: dict[str, Any]) -> dict[str, Any]:
    out = dict(data)
    if "workdays" in out:
        out["workdays"] = sorted(set(out["workdays"]))
    for key in ("holidays", "extra_workdays"):
        if key in out:
            out[key] = sorted({d.isoformat() for d in out[key]})
    return out


def create_calendar(actor: Actor, data: dict[str, Any]) -> SlaCalendar:
    """A business-hours calendar: working weekdays and hours in a time zone, holidays, make-up days."""
    data.setdefault("workdays", [1, 2, 3, 4, 5])
    data.setdefault("day_start", time(9, 0))
    data.setdefault("day_end", time(18, 0))
    data.setdefault("holidays", [])
    data.setdefault("extra_workdays", [])
    _check_calendar(data)
    _unique_name(SlaCalendar, data["name"])
    calendar = SlaCalendar(**_calendar_values(data))
    db.session.add(calendar)
    db.session.flush()
    audit_service.record(actor, "sla_calendar.create", calendar, {"name": calendar.name})
    return calendar


def list_calendars() -> list[SlaCalendar]:
    return list(db.session.scalars(sa.select(SlaCalendar).order_by(SlaCalendar.name)))


def get_calendar(calendar_id: uuid.UUID) -> SlaCalendar:
    return get_or_404(SlaCalendar, calendar_id, "SLA calendar")


def update_calendar(actor: Actor, calendar_id: uuid.UUID, data: dict[str, Any]) -> SlaCalendar:
    """Change a calendar. Running clocks keep the deadline they have; new clocks use the new hours."""
    calendar = get_calendar(calendar_id)
    merged = {"day_start": calendar.day_start, "day_end": calendar.day_end, **data}
    _check_calendar(merged)
    if "name" in data and data["name"] != calendar.name:
        _unique_name(SlaCalendar, data["name"])
    diff = audit_service.changes(calendar, _calendar_values(data))
    if diff:
        audit_service.record(actor, "sla_calendar.update", calendar, diff)
    return calendar


def _unique_name(model: Any, name: str) -> None:
    if db.session.scalar(sa.select(model.id).where(model.name == name)) is not None:
        raise Conflict(f"the name {name!r} is taken", errors={"json": {"name": ["already used"]}})


# ---- policies -----------------------------------------------------------------------------------

def _check_policy_refs(data: dict[str, Any]) -> None:
    if data.get("calendar_id"):
        get_ref(SlaCalendar, data["calendar_id"], "calendar_id", "SLA calendar")
    if data.get("contract_id"):
        get_ref(SalesContract, data["contract_id"], "contract_id", "contract")
        taken = db.session.scalar(sa.select(SlaPolicy.id).where(SlaPolicy.contract_id == data["contract_id"]))
        if taken is not None and taken != data.get("_self"):
            raise Conflict("the contract already has an SLA policy; edit that one",
                           errors={"json": {"contract_id": ["already has a policy"]}}, policy_id=str(taken))
    data.pop("_self", None)


def _only_default(policy: SlaPolicy) -> None:
    """At most one default policy: setting one unsets the previous default."""
    if policy.is_default:
        for other in db.session.scalars(sa.select(SlaPolicy).where(SlaPolicy.is_default.is_(True),
                                                                  SlaPolicy.id != policy.id)):
            other.is_default = False


def create_policy(actor: Actor, data: dict[str, Any]) -> SlaPolicy:
    """R-SLA-1: time limits, the default policy or a contract's own, with an optional business calendar."""
    if data.get("is_default") and data.get("contract_id"):
        raise ValidationFailed("a contract's policy cannot be the default",
                               errors={"json": {"is_default": ["not with contract_id"]}})
    _check_policy_refs(data)
    _unique_name(SlaPolicy, data["name"])
    policy = SlaPolicy(**data)
    db.session.add(policy)
    db.session.flush()
    _only_default(policy)
    audit_service.record(actor, "sla_policy.create", policy, {"name": policy.name})
    return policy


def list_policies() -> list[SlaPolicy]:
    return list(db.session.scalars(sa.select(SlaPolicy).order_by(SlaPolicy.is_default.desc(), SlaPolicy.name)))


def get_policy(policy_id: uuid.UUID) -> SlaPolicy:
    return get_or_404(SlaPolicy, policy_id, "SLA policy")


def update_policy(actor: Actor, policy_id: uuid.UUID, data: dict[str, Any]) -> SlaPolicy:
    """Change a policy. Clocks already running keep their targets; new jobs get the new ones."""
    policy = get_policy(policy_id)
    check_version(policy, data.pop("version", None))
    contract_id = data.get("contract_id", policy.contract_id)
    if data.get("is_default", policy.is_default) and contract_id:
        raise ValidationFailed("a contract's policy cannot be the default",
                               errors={"json": {"is_default": ["not with contract_id"]}})
    _check_policy_refs({**data, "_self": policy.id})
    if "name" in data and data["name"] != policy.name:
        _unique_name(SlaPolicy, data["name"])
    diff = audit_service.changes(policy, data)
    _only_default(policy)
    if diff:
        audit_service.record(actor, "sla_policy.update", policy, diff)
    return policy


def delete_policy(actor: Actor, policy_id: uuid.UUID) -> None:
    """Remove a policy no clock was started under (otherwise 409: edit it instead)."""
    policy = get_policy(policy_id)
    used = db.session.scalar(sa.select(sa.func.count()).select_from(SlaClock).where(SlaClock.policy_id == policy.id))
    if used:
        raise Conflict(f"{used} SLA clocks were started under this policy; edit it instead of deleting it",
                       clocks=used)
    audit_service.record(actor, "sla_policy.delete", policy, {"name": policy.name})
    db.session.delete(policy)


@dataclass(frozen=True)
class Effective:
    """The limits that apply to one job: a stored policy, or R-SLA-1's defaults when there is none."""

    policy: SlaPolicy | None
    calendar: SlaCalendar | None

    def minutes(self, target: SlaTarget) -> int:
        if self.policy is None:
            return DEFAULT_MINUTES[target]
        return int(getattr(self.policy, f"{target.value}_minutes"))


def _contract_of(order: WorkOrder) -> uuid.UUID | None:
    if order.asset_id is None:
        return None
    return db.session.scalar(
        sa.select(SalesContractLine.contract_id).join(Asset, Asset.contract_line_id == SalesContractLine.id)
        .where(Asset.id == order.asset_id))


def effective_policy(*, contract_id: uuid.UUID | None) -> Effective:
    """The contract's own policy, else the default policy, else R-SLA-1's defaults (wall-clock)."""
    policy = None
    if contract_id is not None:
        policy = db.session.scalar(sa.select(SlaPolicy).where(SlaPolicy.contract_id == contract_id))
    if policy is None:
        policy = db.session.scalar(sa.select(SlaPolicy).where(SlaPolicy.is_default.is_(True)).limit(1))
    calendar = db.session.get(SlaCalendar, policy.calendar_id) if policy and policy.calendar_id else None
    return Effective(policy, calendar)


# ---- clocks -------------------------------------------------------------------------------------

def _calendar_of(clock: SlaClock, cache: dict[uuid.UUID, Calendar] | None = None) -> Calendar | None:
    if not clock.business_time or clock.calendar_id is None:
        return None
    if cache is not None and clock.calendar_id in cache:
        return cache[clock.calendar_id]
    model = db.session.get(SlaCalendar, clock.calendar_id)
    calendar = Calendar.from_model(model) if model else None
    if cache is not None and calendar is not None:
        cache[clock.calendar_id] = calendar
    return calendar


def _deadline(clock: SlaClock) -> datetime | None:
    if clock.status is not ClockStatus.RUNNING or clock.running_since is None:
        return None
    if clock.agreed_due_at is not None:
        return clock.agreed_due_at
    remaining = clock.target_minutes * 60 - clock.elapsed_seconds
    try:
        return add_seconds(_calendar_of(clock), clock.running_since, remaining)
    except ValueError:  # a calendar with holidays on every working day for years: count wall-clock time
        log.warning("SLA calendar %s has no working time ahead; clock %s counts wall-clock time",
                    clock.calendar_id, clock.id)
        return add_seconds(None, clock.running_since, remaining)


def elapsed(clock: SlaClock, now: datetime) -> int:
    """Counted seconds so far (business or wall-clock as the clock counts)."""
    running = 0
    if clock.status is ClockStatus.RUNNING and clock.running_since is not None:
        running = seconds_between(_calendar_of(clock), clock.running_since, now)
    return clock.elapsed_seconds + running


def _start(target: SlaTarget, effective: Effective, at: datetime, **owner: uuid.UUID) -> SlaClock:
    business = target in BUSINESS_TIME_TARGETS and effective.calendar is not None
    clock = SlaClock(target=target, policy_id=effective.policy.id if effective.policy else None,
                     calendar_id=effective.calendar.id if business and effective.calendar else None,
                     business_time=business, target_minutes=effective.minutes(target),
                     status=ClockStatus.RUNNING, started_at=at, running_since=at, elapsed_seconds=0, **owner)
    clock.due_at = _deadline(clock)
    db.session.add(clock)
    return clock


def _clocks(**owner: Any) -> dict[SlaTarget, SlaClock]:
    stmt = sa.select(SlaClock)
    for key, value in owner.items():
        stmt = stmt.where(getattr(SlaClock, key) == value)
    return {c.target: c for c in db.session.scalars(stmt)}


def _pause(clock: SlaClock, at: datetime) -> None:
    if clock.status is not ClockStatus.RUNNING:
        return
    clock.elapsed_seconds = elapsed(clock, at)
    clock.status, clock.running_since, clock.due_at = ClockStatus.PAUSED, None, None


def _resume(clock: SlaClock, at: datetime) -> None:
    if clock.status is not ClockStatus.PAUSED:
        return
    clock.status, clock.running_since, clock.stopped_at = ClockStatus.RUNNING, at, None
    clock.due_at = _deadline(clock)


def _stop(clock: SlaClock, at: datetime) -> None:
    """Target reached. A clock that stops late without the scan having seen it yet is a breach too."""
    if clock.status not in (ClockStatus.RUNNING, ClockStatus.PAUSED):
        return
    due = clock.due_at
    if clock.status is ClockStatus.RUNNING:
        clock.elapsed_seconds = elapsed(clock, at)
    clock.status, clock.running_since, clock.stopped_at, clock.due_at = ClockStatus.STOPPED, None, at, None
    if due is not None and at > due and clock.breached_at is None:
        _record_breach(clock, due=due, now=at)


def _cancel(clock: SlaClock, at: datetime) -> None:
    if clock.status in (ClockStatus.RUNNING, ClockStatus.PAUSED):
        clock.status, clock.running_since, clock.stopped_at, clock.due_at = ClockStatus.CANCELLED, None, at, None


def clock_kinds() -> frozenset[WorkOrderKind]:
    """SLA_WORK_ORDER_KINDS (comma-separated); unknown names are ignored rather than failing every job."""
    wanted = {k.strip().lower() for k in str(current_app.config.get("SLA_WORK_ORDER_KINDS", "repair")).split(",")}
    return frozenset(kind for kind in WorkOrderKind if kind.value in wanted)


def on_work_order_created(order: WorkOrder, *, at: datetime) -> None:
    """R-SLA-1: respond, on-site and fix clocks start when a job is opened (repair jobs by default;
    SLA_WORK_ORDER_KINDS). Maintenance and installation visits are planned ahead, not raced to."""
    if order.kind not in clock_kinds():
        return
    effective = effective_policy(contract_id=_contract_of(order))
    for target in WORK_ORDER_TARGETS:
        _start(target, effective, at, work_order_id=order.id)
    db.session.flush()


def on_work_order_status(order: WorkOrder, old: WorkOrderStatus, new: WorkOrderStatus, *, at: datetime) -> None:
    """Stop, pause or resume a job's clocks as its status moves (sla/reactions.py: on every WorkOrderStatusChanged).
    Kinds without clocks cost no query (maintenance generation moves thousands of orders)."""
    if order.kind not in clock_kinds():
        return
    clocks = _clocks(work_order_id=order.id)
    if not clocks:
        return
    if new is S.CANCELLED:
        for clock in clocks.values():
            _cancel(clock, at)
        return
    if new in (S.DISPATCHED, S.IN_PROGRESS, S.WORK_COMPLETE) and T.RESPOND in clocks:
        _stop(clocks[T.RESPOND], at)
    if new in (S.IN_PROGRESS, S.WORK_COMPLETE) and T.ON_SITE in clocks:
        _stop(clocks[T.ON_SITE], at)
    fix = clocks.get(T.FIX)
    if fix is not None:
        if new is S.WORK_COMPLETE:
            _pause(fix, at)            # finished; the customer now accepts (R-REP-7) or sends it back
        elif new is S.REWORK or (old is S.WORK_COMPLETE and new is S.IN_PROGRESS):
            _resume(fix, at)           # not fixed after all: the clock runs on from where it paused
        elif new in (S.SIGNED, S.CLOSED):
            _stop(fix, at)
    db.session.flush()


def _fact_time(clock: SlaClock, fact: datetime | None, now: datetime) -> datetime:
    """A field fact's time (a phone's arrival or departure, possibly pushed hours later) clamped to the
    clock's life: not before it started, not after the server learnt of it."""
    if fact is None:
        return now
    return min(max(fact, clock.started_at), now)


def on_arrival(order: WorkOrder, *, arrived_at: datetime | None, now: datetime) -> None:
    """The technician arrived: respond and on-site clocks stop at the arrival time the phone reported
    (an offline phone pushes it later), not at the time the server heard of it."""
    clocks = _clocks(work_order_id=order.id)
    for target in (T.RESPOND, T.ON_SITE):
        if target in clocks:
            _stop(clocks[target], _fact_time(clocks[target], arrived_at, now))


def on_work_complete(order: WorkOrder, *, departed_at: datetime | None, now: datetime) -> None:
    """The work is complete: the fix clock pauses at the reported departure time."""
    fix = _clocks(work_order_id=order.id).get(T.FIX)
    if fix is not None:
        _pause(fix, _fact_time(fix, departed_at, now))


def on_visit_confirmed(order: WorkOrder, scheduled_end: datetime) -> None:
    """R-SLA-1 'or within the time agreed with the customer': the on-site deadline becomes the end of the
    confirmed visit window."""
    clock = _clocks(work_order_id=order.id).get(T.ON_SITE)
    if clock is None or clock.status is not ClockStatus.RUNNING:
        return
    clock.agreed_due_at = scheduled_end
    clock.due_at = _deadline(clock)


def on_visit_unconfirmed(order: WorkOrder) -> None:
    """A confirmed visit was moved: back to the policy's on-site limit until a new time is agreed."""
    clock = _clocks(work_order_id=order.id).get(T.ON_SITE)
    if clock is None or clock.agreed_due_at is None:
        return
    clock.agreed_due_at = None
    clock.due_at = _deadline(clock)


def on_request_created(request: ServiceRequest, *, at: datetime) -> None:
    """R-SLA-1: every service request is answered within 24 h (wall-clock) from when it was reported."""
    effective = effective_policy(contract_id=None)
    _start(T.ANSWER, effective, request.reported_at or at, service_request_id=request.id)
    db.session.flush()


def on_request_answered(request: ServiceRequest, *, at: datetime) -> None:
    """Answered on the spot, turned into a work order, or closed: the answer clock stops."""
    clock = _clocks(service_request_id=request.id).get(T.ANSWER)
    if clock is not None:
        _stop(clock, at)


# ---- breaches -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Escalation:
    """Who hears of a breach (R-SLA-2) and why: `via` is supervisor, policy or setting."""

    recipient: str
    via: str
    dispatcher: User | None = None
    supervisor: User | None = None


def dispatcher_of(clock: SlaClock) -> User | None:
    """The dispatcher answerable for the job on the clock.

    For a work order: the user who last assigned (or reassigned) a technician to one of its visits, as the
    audit trail records it (`visit.assign` / `visit.reassign` by a login, not the system); else the user who
    created the work order. For a service request: the user who logged it. None when the system did it."""
    user_id: uuid.UUID | None = None
    if clock.work_order_id:
        from fieldservice.audit.models import AuditEvent
        from fieldservice.visits.models import Visit

        user_id = db.session.scalar(
            sa.select(AuditEvent.actor_user_id)
            .where(AuditEvent.entity_type == Visit.__tablename__,
                   AuditEvent.entity_id.in_(sa.select(Visit.id).where(Visit.work_order_id == clock.work_order_id)),
                   AuditEvent.action.in_(("visit.assign", "visit.reassign")),
                   AuditEvent.actor_user_id.is_not(None))
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(1))
        if user_id is None:
            user_id = db.session.scalar(sa.select(WorkOrder.created_by_id).where(WorkOrder.id == clock.work_order_id))
    elif clock.service_request_id:
        user_id = db.session.scalar(
            sa.select(ServiceRequest.created_by_id).where(ServiceRequest.id == clock.service_request_id))
    return db.session.get(User, user_id) if user_id else None


def escalation_for(clock: SlaClock) -> Escalation:
    """R-SLA-2 recipient order: the active supervisor of the job's dispatcher (their e-mail, else
    `user:<username>`) -> the policy's `escalate_to` -> the `SLA_ESCALATE_TO` setting."""
    dispatcher = dispatcher_of(clock)
    supervisor = db.session.get(User, dispatcher.supervisor_id) if dispatcher and dispatcher.supervisor_id else None
    if supervisor is not None and supervisor.is_active:
        return Escalation(supervisor.email or f"user:{supervisor.username}", "supervisor", dispatcher, supervisor)
    policy = db.session.get(SlaPolicy, clock.policy_id) if clock.policy_id else None
    if policy is not None and policy.escalate_to:
        return Escalation(policy.escalate_to, "policy", dispatcher)
    return Escalation(current_app.config["SLA_ESCALATE_TO"], "setting", dispatcher)


def escalation_recipient(clock: SlaClock) -> str:
    return escalation_for(clock).recipient


def _record_breach(clock: SlaClock, *, due: datetime, now: datetime) -> bool:
    """One breach per clock (unique clock_id) and one escalation message per breach (dedupe key)."""
    escalation = escalation_for(clock)
    recipient = escalation.recipient
    breach_id = uuid.uuid4()
    written = insert_unless_exists(db.session, SlaBreach, {
        "id": breach_id, "clock_id": clock.id, "target": clock.target.value, "work_order_id": clock.work_order_id,
        "service_request_id": clock.service_request_id, "due_at": due, "detected_at": now,
        "escalated_to": recipient}, key=["clock_id"]) is not None
    clock.breached_at = clock.breached_at or now
    if not written:
        return False
    payload = _escalation_payload(clock, breach_id, due, now, escalation)
    channel = Channel.EMAIL if "@" in recipient else Channel.WEBHOOK
    subject = f"SLA 超时 breach: {clock.target.value} — {payload.get('work_order_number') or 'service request'}"
    notifications.enqueue(BREACH_KIND, recipient, payload, channel=channel, subject=subject,
                          dedupe_key=f"sla.breach:{clock.id}", now=now)
    log.info("SLA breach %s target=%s clock=%s to=%s via %s", breach_id, clock.target.value, clock.id,
             recipient, escalation.via)
    return True


def _person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": str(user.id), "username": user.username, "name": user.display_name, "email": user.email}


def _escalation_payload(clock: SlaClock, breach_id: uuid.UUID, due: datetime, now: datetime,
                        escalation: Escalation) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "breach_id": str(breach_id), "target": clock.target.value, "target_minutes": clock.target_minutes,
        "due_at": due.isoformat(), "detected_at": now.isoformat(),
        "minutes_late": max(0, int((now - due).total_seconds() // 60)),
        "escalated_via": escalation.via,
        "dispatcher": escalation.dispatcher.display_name if escalation.dispatcher else None,
        "dispatcher_user": _person(escalation.dispatcher),
        "supervisor": escalation.supervisor.display_name if escalation.supervisor else None,
        "supervisor_user": _person(escalation.supervisor),
    }
    if clock.work_order_id:
        order = db.session.get(WorkOrder, clock.work_order_id)
        if order is not None:
            payload.update(work_order_id=str(order.id), work_order_number=order.number, summary=order.summary,
                           status=order.status.value, priority=order.priority.value,
                           customer_id=str(order.customer_id))
    if clock.service_request_id:
        payload["service_request_id"] = str(clock.service_request_id)
    return payload


def scan_breaches(*, now: datetime | None = None, limit: int = 1000) -> int:
    """R-SLA-2: record every running clock past its deadline as a breach, once, and escalate it.

    Idempotent: a clock already breached is skipped, and the unique clock_id / dedupe key make a concurrent
    second scan (another scheduler process) write nothing. Returns the number of new breaches."""
    now = now or utcnow()
    clocks = list(db.session.scalars(
        sa.select(SlaClock).where(SlaClock.status == ClockStatus.RUNNING, SlaClock.due_at <= now,
                                  SlaClock.breached_at.is_(None))
        .order_by(SlaClock.due_at).limit(limit)))
    created = 0
    for clock in clocks:
        assert clock.due_at is not None
        created += _record_breach(clock, due=clock.due_at, now=now)
    db.session.flush()
    return created


# ---- reading ------------------------------------------------------------------------------------

def clock_view(clock: SlaClock, now: datetime) -> dict[str, Any]:
    """A clock with its counted time so far and its outcome (met / breached / pending)."""
    counted = elapsed(clock, now)
    if clock.breached_at is not None:
        outcome = "breached"
    elif clock.status is ClockStatus.STOPPED:
        outcome = "met"
    elif clock.status is ClockStatus.CANCELLED:
        outcome = "cancelled"
    else:
        outcome = "pending"
    return {"id": clock.id, "target": clock.target, "status": clock.status, "target_minutes": clock.target_minutes,
            "business_time": clock.business_time, "started_at": clock.started_at, "due_at": clock.due_at,
            "agreed_due_at": clock.agreed_due_at, "stopped_at": clock.stopped_at, "breached_at": clock.breached_at,
            "elapsed_seconds": counted, "outcome": outcome, "policy_id": clock.policy_id,
            "work_order_id": clock.work_order_id, "service_request_id": clock.service_request_id}


def work_order_sla(actor: Actor, work_order_id: uuid.UUID, *, now: datetime | None = None) -> dict[str, Any]:
    """The clocks and breaches of one work order (scoped like the work order itself)."""
    from fieldservice.workorders.service import get_work_order

    now = now or utcnow()
    order = get_work_order(actor, work_order_id)
    clocks = sorted(_clocks(work_order_id=order.id).values(), key=lambda c: list(T).index(c.target))
    breaches = list(db.session.scalars(sa.select(SlaBreach).where(SlaBreach.work_order_id == order.id)
                                       .order_by(SlaBreach.due_at)))
    return {"work_order_id": order.id, "clocks": [clock_view(c, now) for c in clocks], "breaches": breaches}


def list_breaches(page: PageRequest, *, target: SlaTarget | None = None, work_order_id: uuid.UUID | None = None,
                  detected_from: datetime | None = None, detected_to: datetime | None = None) -> Page:
    stmt = sa.select(SlaBreach).order_by(SlaBreach.detected_at.desc(), SlaBreach.id)
    if target:
        stmt = stmt.where(SlaBreach.target == target)
    if work_order_id:
        stmt = stmt.where(SlaBreach.work_order_id == work_order_id)
    if detected_from:
        stmt = stmt.where(SlaBreach.detected_at >= detected_from)
    if detected_to:
        stmt = stmt.where(SlaBreach.detected_at < detected_to)
    return paginate(stmt, page)


def open_clocks(*, now: datetime | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The running clocks, nearest deadline first (R-SLA-2: the dispatch board shows them while they run): each
    clock's view, its work order or service request, and the seconds left (negative: past the deadline)."""
    now = now or utcnow()
    clocks = list(db.session.scalars(sa.select(SlaClock).where(
        SlaClock.status == ClockStatus.RUNNING, SlaClock.due_at.is_not(None)).order_by(SlaClock.due_at).limit(limit)))
    order_ids = {c.work_order_id for c in clocks if c.work_order_id}
    request_ids = {c.service_request_id for c in clocks if c.service_request_id}
    orders = {o.id: o for o in db.session.scalars(sa.select(WorkOrder).where(WorkOrder.id.in_(order_ids)))} \
        if order_ids else {}
    requests = {r.id: r for r in db.session.scalars(sa.select(ServiceRequest).where(
        ServiceRequest.id.in_(request_ids)))} if request_ids else {}
    out = []
    for clock in clocks:
        assert clock.due_at is not None
        out.append({**clock_view(clock, now), "seconds_left": (clock.due_at - now).total_seconds(),
                    "work_order": orders.get(clock.work_order_id) if clock.work_order_id else None,
                    "service_request": requests.get(clock.service_request_id) if clock.service_request_id else None})
    return out
