"""Work-order use cases and the state machine's entry points.

Status changes that follow from visits (scheduled, dispatched, in_progress, work_complete) are made by
the visit services; the few that people decide (cancel, close, rework, back to new) go through
`change_status`, which checks both the state machine and who may ask for what.
"""
from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fieldservice.assets.models import Asset
from fieldservice.audit import service as audit_service
from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.catalog.models import Product
from fieldservice.common.lookup import get_or_404, get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.customers.models import Customer
from fieldservice.customers.service import site_ref
from fieldservice.db import utcnow
from fieldservice.errors import Forbidden, InvalidTransition, NotFound, StaleVersion, ValidationFailed
from fieldservice.extensions import db
from fieldservice.followups import service as followups
from fieldservice.scoping import can_see_work_order, visible_work_order_ids
from fieldservice.sla import service as sla
from fieldservice.workorders.models import (
    OPEN_STATUSES,
    Priority,
    WorkOrder,
    WorkOrderKind,
    WorkOrderStatus,
)

S = WorkOrderStatus

# Which status each role may ask for directly. The rest follow from visits (schedule, assign, arrive,
# depart) or from the customer's sign-off, so that they cannot be set without the facts behind them.
MANUAL_TARGETS: dict[Role, frozenset[WorkOrderStatus]] = {
    Role.TECHNICIAN: frozenset({S.IN_PROGRESS, S.WORK_COMPLETE}),
    Role.DISPATCHER: frozenset({S.NEW, S.CANCELLED, S.CLOSED, S.REWORK}),
    Role.OFFICE: frozenset({S.CANCELLED, S.CLOSED, S.REWORK}),
    Role.ADMIN: frozenset({S.NEW, S.CANCELLED, S.CLOSED, S.REWORK}),
}
HOW_REACHED = {
    S.SCHEDULED: "scheduling a visit (POST /work-orders/{id}/visits)",
    S.DISPATCHED: "assigning a technician to a visit (PUT /visits/{id}/assignment)",
    S.SIGNED: "the customer's sign-off",
}


def new_number(now: datetime) -> str:
    """A human-readable number for phone calls and paper: WO-YYMMDD-XXXXXX."""
    return f"WO-{now:%y%m%d}-{secrets.token_hex(3).upper()}"


def create_work_order(actor: Actor, data: dict[str, Any], *, now: datetime | None = None) -> WorkOrder:
    now = now or utcnow()
    get_ref(Customer, data["customer_id"], "customer_id", "customer")
    site_ref(data["customer_id"], data["site_id"])
    if data.get("asset_id"):
        asset = get_ref(Asset, data["asset_id"], "asset_id", "asset")
        if asset.customer_id != data["customer_id"]:
            raise ValidationFailed("asset_id: the asset belongs to another customer",
                                   errors={"json": {"asset_id": ["belongs to another customer"]}})
        if data.get("product_id") and data["product_id"] != asset.product_id:
            raise ValidationFailed("product_id differs from the asset's product",
                                   errors={"json": {"product_id": ["differs from the asset's product"]}})
        data["product_id"] = asset.product_id
    if not data.get("product_id"):
        raise ValidationFailed("a work order needs product_id or asset_id",
                               errors={"json": {"product_id": ["required when no asset_id is given"]}})
    get_ref(Product, data["product_id"], "product_id", "product")
    number = new_number(now)
    while db.session.scalar(sa.select(WorkOrder.id).where(WorkOrder.number == number)) is not None:
        number = new_number(now)  # 16.7M numbers a day: a busy day's generation run meets a taken one
    order = WorkOrder(number=number, status=S.NEW, status_changed_at=now,
                      created_by_id=actor.user_id, **data)
    db.session.add(order)
    db.session.flush()
    audit_service.record(actor, "work_order.create", order, {"number": order.number, "kind": order.kind}, at=now)
    sla.on_work_order_created(order, at=now)  # R-SLA-1 clocks start
    return order


def list_work_orders(actor: Actor, page: PageRequest, *, status: list[WorkOrderStatus] | None = None,
                     kind: WorkOrderKind | None = None, customer_id: uuid.UUID | None = None,
                     asset_id: uuid.UUID | None = None, technician_id: uuid.UUID | None = None,
                     priority: Priority | None = None, open_only: bool = False, q: str | None = None,
                     created_from: datetime | None = None, created_to: datetime | None = None) -> Page:
    from fieldservice.visits.models import Visit

    stmt = sa.select(WorkOrder).order_by(WorkOrder.created_at.desc(), WorkOrder.id)
    visible = visible_work_order_ids(actor)
    if visible is not None:
        stmt = stmt.where(WorkOrder.id.in_(visible))
    if status:
        stmt = stmt.where(WorkOrder.status.in_(status))
    if open_only:
        stmt = stmt.where(WorkOrder.status.in_(OPEN_STATUSES))
    for column, value in ((WorkOrder.kind, kind), (WorkOrder.customer_id, customer_id),
                          (WorkOrder.asset_id, asset_id), (WorkOrder.priority, priority)):
        if value:
            stmt = stmt.where(column == value)
    if technician_id:
        stmt = stmt.where(WorkOrder.id.in_(sa.select(Visit.work_order_id).where(Visit.technician_id == technician_id)))
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(sa.or_(WorkOrder.number.ilike(like), WorkOrder.summary.ilike(like)))
    if created_from:
        stmt = stmt.where(WorkOrder.created_at >= created_from)
    if created_to:
        stmt = stmt.where(WorkOrder.created_at < created_to)
    return paginate(stmt, page)


def get_work_order(actor: Actor, work_order_id: uuid.UUID) -> WorkOrder:
    order = get_or_404(WorkOrder, work_order_id, "work order")
    if not can_see_work_order(actor, order.id):
        raise NotFound(f"work order {work_order_id} not found")
    return order


def check_version(record: Any, expected: int | None) -> None:
    """Optimistic locking for edits made from a stale screen: 409 when someone changed it meanwhile."""
    if expected is not None and expected != record.version:
        raise StaleVersion(f"version {expected} is stale; the current version is {record.version}",
                           current_version=record.version)


def update_work_order(actor: Actor, work_order_id: uuid.UUID, data: dict[str, Any]) -> WorkOrder:
    order = get_work_order(actor, work_order_id)
    check_version(order, data.pop("version", None))
    if order.status not in OPEN_STATUSES:
        raise InvalidTransition(f"work order {order.number} is {order.status.value} and can no longer be edited",
                                current_status=order.status.value, allowed_transitions=order.allowed_transitions)
    diff = audit_service.changes(order, data)
    if diff:
        audit_service.record(actor, "work_order.update", order, diff)
    return order


def apply_transition(actor: Actor, order: WorkOrder, to: WorkOrderStatus, *, at: datetime,
                     reason: str | None = None, cause: str | None = None) -> None:
    """Move a work order through the state machine and audit it; the model refuses illegal moves."""
    old = order.transition(to, at=at)
    sla.on_work_order_status(order, old, to, at=at)  # R-SLA-1 clocks stop, pause, resume
    if to is S.SIGNED:  # KPI facts for the repair success rate (R-KPI-1, fieldservice/kpi/service.py)
        from fieldservice.visits.models import Visit

        order.signed_at = at
        order.signed_technician_id = db.session.scalar(
            sa.select(Visit.technician_id).where(Visit.work_order_id == order.id, Visit.work_complete.is_(True))
            .order_by(Visit.departed_at.desc().nulls_last(), Visit.id.desc()).limit(1))
    elif to is S.REWORK:
        order.rework_count = (order.rework_count or 0) + 1
    details: dict[str, Any] = {"from": old, "to": to}
    if reason:
        details["reason"] = reason
    if cause:
        details["cause"] = cause
    audit_service.record(actor, "work_order.status", order, details, at=at)
    if to in (S.SIGNED, S.CLOSED):
        followups.work_order_finished(order, at)  # R-FUP-1: calls after installations and repairs


def change_status(actor: Actor, work_order_id: uuid.UUID, to: WorkOrderStatus, *, reason: str | None = None,
                  version: int | None = None, now: datetime | None = None) -> WorkOrder:
    """A status asked for by a person. Raises InvalidTransition (409, naming the allowed ones) or Forbidden."""
    from fieldservice.visits import service as visits

    now = now or utcnow()
    order = get_work_order(actor, work_order_id)
    check_version(order, version)
    if not order.can_transition(to):
        order.transition(to, at=now)  # raises with the allowed transitions named
    if to in HOW_REACHED:
        raise InvalidTransition(f"{to.value} is reached by {HOW_REACHED[to]}, not set directly",
                                current_status=order.status.value, requested=to.value,
                                allowed_transitions=order.allowed_transitions)
    if to not in MANUAL_TARGETS.get(actor.role, frozenset()):
        raise Forbidden(f"role {actor.role.value} may not set a work order to {to.value}")
    if to is S.CANCELLED:
        if not reason:
            raise ValidationFailed("a reason is required to cancel", errors={"json": {"reason": ["required"]}})
        order.cancel_reason = reason
        visits.cancel_open_visits(actor, order, reason=reason, now=now)
    if actor.role is Role.TECHNICIAN:
        visits.require_technician_on_order(actor, order)
    apply_transition(actor, order, to, at=now, reason=reason)
    return order


def cancel_work_order(actor: Actor, work_order_id: uuid.UUID, reason: str, *, version: int | None = None,
                      now: datetime | None = None) -> WorkOrder:
    return change_status(actor, work_order_id, S.CANCELLED, reason=reason, version=version, now=now)
