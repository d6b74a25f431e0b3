"""Maintenance plan use cases and the generation of their occurrences, work orders and visits (R-MNT-1/4).

A plan covers one asset, or the assets of a sales contract (all of them, or a chosen set). Each asset gets
its own occurrence, work order and visit per due date: occurrences are unique per (plan, asset, due date),
so an asset retired or removed from the plan affects only its own visits, and each visit sits at its own
site in that site's zone. Visits go to the plan's technician, or to the first certified, free member of its
team (R-TEC-1); if nobody can take it the visit stays unassigned and the occurrence's note says why.

Generation is idempotent: an occurrence is unique per (plan, asset, due date) and inserted with ON CONFLICT DO
NOTHING; only the run that inserted it plans its work order and visit. A run first takes the change-counter
lock (it writes synced rows anyway; on PostgreSQL also an exclusive advisory lock, as the change counter no
longer serialises writers there), so two runs at once are serialised and the second finds nothing to do.
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
from sqlalchemy.orm import selectinload

from fieldservice.assets.models import Asset, AssetStatus
from fieldservice.audit import service as audit_service
from fieldservice.auth.service import SYSTEM, Actor
from fieldservice.catalog.models import Product
from fieldservice.changes import serialised
from fieldservice.common.lookup import get_or_404, get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.common.versioning import check_version
from fieldservice.contracts.models import ContractStatus, SalesContract, SalesContractLine
from fieldservice.customers.models import Customer
from fieldservice.db import insert_unless_exists_returning, utcnow
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
    plan_assets,
)
from fieldservice.teams import service as teams
from fieldservice.teams.models import Team
from fieldservice.technicians.models import Technician
from fieldservice.visits import service as visits
from fieldservice.workorders import service as workorders
from fieldservice.workorders.models import WorkOrder, WorkOrderKind, WorkOrderStatus

log = logging.getLogger(__name__)
MAINTENANCE_LOCK_KEY = 0x46534d54  # "FSMT": generation runs and plan changes, one at a time on PostgreSQL

OS = OccurrenceStatus
DEFAULT_WINDOW = (time(9, 0), time(12, 0))
RECURRENCE_FIELDS = frozenset({"interval", "interval_unit", "rrule", "start_on", "end_on", "asset_ids"})
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


def next_due_after(plan: MaintenancePlan, day: date) -> date | None:
    """The plan's first due date after `day` (None when the plan ends before another one)."""
    if plan.end_on is not None and plan.end_on <= day:
        return None
    if plan.rrule:
        found = parse_rrule(plan.rrule, plan.start_on).after(_midnight(max(day, plan.start_on - timedelta(days=1))))
        upcoming = found.date() if found is not None else None
    else:
        assert plan.interval and plan.interval_unit
        span = {IntervalUnit.DAYS: 1, IntervalUnit.WEEKS: 7, IntervalUnit.MONTHS: 31}[plan.interval_unit]
        first = max(day + timedelta(days=1), plan.start_on)
        upcoming = next(iter(due_dates(plan, first, first + timedelta(days=plan.interval * span + 1))), None)
    if upcoming is None or (plan.end_on is not None and upcoming > plan.end_on):
        return None
    return upcoming


def visit_window(plan: MaintenancePlan, due_on: date, timezone: str | None = None) -> tuple[datetime, datetime]:
    """The preferred window on `due_on`, local time at the asset's site (`timezone`), as UTC instants."""
    try:
        zone: Any = ZoneInfo(timezone or plan.timezone or "UTC")
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
    if values.get("technician_id") and values.get("team_id"):
        raise _invalid("team_id", "give either technician_id or team_id, not both")
    if values.get("technician_id"):
        get_ref(Technician, values["technician_id"], "technician_id", "technician")
    if values.get("team_id"):
        get_ref(Team, values["team_id"], "team_id", "team")


def _plain(details: dict[str, Any]) -> dict[str, Any]:
    """Audit details are JSON: times of day as text."""
    def convert(value: Any) -> Any:
        if isinstance(value, time):
            return value.isoformat()
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value
    return {key: convert(value) for key, value in details.items()}


def _contract_for_plan(contract_id: uuid.UUID) -> SalesContract:
    contract = get_ref(SalesContract, contract_id, "contract_id", "contract")
    if contract.status is not ContractStatus.ACTIVE:
        raise _invalid("contract_id", f"the contract is {contract.status.value}")
    return contract


def _chosen_assets(contract: SalesContract, asset_ids: list[uuid.UUID]) -> list[Asset]:
    """The chosen assets of a contract plan: each on that contract and in service."""
    if len(set(asset_ids)) != len(asset_ids):
        raise _invalid("asset_ids", "an asset is listed twice")
    chosen = []
    for asset_id in asset_ids:
        asset = get_ref(Asset, asset_id, "asset_ids", "asset")
        line = db.session.get(SalesContractLine, asset.contract_line_id) if asset.contract_line_id else None
        if line is None or line.contract_id != contract.id:
            raise _invalid("asset_ids", f"asset {asset.serial_number} is not on contract {contract.number}")
        if asset.status is AssetStatus.RETIRED:
            raise _invalid("asset_ids", f"asset {asset.serial_number} is retired")
        chosen.append(asset)
    return chosen


def plan_product_lines(*, asset_id: uuid.UUID | None = None, contract_id: uuid.UUID | None = None,
                       asset_ids: list[uuid.UUID] | None = None) -> set[uuid.UUID]:
    """The product lines a plan's visits will be for: of its asset, of the chosen assets, else of every
    product on the contract (ids that name nothing give nothing: the plan's own checks refuse them)."""
    product_ids: set[uuid.UUID] = set()
    for one in ([asset_id] if asset_id else []) + list(asset_ids or []):
        asset = db.session.get(Asset, one)
        if asset is not None:
            product_ids.add(asset.product_id)
    if contract_id and not asset_ids:
        product_ids |= set(db.session.scalars(sa.select(SalesContractLine.product_id).where(
            SalesContractLine.contract_id == contract_id)))
    if not product_ids:
        return set()
    return set(db.session.scalars(sa.select(Product.product_line_id).where(Product.id.in_(product_ids))))


def create_plan(actor: Actor, data: dict[str, Any], *, today: date | None = None,
                now: datetime | None = None) -> MaintenancePlan:
    """A plan for one asset (`asset_id`) or for a contract's assets (`contract_id`, optionally `asset_ids`:
    the chosen ones; none means every asset on the contract, including ones installed later)."""
    now = now or utcnow()
    today = today or now.date()
    asset_ids = data.pop("asset_ids", None) or []
    chosen: list[Asset] = []
    if bool(data.get("asset_id")) == bool(data.get("contract_id")):
        raise _invalid("asset_id", "give either asset_id (one asset) or contract_id (the contract's assets)")
    if data.get("asset_id"):
        if asset_ids:
            raise _invalid("asset_ids", "only for a contract plan (contract_id)")
        asset = get_ref(Asset, data["asset_id"], "asset_id", "asset")
        if asset.status is AssetStatus.RETIRED:
            raise _invalid("asset_id", "the asset is retired")
    else:
        contract = _contract_for_plan(data["contract_id"])
        chosen = _chosen_assets(contract, asset_ids)
    data.setdefault("window_start", DEFAULT_WINDOW[0])
    data.setdefault("window_end", DEFAULT_WINDOW[1])
    _check_plan(data)
    # due dates before today (or before the start) are not owed: generation begins at the later of the two
    covered = max(data["start_on"], today) - timedelta(days=1)
    plan = MaintenancePlan(status=PlanStatus.ACTIVE, covered_through=covered, created_by_id=actor.user_id, **data)
    plan.chosen_assets = chosen
    db.session.add(plan)
    db.session.flush()
    audit_service.record(actor, "maintenance_plan.create", plan, _plain({
        "asset_id": plan.asset_id, "contract_id": plan.contract_id, "asset_ids": [a.id for a in chosen],
        "name": plan.name, "interval": plan.interval, "interval_unit": plan.interval_unit,
        "rrule": plan.rrule, "start_on": plan.start_on, "end_on": plan.end_on, "technician_id": plan.technician_id,
        "team_id": plan.team_id}), at=now)
    return plan


def list_plans(actor: Actor, page: PageRequest, *, asset_id: uuid.UUID | None = None,
               contract_id: uuid.UUID | None = None, status: PlanStatus | None = None) -> Page:
    stmt = sa.select(MaintenancePlan).order_by(MaintenancePlan.created_at.desc(), MaintenancePlan.id)
    if asset_id:
        stmt = stmt.where(MaintenancePlan.asset_id == asset_id)
    if contract_id:
        stmt = stmt.where(MaintenancePlan.contract_id == contract_id)
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
    serialised(db.session, MAINTENANCE_LOCK_KEY)  # serialised with generation runs (see the module docstring)
    plan = get_plan(actor, plan_id)
    check_version(plan, data.pop("version", None))
    if plan.status is PlanStatus.CANCELLED:
        raise InvalidTransition("the maintenance plan is cancelled and can no longer be edited",
                                current_status=plan.status.value)
    if data.get("rrule"):  # switching to an RRULE drops the interval unless both are given (then refused)
        data.setdefault("interval", None)
        data.setdefault("interval_unit", None)
    elif data.get("interval") is not None or data.get("interval_unit") is not None:
        data.setdefault("rrule", None)
    if data.get("technician_id"):  # naming one of them replaces the other unless both are given (refused)
        data.setdefault("team_id", None)
    elif data.get("team_id"):
        data.setdefault("technician_id", None)
    fields = ("interval", "interval_unit", "rrule", "start_on", "end_on", "window_start", "window_end",
              "technician_id", "team_id")
    _check_plan({**{f: getattr(plan, f) for f in fields}, **data})
    new_assets = data.pop("asset_ids", None)
    diff = audit_service.changes(plan, data)
    if new_assets is not None:
        if plan.contract_id is None:
            raise _invalid("asset_ids", "only for a contract plan (contract_id)")
        before = [asset.id for asset in plan.chosen_assets]
        if sorted(before) != sorted(new_assets):
            assert plan.contract is not None
            plan.chosen_assets = _chosen_assets(plan.contract, new_assets)
            diff["asset_ids"] = [before, new_assets]
            if new_assets:  # assets no longer covered: their open occurrences are cancelled
                dropped = db.session.scalars(sa.select(MaintenanceOccurrence).where(
                    MaintenanceOccurrence.plan_id == plan.id, MaintenanceOccurrence.asset_id.not_in(new_assets),
                    MaintenanceOccurrence.status.in_(OPEN_OCCURRENCE_STATUSES))).all()
                diff["occurrences_cancelled"] = _cancel_occurrences(
                    actor, dropped, "asset removed from the maintenance plan", now)
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


def _cancel_order(actor: Actor, order: WorkOrder, reason: str, now: datetime,
                  cause: str = "maintenance plan cancelled") -> bool:
    """Cancel a maintenance work order and its planned visits, if its work has not started."""
    if order.status is WorkOrderStatus.CANCELLED:
        return True
    if not order.can_transition(WorkOrderStatus.CANCELLED):
        return False
    workorders.cancel_with_visits(actor, order, reason=reason, now=now, cause=cause)
    return True


def _cancel_occurrences(actor: Actor, found: Any, reason: str, now: datetime,
                        target: OccurrenceStatus = OS.CANCELLED) -> int:
    """Stop occurrences: their work orders and visits are cancelled unless the work is under way (then the
    occurrence stays as it is, to finish). Missed ones stay missed (history); their open work orders are
    cancelled. Returns how many occurrences changed status; each keeps the reason."""
    changed = 0
    reason = reason[:500]
    for occurrence in found:
        order = db.session.get(WorkOrder, occurrence.work_order_id) if occurrence.work_order_id else None
        stopped = order is None or _cancel_order(actor, order, reason, now, cause=reason)
        if stopped and occurrence.status is not OS.MISSED:
            occurrence.status, occurrence.reason = target, reason
            changed += 1
    db.session.flush()
    return changed


def cancel_plan(actor: Actor, plan_id: uuid.UUID, reason: str, *, version: int | None = None,
                now: datetime | None = None) -> MaintenancePlan:
    """Stop the plan: no more occurrences; pending and scheduled ones are cancelled with their visits and work
    orders (a work order already under way is left to finish, and its occurrence stays scheduled). Missed
    occurrences stay missed (history), but their open work orders are cancelled too."""
    now = now or utcnow()
    serialised(db.session, MAINTENANCE_LOCK_KEY)
    plan = get_plan(actor, plan_id)
    check_version(plan, version)
    if plan.status is PlanStatus.CANCELLED:
        raise InvalidTransition("the maintenance plan is already cancelled", current_status=plan.status.value)
    _stop_plan(actor, plan, f"maintenance plan cancelled: {reason}", now, reason=reason)
    return plan


def _stop_plan(actor: Actor, plan: MaintenancePlan, why: str, now: datetime, *, reason: str) -> int:
    """Cancel the plan and stop its occurrences; returns how many occurrences were cancelled."""
    plan.status, plan.cancel_reason = PlanStatus.CANCELLED, reason[:500]
    open_ones = db.session.scalars(sa.select(MaintenanceOccurrence).where(
        MaintenanceOccurrence.plan_id == plan.id,
        MaintenanceOccurrence.status.in_((*OPEN_OCCURRENCE_STATUSES, OS.MISSED)))).all()
    cancelled = _cancel_occurrences(actor, open_ones, why, now)
    audit_service.record(actor, "maintenance_plan.cancel", plan, {"reason": reason, "occurrences_cancelled": cancelled},
                         at=now)
    db.session.flush()
    return cancelled


def list_occurrences(actor: Actor, page: PageRequest, *, plan_id: uuid.UUID | None = None,
                     asset_id: uuid.UUID | None = None, status: list[OccurrenceStatus] | None = None,
                     due_from: date | None = None, due_to: date | None = None) -> Page:
    """Occurrences by due date; `due_to` is inclusive."""
    stmt = sa.select(MaintenanceOccurrence).order_by(MaintenanceOccurrence.due_on, MaintenanceOccurrence.id)
    if plan_id:
        stmt = stmt.where(MaintenanceOccurrence.plan_id == plan_id)
    if asset_id:
        stmt = stmt.where(MaintenanceOccurrence.asset_id == asset_id)
    if status:
        stmt = stmt.where(MaintenanceOccurrence.status.in_(status))
    if due_from:
        stmt = stmt.where(MaintenanceOccurrence.due_on >= due_from)
    if due_to:
        stmt = stmt.where(MaintenanceOccurrence.due_on <= due_to)
    return paginate(stmt, page)


def get_occurrence(actor: Actor, occurrence_id: uuid.UUID) -> MaintenanceOccurrence:
    return get_or_404(MaintenanceOccurrence, occurrence_id, "maintenance occurrence")


def skip_occurrence(actor: Actor, occurrence_id: uuid.UUID, reason: str, *,
                    now: datetime | None = None) -> MaintenanceOccurrence:
    """Skip one due date on purpose (R-MNT-4): the occurrence becomes skipped with the reason and stays
    listed; its visit and work order are cancelled. Refused (409) once the work has started or the
    occurrence is no longer open (done, missed, cancelled, already skipped)."""
    now = now or utcnow()
    serialised(db.session, MAINTENANCE_LOCK_KEY)  # serialised with generation runs, which also move statuses
    occurrence = get_occurrence(actor, occurrence_id)
    if occurrence.status not in OPEN_OCCURRENCE_STATUSES:
        raise InvalidTransition(f"the occurrence is {occurrence.status.value}; only pending or scheduled ones "
                                f"can be skipped", current_status=occurrence.status.value)
    order = db.session.get(WorkOrder, occurrence.work_order_id) if occurrence.work_order_id else None
    why = f"maintenance skipped: {reason}"[:500]
    if order is not None and not _cancel_order(actor, order, why, now, cause="maintenance occurrence skipped"):
        raise InvalidTransition(f"work order {order.number} is {order.status.value}: the work has started, "
                                f"so this maintenance cannot be skipped", current_status=occurrence.status.value)
    occurrence.status, occurrence.reason = OS.SKIPPED, reason[:500]
    db.session.flush()
    audit_service.record(actor, "maintenance_occurrence.skip", occurrence.plan, {
        "occurrence_id": occurrence.id, "asset_id": occurrence.asset_id, "due_on": occurrence.due_on.isoformat(),
        "reason": reason}, at=now)
    return occurrence


# ---- hooks from assets and contracts --------------------------------------------------------------

def stop_for_asset(actor: Actor, asset_id: uuid.UUID, reason: str, *, now: datetime | None = None) -> int:
    """The asset was retired: its single-asset plans are cancelled, and in contract plans its open
    occurrences are cancelled with their visits and work orders (none left pending or scheduled: no stale
    statuses). Generation never picks a retired asset again. Returns the occurrences cancelled."""
    now = now or utcnow()
    serialised(db.session, MAINTENANCE_LOCK_KEY)
    why = f"asset retired: {reason}"
    cancelled = 0
    own_plans = db.session.scalars(sa.select(MaintenancePlan).where(
        MaintenancePlan.asset_id == asset_id, MaintenancePlan.status == PlanStatus.ACTIVE)).all()
    for plan in own_plans:
        cancelled += _stop_plan(actor, plan, why, now, reason=why)
    others = db.session.scalars(sa.select(MaintenanceOccurrence).where(
        MaintenanceOccurrence.asset_id == asset_id,
        MaintenanceOccurrence.status.in_((*OPEN_OCCURRENCE_STATUSES, OS.MISSED)))).all()
    cancelled += _cancel_occurrences(actor, others, why, now)
    return cancelled


def end_contract_plans(actor: Actor, contract: SalesContract, *, now: datetime | None = None) -> int:
    """The contract ended (on `contract.ended_on`) or was cancelled. Cancelled: its contract plans are
    cancelled. Ended: its contract plans end on that day (a plan that had not started yet is cancelled) and
    open occurrences due after it are cancelled with their visits and work orders. Returns the occurrences
    cancelled. Plans of single assets are not touched (the asset is still the customer's)."""
    now = now or utcnow()
    serialised(db.session, MAINTENANCE_LOCK_KEY)
    reason = f"contract {contract.number} {contract.status.value}" + (
        f": {contract.end_reason}" if contract.end_reason else "")
    cancelled = 0
    plans = db.session.scalars(sa.select(MaintenancePlan).where(
        MaintenancePlan.contract_id == contract.id, MaintenancePlan.status == PlanStatus.ACTIVE)).all()
    for plan in plans:
        ended_on = contract.ended_on
        if contract.status is ContractStatus.CANCELLED or ended_on is None or ended_on < plan.start_on:
            cancelled += _stop_plan(actor, plan, reason, now, reason=reason)
            continue
        if plan.end_on is None or plan.end_on > ended_on:
            # a plain UPDATE (as generation does): the contract's end must not bump the plan's edit version
            db.session.execute(sa.update(MaintenancePlan).where(MaintenancePlan.id == plan.id)
                               .values(end_on=ended_on).execution_options(synchronize_session="fetch"))
        later = db.session.scalars(sa.select(MaintenanceOccurrence).where(
            MaintenanceOccurrence.plan_id == plan.id, MaintenanceOccurrence.due_on > ended_on,
            MaintenanceOccurrence.status.in_(OPEN_OCCURRENCE_STATUSES))).all()
        cancelled += _cancel_occurrences(actor, later, reason, now)
        audit_service.record(actor, "maintenance_plan.contract_end", plan, {
            "contract_id": contract.id, "end_on": ended_on.isoformat(), "occurrences_cancelled": len(later)}, at=now)
    return cancelled


def asset_joined_contract(asset: Asset, *, today: date | None = None) -> int:
    """A new asset on a contract, or an asset that entered service (installed: plans skip units awaiting
    installation): plans covering it (every asset of its contract, or naming it) generate its due dates from
    today on at the next run (their horizon is rewound; inserting is idempotent, so nothing doubles).
    Returns the plans rewound."""
    today = today or utcnow().date()
    covering = [MaintenancePlan.asset_id == asset.id,
                sa.exists().where(plan_assets.c.plan_id == MaintenancePlan.id, plan_assets.c.asset_id == asset.id)]
    if asset.contract_line_id is not None:
        contract_id = db.session.scalar(sa.select(SalesContractLine.contract_id).where(
            SalesContractLine.id == asset.contract_line_id))
        covering.append(sa.and_(MaintenancePlan.contract_id == contract_id,
                                ~sa.exists().where(plan_assets.c.plan_id == MaintenancePlan.id)))
    plans = db.session.execute(sa.select(MaintenancePlan.id, MaintenancePlan.start_on).where(
        MaintenancePlan.status == PlanStatus.ACTIVE, sa.or_(*covering))).all()
    for plan_id, start_on in plans:
        rewind = max(start_on, today) - timedelta(days=1)
        db.session.execute(sa.update(MaintenancePlan).where(
            MaintenancePlan.id == plan_id, MaintenancePlan.covered_through > rewind,
        ).values(covered_through=rewind).execution_options(synchronize_session=False))
    return len(plans)


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


def _insert_occurrence(plan_id: uuid.UUID, asset_id: uuid.UUID, due_on: date, status: OccurrenceStatus,
                       now: datetime) -> MaintenanceOccurrence | None:
    """Insert the occurrence unless it exists; returns it only when this call created it."""
    values = {"id": uuid.uuid4(), "plan_id": plan_id, "asset_id": asset_id, "due_on": due_on, "status": status,
              "created_at": now, "updated_at": now}
    return insert_unless_exists_returning(db.session, MaintenanceOccurrence, values,
                                         key=["plan_id", "asset_id", "due_on"])


def _describe(plan: MaintenancePlan) -> str:
    lines = []
    for item in plan.items:
        lines.append(f"- {item['task']}")
        lines.extend(f"  [ ] {check}" for check in item.get("checklist") or [])
    return "\n".join(lines)


def _schedule(order: WorkOrder, plan: MaintenancePlan, asset: Asset, due_on: date,
              now: datetime) -> tuple[Any, str | None]:
    """Plan the visit: with the plan's technician if assignable, else with the first certified, free member
    of the plan's team (R-TEC-1, members in the team's order), else unassigned with the reason."""
    start, end = visit_window(plan, due_on, asset.site.timezone)
    data = {"scheduled_start": start, "scheduled_end": end}
    note = None
    if plan.technician_id:
        try:
            with db.session.begin_nested():
                return visits.schedule_visit(SYSTEM, order.id, {**data, "technician_id": plan.technician_id},
                                             now=now), None
        except (NotCertified, TechnicianUnavailable) as err:
            note = f"technician not assigned: {err.detail}"[:500]
    elif plan.team_id:
        refusals = []
        for technician_id in teams.member_ids(plan.team_id):
            try:
                with db.session.begin_nested():
                    return visits.schedule_visit(SYSTEM, order.id, {**data, "technician_id": technician_id},
                                                 now=now), None
            except (NotCertified, TechnicianUnavailable) as err:
                refusals.append(err.detail)
        note = ("no team member assigned: " + ("; ".join(refusals) if refusals else "the team has no active "
                                                "members"))[:500]
    return visits.schedule_visit(SYSTEM, order.id, data, now=now), note


def _plan_work(plan: MaintenancePlan, asset: Asset, occurrence: MaintenanceOccurrence, now: datetime,
               result: GenerationResult) -> None:
    """A maintenance work order and a planned visit for a new occurrence (SAVEPOINT: all or nothing)."""
    try:
        with db.session.begin_nested():
            order = workorders.create_work_order(SYSTEM, {
                "kind": WorkOrderKind.MAINTENANCE, "customer_id": asset.customer_id, "site_id": asset.site_id,
                "asset_id": asset.id, "summary": f"Maintenance: {plan.name}"[:200], "description": _describe(plan),
            }, now=now)
            visit, note = _schedule(order, plan, asset, occurrence.due_on, now)
    except DomainError as err:
        log.warning("maintenance plan %s, asset %s, due %s: no visit planned: %s", plan.id, asset.id,
                    occurrence.due_on, err.detail)
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


def covered_assets(plan: MaintenancePlan) -> list[Asset]:
    """The assets a plan generates for now: its asset, or the contract's chosen (else all) assets; only those
    in service (never a retired one, nor a unit awaiting installation: it joins once its installation sheet
    is signed, see asset_joined_contract)."""
    if plan.asset_id is not None:
        assets = [plan.asset] if plan.asset is not None else []
    elif plan.chosen_assets:
        assets = list(plan.chosen_assets)
    else:
        assets = list(db.session.scalars(sa.select(Asset).join(
            SalesContractLine, SalesContractLine.id == Asset.contract_line_id).where(
            SalesContractLine.contract_id == plan.contract_id).options(selectinload(Asset.site))
            .order_by(Asset.serial_number, Asset.id)))
    return [asset for asset in assets if asset.status is AssetStatus.IN_SERVICE]


def _hold_references(held: dict[uuid.UUID, Any], assets: list[Asset]) -> None:
    """Load the customers and products of `assets` not held yet, a few queries for the lot, and keep them in
    `held` for the run. The work-order service still checks each one by id (get_ref); the session's identity
    map answers those look-ups without a query, but only while something references the object, so without
    this each occurrence read its customer and product again (two SELECTs of ~17 per occurrence)."""
    for model, ids in ((Customer, {asset.customer_id for asset in assets}),
                       (Product, {asset.product_id for asset in assets})):
        missing = sorted(ids - held.keys())
        for start in range(0, len(missing), 500):
            held.update((obj.id, obj) for obj in db.session.scalars(
                sa.select(model).where(model.id.in_(missing[start:start + 500]))))


def generate_due_occurrences(today: date, horizon_days: int, *, now: datetime | None = None) -> GenerationResult:
    """Create the occurrences due from each active plan's last covered date through `today + horizon_days`,
    each with a maintenance work order and a planned visit; due dates already past (the job did not run for
    a while) become missed occurrences, never silently dropped. Safe to run twice or in two processes."""
    now = now or utcnow()
    session = db.session
    serialised(session, MAINTENANCE_LOCK_KEY)  # before any SAVEPOINT, and so concurrent runs are serialised
    result = GenerationResult()
    _refresh_statuses(today, now, result)
    last = today + timedelta(days=horizon_days)
    plans = session.scalars(sa.select(MaintenancePlan).where(
        MaintenancePlan.status == PlanStatus.ACTIVE, MaintenancePlan.covered_through < last,
        sa.or_(MaintenancePlan.end_on.is_(None), MaintenancePlan.end_on > MaintenancePlan.covered_through),
    ).options(selectinload(MaintenancePlan.asset).selectinload(Asset.site),
              selectinload(MaintenancePlan.chosen_assets).selectinload(Asset.site))
        .order_by(MaintenancePlan.id)).all()
    held: dict[uuid.UUID, Any] = {}
    _hold_references(held, [asset for plan in plans for asset in (plan.asset, *plan.chosen_assets) if asset])
    coverage: list[dict[str, Any]] = []
    for plan in plans:
        result.plans += 1
        dates = due_dates(plan, plan.covered_through + timedelta(days=1), last)
        assets = covered_assets(plan) if dates else []
        _hold_references(held, assets)  # a contract-wide plan's assets are read here, plan by plan
        for asset in assets:
            for due in dates:
                occurrence = _insert_occurrence(plan.id, asset.id, due, OS.MISSED if due < today else OS.PENDING,
                                                now)
                if occurrence is None:
                    continue
                result.created += 1
                if due < today:
                    result.missed += 1
                else:
                    _plan_work(plan, asset, occurrence, now, result)
        # no due date falls between the horizon and the plan's next one, so the plan counts as covered up to
        # the day before it: later runs skip the plan until the horizon reaches that date (a daily run then
        # reads only the plans with something due on the new day). A plain UPDATE: the job's bookkeeping must
        # not bump the version a dispatcher's screen holds.
        upcoming = next_due_after(plan, last)
        covered = max(last, upcoming - timedelta(days=1)) if upcoming else max(last, plan.end_on or last)
        coverage.append({"plan_id": plan.id, "covered": covered})
    if coverage:  # one executemany in the same transaction, instead of a statement per plan
        table = MaintenancePlan.__table__
        session.execute(table.update().where(table.c.id == sa.bindparam("plan_id"))
                        .values(covered_through=sa.bindparam("covered")), coverage)
    session.flush()
    return result
