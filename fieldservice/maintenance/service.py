"""Maintenance plan use cases and the generation of their occurrences, work orders and visits (R-MNT-1/4).

Generation is idempotent: an occurrence is unique per (plan, due date) and inserted with ON CONFLICT DO
NOTHING; only the run that inserted it plans its work order and visit. A run first takes the change-counter
lock (it writes synced rows anyway), so two runs at once are serialised and the second finds nothing to do.
Each plan remembers the last due date it covered (`covered_through`), so a run with nothing to do reads only
the plans whose horizon moved on.
"""
from __future__ import annotations

import calendar
import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, rrule, rrulestr
from sqlalchemy.exc import IntegrityError

from fieldservice.assets.models import Asset, AssetStatus
from fieldservice.audit import service as audit_service
from fieldservice.auth.service import SYSTEM, Actor
from fieldservice.changes import ensure_counter_locked
from fieldservice.common.lookup import get_or_404, get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.db import utcnow
from fieldservice.errors import (
    DomainError,
    InvalidTransition,
    NotCertified,
    TechnicianUnavailable,
    ValidationFailed,
)
from fieldservice.extensions import db
from fieldservice.maintenance.models import (
    OPEN_OCCURRENCE_STATUSES,
    IntervalUnit,
    MaintenanceOccurrence,
    MaintenancePlan,
    OccurrenceStatus,
    PlanStatus,
)
from fieldservice.technicians.models import Technician
from fieldservice.visits import service as visits
from fieldservice.workorders import service as workorders
from fieldservice.workorders.models import WorkOrder, WorkOrderKind, WorkOrderStatus

log = logging.getLogger(__name__)

OS = OccurrenceStatus
DEFAULT_WINDOW = (time(9, 0), time(12, 0))
RECURRENCE_FIELDS = frozenset({"interval", "interval_unit", "rrule", "start_on", "end_on"})
WORK_DONE = (WorkOrderStatus.WORK_COMPLETE, WorkOrderStatus.SIGNED, WorkOrderStatus.CLOSED)


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", errors={"json": {field: [message]}})


# ---- recurrence ----------------------------------------------------------------------------------

def _midnight(day: date) -> datetime:
    return datetime.combine(day, time())


def _possible_month_days(rule: rrule) -> bool:
    """BYMONTH with BYMONTHDAY that no month has (e.g. February 30th): dateutil would search to year 9999."""
    days = rule._bymonthday  # noqa: SLF001  (dateutil keeps the parsed parts private)
    if not days or rule._bynmonthday:  # noqa: SLF001
        return True
    months = rule._bymonth or range(1, 13)  # noqa: SLF001
    return any(day <= calendar.monthrange(2028, month)[1] for month in months for day in days)


def parse_rrule(text: str, start_on: date) -> rrule:
    """An RFC 5545 RRULE (one line, `RRULE:` prefix optional) with `start_on` as its DTSTART; 422 if unusable."""
    body = text.strip()
    if body.upper().startswith("RRULE:"):
        body = body[len("RRULE:"):]
    if not body or "\n" in body or "\r" in body or ":" in body:
        raise _invalid("rrule", "give one RRULE line, e.g. FREQ=MONTHLY;INTERVAL=3 (no DTSTART: start_on is used)")
    try:
        rule = rrulestr(body, dtstart=_midnight(start_on))
    except Exception as err:  # dateutil reports malformed rules with assorted exception types
        raise _invalid("rrule", f"not a valid RFC 5545 RRULE: {err}") from err
    if not isinstance(rule, rrule):
        raise _invalid("rrule", "give a single RRULE")
    if rule._freq > DAILY:  # noqa: SLF001
        raise _invalid("rrule", "FREQ must be YEARLY, MONTHLY, WEEKLY or DAILY (one visit a day at most)")
    try:
        first = rule.after(_midnight(start_on), inc=True) if _possible_month_days(rule) else None
    except Exception as err:  # a rule dateutil accepts but cannot expand
        raise _invalid("rrule", f"not a usable RRULE: {err}") from err
    if first is None:
        raise _invalid("rrule", "the rule produces no dates on or after start_on")
    return rule


def due_dates(plan: MaintenancePlan, first: date, last: date) -> list[date]:
    """The plan's due dates from `first` to `last` (inclusive), within its start and end dates."""
    first = max(first, plan.start_on)
    if plan.end_on is not None:
        last = min(last, plan.end_on)
    if last < first:
        return []
    if plan.rrule:
        found = parse_rrule(plan.rrule, plan.start_on).between(_midnight(first), _midnight(last), inc=True)
        return sorted({moment.date() for moment in found})
    assert plan.interval and plan.interval_unit
    step = plan.interval
    if plan.interval_unit is IntervalUnit.MONTHS:
        # counted from the start each time, so Jan 31 gives Feb 28 (29), Mar 31, ... with no drift
        def nth(k: int) -> date:
            return plan.start_on + relativedelta(months=k * step)
        gap = relativedelta(first, plan.start_on)
        k = max(0, (gap.years * 12 + gap.months) // step - 1)
    else:
        days = step * (7 if plan.interval_unit is IntervalUnit.WEEKS else 1)

        def nth(k: int) -> date:
            return plan.start_on + timedelta(days=k * days)
        k = max(0, (first - plan.start_on).days // days)
    found_dates = []
    while (due := nth(k)) <= last:
        if due >= first:
            found_dates.append(due)
        k += 1
    return found_dates


def visit_window(plan: MaintenancePlan, due_on: date) -> tuple[datetime, datetime]:
    """The preferred window on `due_on`, local time at the asset's site, as UTC instants."""
    try:
        zone: Any = ZoneInfo(plan.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    start = datetime.combine(due_on, plan.window_start, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(due_on, plan.window_end, tzinfo=zone).astimezone(UTC)
    return start, end


# ---- plans ---------------------------------------------------------------------------------------

def _check_plan(values: dict[str, Any]) -> None:
    """Recurrence (interval with unit, or an RRULE: one of them), date order and window order."""
    has_interval = values.get("interval") is not None or values.get("interval_unit") is not None
    if values.get("rrule") and has_interval:
        raise _invalid("rrule", "give either rrule or interval with interval_unit, not both")
    if not values.get("rrule"):
        if values.get("interval") is None or values.get("interval_unit") is None:
            raise _invalid("interval", "a recurrence is required: interval with interval_unit, or rrule")
    end_on = values.get("end_on")
    if end_on is not None and end_on < values["start_on"]:
        raise _invalid("end_on", "is before start_on")
    if values["window_end"] <= values["window_start"]:
        raise _invalid("window_end", "must be after window_start (same day)")
    if values.get("rrule"):
        parse_rrule(values["rrule"], values["start_on"])
    if values.get("technician_id"):
        get_ref(Technician, values["technician_id"], "technician_id", "technician")


def _plain(details: dict[str, Any]) -> dict[str, Any]:
    """Audit details are JSON: times of day as text."""
    def convert(value: Any) -> Any:
        if isinstance(value, time):
            return value.isoformat()
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value
    return {key: convert(value) for key, value in details.items()}


def create_plan(actor: Actor, data: dict[str, Any], *, today: date | None = None,
                now: datetime | None = None) -> MaintenancePlan:
    now = now or utcnow()
    today = today or now.date()
    asset = get_ref(Asset, data["asset_id"], "asset_id", "asset")
    if asset.status is AssetStatus.RETIRED:
        raise _invalid("asset_id", "the asset is retired")
    data.setdefault("window_start", DEFAULT_WINDOW[0])
    data.setdefault("window_end", DEFAULT_WINDOW[1])
    _check_plan(data)
    # due dates before today (or before the start) are not owed: generation begins at the later of the two
    covered = max(data["start_on"], today) - timedelta(days=1)
    plan = MaintenancePlan(status=PlanStatus.ACTIVE, covered_through=covered, created_by_id=actor.user_id, **data)
    db.session.add(plan)
    db.session.flush()
    audit_service.record(actor, "maintenance_plan.create", plan, _plain({
        "asset_id": asset.id, "name": plan.name, "interval": plan.interval, "interval_unit": plan.interval_unit,
        "rrule": plan.rrule, "start_on": plan.start_on, "end_on": plan.end_on}), at=now)
    return plan


def list_plans(actor: Actor, page: PageRequest, *, asset_id: uuid.UUID | None = None,
               status: PlanStatus | None = None) -> Page:
    stmt = sa.select(MaintenancePlan).order_by(MaintenancePlan.created_at.desc(), MaintenancePlan.id)
    if asset_id:
        stmt = stmt.where(MaintenancePlan.asset_id == asset_id)
    if status:
        stmt = stmt.where(MaintenancePlan.status == status)
    return paginate(stmt, page)


def get_plan(actor: Actor, plan_id: uuid.UUID) -> MaintenancePlan:
    return get_or_404(MaintenancePlan, plan_id, "maintenance plan")


def update_plan(actor: Actor, plan_id: uuid.UUID, data: dict[str, Any], *, today: date | None = None,
                now: datetime | None = None) -> MaintenancePlan:
    """Change a plan. A new recurrence (or start/end) replaces only future occurrences not yet planned (no
    visit); those already scheduled stay as the dispatcher has them, and the next run fills in the rest."""
    now = now or utcnow()
    today = today or now.date()
    ensure_counter_locked(db.session)  # serialised with generation runs (see the module docstring)
    plan = get_plan(actor, plan_id)
    workorders.check_version(plan, data.pop("version", None))
    if plan.status is PlanStatus.CANCELLED:
        raise InvalidTransition("the maintenance plan is cancelled and can no longer be edited",
                                current_status=plan.status.value)
    if data.get("rrule"):  # switching to an RRULE drops the interval unless both are given (then refused)
        data.setdefault("interval", None)
        data.setdefault("interval_unit", None)
    elif data.get("interval") is not None or data.get("interval_unit") is not None:
        data.setdefault("rrule", None)
    fields = ("interval", "interval_unit", "rrule", "start_on", "end_on", "window_start", "window_end",
              "technician_id")
    _check_plan({**{f: getattr(plan, f) for f in fields}, **data})
    diff = audit_service.changes(plan, data)
    if not diff:
        return plan
    if RECURRENCE_FIELDS & diff.keys():
        removed = db.session.execute(sa.delete(MaintenanceOccurrence).where(
            MaintenanceOccurrence.plan_id == plan.id, MaintenanceOccurrence.status == OS.PENDING,
            MaintenanceOccurrence.visit_id.is_(None), MaintenanceOccurrence.due_on >= today)).rowcount
        plan.covered_through = max(plan.start_on, today) - timedelta(days=1)
        diff["regenerated"] = {"removed_pending": removed, "from": max(plan.start_on, today)}
    audit_service.record(actor, "maintenance_plan.update", plan, _plain(diff), at=now)
    db.session.flush()
    return plan


def _cancel_order(actor: Actor, order: WorkOrder, reason: str, now: datetime) -> bool:
    """Cancel a maintenance work order and its planned visits, if its work has not started."""
    if not order.can_transition(WorkOrderStatus.CANCELLED):
        return False
    order.cancel_reason = reason
    visits.cancel_open_visits(actor, order, reason=reason, now=now)
    workorders.apply_transition(actor, order, WorkOrderStatus.CANCELLED, at=now, reason=reason,
                                cause="maintenance plan cancelled")
    return True


def cancel_plan(actor: Actor, plan_id: uuid.UUID, reason: str, *, version: int | None = None,
                now: datetime | None = None) -> MaintenancePlan:
    """Stop the plan: no more occurrences; pending and scheduled ones are cancelled with their visits and work
    orders (a work order already under way is left to finish, and its occurrence stays scheduled). Missed
    occurrences stay missed (history), but their open work orders are cancelled too."""
    now = now or utcnow()
    ensure_counter_locked(db.session)
    plan = get_plan(actor, plan_id)
    workorders.check_version(plan, version)
    if plan.status is PlanStatus.CANCELLED:
        raise InvalidTransition("the maintenance plan is already cancelled", current_status=plan.status.value)
    plan.status, plan.cancel_reason = PlanStatus.CANCELLED, reason
    open_ones = db.session.scalars(sa.select(MaintenanceOccurrence).where(
        MaintenanceOccurrence.plan_id == plan.id,
        MaintenanceOccurrence.status.in_((*OPEN_OCCURRENCE_STATUSES, OS.MISSED)))).all()
    cancelled = 0
    for occurrence in open_ones:
        order = db.session.get(WorkOrder, occurrence.work_order_id) if occurrence.work_order_id else None
        stopped = order is None or _cancel_order(actor, order, f"maintenance plan cancelled: {reason}"[:500], now)
        if stopped and occurrence.status is not OS.MISSED:
            occurrence.status = OS.CANCELLED
            cancelled += 1
    audit_service.record(actor, "maintenance_plan.cancel", plan, {"reason": reason, "occurrences_cancelled": cancelled},
                         at=now)
    db.session.flush()
    return plan


def list_occurrences(actor: Actor, page: PageRequest, *, plan_id: uuid.UUID | None = None,
                     asset_id: uuid.UUID | None = None, status: list[OccurrenceStatus] | None = None,
                     due_from: date | None = None, due_to: date | None = None) -> Page:
    """Occurrences by due date; `due_to` is inclusive."""
    stmt = sa.select(MaintenanceOccurrence).order_by(MaintenanceOccurrence.due_on, MaintenanceOccurrence.id)
    if plan_id:
        stmt = stmt.where(MaintenanceOccurrence.plan_id == plan_id)
    if asset_id:
        stmt = stmt.where(MaintenanceOccurrence.plan_id.in_(
            sa.select(MaintenancePlan.id).where(MaintenancePlan.asset_id == asset_id)))
    if status:
        stmt = stmt.where(MaintenanceOccurrence.status.in_(status))
    if due_from:
        stmt = stmt.where(MaintenanceOccurrence.due_on >= due_from)
    if due_to:
        stmt = stmt.where(MaintenanceOccurrence.due_on <= due_to)
    return paginate(stmt, page)


# ---- generation ----------------------------------------------------------------------------------

@dataclass
class GenerationResult:
    plans: int = 0          # plans whose horizon moved on
    created: int = 0        # new occurrences
    scheduled: int = 0      # ... with a work order and a planned visit
    assigned: int = 0       # ... whose visit went to the plan's technician
    unassigned: int = 0     # ... whose visit is waiting for a dispatcher (no technician, or not assignable)
    pending: int = 0        # ... for which no visit could be planned (see the occurrence's note)
    missed: int = 0         # occurrences that became missed (past due, work not done)
    done: int = 0           # occurrences whose work order's work is complete
    skipped: int = 0        # occurrences whose work order was cancelled by someone

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _insert_occurrence(plan_id: uuid.UUID, due_on: date, status: OccurrenceStatus,
                       now: datetime) -> MaintenanceOccurrence | None:
    """Insert the occurrence unless it exists; returns it only when this call created it."""
    session = db.session
    dialect = session.get_bind().dialect.name
    values = {"id": uuid.uuid4(), "plan_id": plan_id, "due_on": due_on, "status": status,
              "created_at": now, "updated_at": now}
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        table = MaintenanceOccurrence.__table__
        stmt = insert(table).values(**values).on_conflict_do_nothing(
            index_elements=["plan_id", "due_on"]).returning(table.c.id)
        new_id = session.execute(stmt).scalar()
        return session.get(MaintenanceOccurrence, new_id) if new_id is not None else None
    occurrence = MaintenanceOccurrence(**values)
    try:
        with session.begin_nested():
            session.add(occurrence)
    except IntegrityError:
        return None
    return occurrence


def _describe(plan: MaintenancePlan) -> str:
    lines = []
    for item in plan.items:
        lines.append(f"- {item['task']}")
        lines.extend(f"  [ ] {check}" for check in item.get("checklist") or [])
    return "\n".join(lines)


def _schedule(order: WorkOrder, plan: MaintenancePlan, due_on: date, now: datetime) -> tuple[Any, str | None]:
    """Plan the visit; with the plan's technician if assignable, else unassigned with the reason."""
    start, end = visit_window(plan, due_on)
    data = {"scheduled_start": start, "scheduled_end": end}
    note = None
    if plan.technician_id:
        try:
            with db.session.begin_nested():
                return visits.schedule_visit(SYSTEM, order.id, {**data, "technician_id": plan.technician_id},
                                             now=now), None
        except (NotCertified, TechnicianUnavailable) as err:
            note = f"technician not assigned: {err.detail}"[:500]
    return visits.schedule_visit(SYSTEM, order.id, data, now=now), note


def _plan_work(plan: MaintenancePlan, occurrence: MaintenanceOccurrence, now: datetime,
               result: GenerationResult) -> None:
    """A maintenance work order and a planned visit for a new occurrence (SAVEPOINT: all or nothing)."""
    asset = plan.asset
    try:
        with db.session.begin_nested():
            order = workorders.create_work_order(SYSTEM, {
                "kind": WorkOrderKind.MAINTENANCE, "customer_id": asset.customer_id, "site_id": asset.site_id,
                "asset_id": asset.id, "summary": f"Maintenance: {plan.name}"[:200], "description": _describe(plan),
            }, now=now)
            visit, note = _schedule(order, plan, occurrence.due_on, now)
    except DomainError as err:
        log.warning("maintenance plan %s, due %s: no visit planned: %s", plan.id, occurrence.due_on, err.detail)
        occurrence.note = f"no visit planned: {err.detail}"[:500]
        result.pending += 1
        return
    occurrence.status, occurrence.work_order_id, occurrence.visit_id, occurrence.note = (
        OS.SCHEDULED, order.id, visit.id, note)
    result.scheduled += 1
    if visit.technician_id:
        result.assigned += 1
    else:
        result.unassigned += 1


def _refresh_statuses(today: date, now: datetime, result: GenerationResult) -> None:
    """Bring occurrences in line with their work orders, then mark past-due ones missed (R-MNT-4)."""
    session = db.session
    tracked = (*OPEN_OCCURRENCE_STATUSES, OS.MISSED)
    for target, order_statuses, counter in ((OS.DONE, WORK_DONE, "done"),
                                            (OS.SKIPPED, (WorkOrderStatus.CANCELLED,), "skipped")):
        sources = tracked if target is OS.DONE else OPEN_OCCURRENCE_STATUSES
        changed = session.execute(sa.update(MaintenanceOccurrence).where(
            MaintenanceOccurrence.status.in_(sources),
            MaintenanceOccurrence.work_order_id.in_(
                sa.select(WorkOrder.id).where(WorkOrder.status.in_(order_statuses))),
        ).values(status=target, updated_at=now).execution_options(synchronize_session=False)).rowcount
        setattr(result, counter, getattr(result, counter) + changed)
    result.missed += session.execute(sa.update(MaintenanceOccurrence).where(
        MaintenanceOccurrence.status.in_(OPEN_OCCURRENCE_STATUSES), MaintenanceOccurrence.due_on < today,
    ).values(status=OS.MISSED, updated_at=now).execution_options(synchronize_session=False)).rowcount


def generate_due_occurrences(today: date, horizon_days: int, *, now: datetime | None = None) -> GenerationResult:
    """Create the occurrences due from each active plan's last covered date through `today + horizon_days`,
    each with a maintenance work order and a planned visit; due dates already past (the job did not run for
    a while) become missed occurrences, never silently dropped. Safe to run twice or in two processes."""
    now = now or utcnow()
    session = db.session
    ensure_counter_locked(session)  # before any SAVEPOINT, and so concurrent runs are serialised
    result = GenerationResult()
    _refresh_statuses(today, now, result)
    last = today + timedelta(days=horizon_days)
    plans = session.scalars(sa.select(MaintenancePlan).join(Asset, Asset.id == MaintenancePlan.asset_id).where(
        MaintenancePlan.status == PlanStatus.ACTIVE, MaintenancePlan.covered_through < last,
        Asset.status != AssetStatus.RETIRED,
        sa.or_(MaintenancePlan.end_on.is_(None), MaintenancePlan.end_on > MaintenancePlan.covered_through),
    ).order_by(MaintenancePlan.id)).all()
    for plan in plans:
        result.plans += 1
        for due in due_dates(plan, plan.covered_through + timedelta(days=1), last):
            occurrence = _insert_occurrence(plan.id, due, OS.MISSED if due < today else OS.PENDING, now)
            if occurrence is None:
                continue
            result.created += 1
            if due < today:
                result.missed += 1
            else:
                _plan_work(plan, occurrence, now, result)
        # a plain UPDATE: the job's bookkeeping must not bump the version a dispatcher's screen holds
        session.execute(sa.update(MaintenancePlan).where(MaintenancePlan.id == plan.id)
                        .values(covered_through=last).execution_options(synchronize_session=False))
    session.flush()
    return result
