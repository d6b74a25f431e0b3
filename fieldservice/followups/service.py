"""Follow-up calls (R-FUP-1): after an installation, calls 7, 30, 90, 180 and 365 days later; after a repair,
one call FOLLOWUP_REPAIR_DAYS later. Each call records whether the customer was reached, satisfaction (1-5)
and remarks; an unreachable customer is called again FOLLOWUP_RETRY_DAYS later, up to FOLLOWUP_MAX_ATTEMPTS.

Tasks are created when a work order of kind installation or repair is first signed or closed (followups/
reactions.py reacts to the lifecycle's WorkOrderStatusChanged, so every path - API, sync push, sign-off -
creates them) and, as a backstop, by the scheduler job. They are unique per (work order, offset) and inserted with ON CONFLICT
DO NOTHING, so neither a second sign-off, a re-run nor two processes make a task twice.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from fieldservice.audit import service as audit_service
from fieldservice.auth.service import Actor
from fieldservice.common.lookup import get_or_404
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.db import insert_unless_exists, utcnow
from fieldservice.errors import InvalidTransition, StaleVersion, ValidationFailed
from fieldservice.extensions import db
from fieldservice.followups.models import FollowUpAttempt, FollowUpKind, FollowUpStatus, FollowUpTask
from fieldservice.workorders.models import WorkOrder, WorkOrderKind, WorkOrderStatus

log = logging.getLogger(__name__)

FINISHED = (WorkOrderStatus.SIGNED, WorkOrderStatus.CLOSED)
KINDS = {WorkOrderKind.INSTALLATION: FollowUpKind.INSTALLATION, WorkOrderKind.REPAIR: FollowUpKind.REPAIR}


@dataclass(frozen=True)
class Settings:
    installation_days: tuple[int, ...] = (7, 30, 90, 180, 365)
    repair_days: int = 3
    retry_days: int = 2
    max_attempts: int = 3

    @classmethod
    def from_config(cls) -> Settings:
        config = current_app.config
        return cls(tuple(config.get("FOLLOWUP_INSTALLATION_DAYS", cls.installation_days)),
                   int(config.get("FOLLOWUP_REPAIR_DAYS", cls.repair_days)),
                   int(config.get("FOLLOWUP_RETRY_DAYS", cls.retry_days)),
                   int(config.get("FOLLOWUP_MAX_ATTEMPTS", cls.max_attempts)))

    def offsets(self, kind: FollowUpKind) -> tuple[int, ...]:
        return self.installation_days if kind is FollowUpKind.INSTALLATION else (self.repair_days,)


# ---- creation ------------------------------------------------------------------------------------

def _insert_task(values: dict[str, Any]) -> bool:
    """Insert unless (work order, offset) exists; True when this call created it."""
    return insert_unless_exists(db.session, FollowUpTask, values, key=["work_order_id", "offset_days"]) is not None


def schedule_for_work_order(order: WorkOrder, *, base_on: date, now: datetime | None = None,
                            settings: Settings | None = None) -> int:
    """The follow-up tasks of a finished installation or repair (none for other kinds). Idempotent: returns
    how many were created now."""
    kind = KINDS.get(order.kind)
    if kind is None:
        return 0
    now = now or utcnow()
    settings = settings or Settings.from_config()
    created = 0
    for offset in settings.offsets(kind):
        created += _insert_task({
            "id": uuid.uuid4(), "work_order_id": order.id, "customer_id": order.customer_id,
            "asset_id": order.asset_id, "kind": kind.value, "offset_days": offset, "base_on": base_on,
            "due_on": base_on + timedelta(days=offset), "status": FollowUpStatus.OPEN.value, "attempts": 0,
            "version": 1, "created_at": now, "updated_at": now})
    if created:
        log.info("work order %s: %d follow-up calls scheduled", order.id, created)
    return created


def work_order_finished(order: WorkOrder, at: datetime) -> int:
    """Hook: a work order reached signed or closed. Installations and repairs get their follow-up calls,
    counted from that day (a later re-sign after rework creates nothing new)."""
    if order.status not in FINISHED or order.kind not in KINDS:
        return 0
    return schedule_for_work_order(order, base_on=at.date(), now=at)


def create_missing(*, now: datetime | None = None, settings: Settings | None = None) -> int:
    """Backstop for the scheduler: finished installations and repairs without follow-up tasks get them,
    counted from the day their status last changed. Returns the tasks created."""
    now = now or utcnow()
    settings = settings or Settings.from_config()
    orders = db.session.scalars(sa.select(WorkOrder).where(
        WorkOrder.kind.in_(tuple(KINDS)), WorkOrder.status.in_(FINISHED),
        ~sa.exists().where(FollowUpTask.work_order_id == WorkOrder.id))).all()
    created = 0
    for order in orders:
        base = (order.status_changed_at or order.updated_at or now).date()
        created += schedule_for_work_order(order, base_on=base, now=now, settings=settings)
    return created


# ---- reading -------------------------------------------------------------------------------------

def list_tasks(actor: Actor, page: PageRequest, *, status: list[FollowUpStatus] | None = None,
               due_by: date | None = None, overdue_on: date | None = None, customer_id: uuid.UUID | None = None,
               work_order_id: uuid.UUID | None = None, kind: FollowUpKind | None = None) -> Page:
    """Tasks by due date. `due_by`: open tasks due on or before that day (today's call list, overdue
    included); `overdue_on`: open tasks due before that day."""
    stmt = sa.select(FollowUpTask).order_by(FollowUpTask.due_on, FollowUpTask.id)
    if status:
        stmt = stmt.where(FollowUpTask.status.in_(status))
    if due_by:
        stmt = stmt.where(FollowUpTask.status == FollowUpStatus.OPEN, FollowUpTask.due_on <= due_by)
    if overdue_on:
        stmt = stmt.where(FollowUpTask.status == FollowUpStatus.OPEN, FollowUpTask.due_on < overdue_on)
    for column, value in ((FollowUpTask.customer_id, customer_id), (FollowUpTask.work_order_id, work_order_id),
                          (FollowUpTask.kind, kind)):
        if value:
            stmt = stmt.where(column == value)
    return paginate(stmt, page)


def call_sheet(tasks: list[FollowUpTask]) -> dict[uuid.UUID, dict[str, Any]]:
    """Who to call for each task (R-FUP-1): the customer's name and phone, their primary contact, the job's
    number and summary; a few queries for the lot."""
    from fieldservice.customers.models import Contact, Customer

    customer_ids = {t.customer_id for t in tasks}
    order_ids = {t.work_order_id for t in tasks}
    customers = {c.id: c for c in db.session.scalars(sa.select(Customer).where(Customer.id.in_(customer_ids)))} \
        if customer_ids else {}
    orders = {o.id: o for o in db.session.scalars(sa.select(WorkOrder).where(WorkOrder.id.in_(order_ids)))} \
        if order_ids else {}
    contacts: dict[uuid.UUID, Contact] = {}
    for contact in db.session.scalars(sa.select(Contact).where(Contact.customer_id.in_(customer_ids))
                                      .order_by(Contact.is_primary.desc(), Contact.name)) if customer_ids else []:
        contacts.setdefault(contact.customer_id, contact)
    return {t.id: {"customer": customers.get(t.customer_id), "contact": contacts.get(t.customer_id),
                   "work_order": orders.get(t.work_order_id)} for t in tasks}


def get_task(actor: Actor, task_id: uuid.UUID) -> FollowUpTask:
    return get_or_404(FollowUpTask, task_id, "follow-up task")


@dataclass
class DueSummary:
    due_today: int
    overdue: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def due_summary(today: date) -> DueSummary:
    due_today, overdue = db.session.execute(sa.select(
        sa.func.count().filter(FollowUpTask.due_on == today), sa.func.count().filter(FollowUpTask.due_on < today),
    ).where(FollowUpTask.status == FollowUpStatus.OPEN, FollowUpTask.due_on <= today)).one()
    return DueSummary(due_today=due_today or 0, overdue=overdue or 0)


# ---- outcome -------------------------------------------------------------------------------------

def record_outcome(actor: Actor, task_id: uuid.UUID, data: dict[str, Any], *, now: datetime | None = None,
                   settings: Settings | None = None) -> FollowUpTask:
    """Record one call. Reached: the task is done with satisfaction (1-5, optional: a customer may decline)
    and remarks. Not reached: another attempt FOLLOWUP_RETRY_DAYS later, until FOLLOWUP_MAX_ATTEMPTS calls,
    then the task is unreachable (and stays listed). Raises InvalidTransition (409) on a finished task,
    ValidationFailed (422) for a satisfaction given without reaching the customer, StaleVersion (409)."""
    now = now or utcnow()
    settings = settings or Settings.from_config()
    task = get_task(actor, task_id)
    expected = data.get("version")
    if expected is not None and expected != task.version:
        raise StaleVersion(f"version {expected} is stale; the current version is {task.version}",
                           current_version=task.version)
    if task.status is not FollowUpStatus.OPEN:
        raise InvalidTransition(f"the follow-up call is {task.status.value}; no more calls are recorded",
                                current_status=task.status.value)
    reached, satisfaction, remarks = data["reached"], data.get("satisfaction"), data.get("remarks")
    if not reached and satisfaction is not None:
        raise ValidationFailed("satisfaction is only recorded when the customer was reached",
                               errors={"json": {"satisfaction": ["only when reached"]}})
    task.attempts += 1
    task.attempt_log.append(FollowUpAttempt(attempt_no=task.attempts, called_at=now, reached=reached,
                                            satisfaction=satisfaction, remarks=remarks,
                                            recorded_by_id=actor.user_id))
    if reached:
        task.status, task.reached, task.satisfaction, task.remarks, task.completed_at = (
            FollowUpStatus.DONE, True, satisfaction, remarks, now)
    elif task.attempts >= settings.max_attempts:
        task.status, task.reached, task.remarks, task.completed_at = (
            FollowUpStatus.UNREACHABLE, False, remarks, now)
    else:
        task.due_on = now.date() + timedelta(days=settings.retry_days)
    db.session.flush()
    audit_service.record(actor, "followup.call", task, {
        "attempt": task.attempts, "reached": reached, "satisfaction": satisfaction, "status": task.status.value,
        "next_due_on": task.due_on.isoformat() if task.status is FollowUpStatus.OPEN else None}, at=now)
    return task
