"""Work-order use cases: open, list, read, edit, and the status changes people ask for.

Status changes that follow from visits (scheduled, dispatched, in_progress, work_complete) are made by the
visit services; the few that people decide (cancel, close, rework, back to new) go through `change_status`,
which checks who may ask for what; every move itself is made by fieldservice.lifecycle (state machine and
gate), whatever path asked for it.
"""
from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
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
from fieldservice.common.search import contains
from fieldservice.common.versioning import check_version
from fieldservice.customers.models import Customer
from fieldservice.customers.service import site_ref
from fieldservice.db import utcnow
from fieldservice.errors import Forbidden, InvalidTransition, NotFound, ValidationFailed
from fieldservice.extensions import db
from fieldservice.lifecycle import service as lifecycle
from fieldservice.lifecycle.events import WorkOrderCreated, publish
from fieldservice.scoping import can_see_work_order, visible_work_order_ids
from fieldservice.visits.models import Visit, VisitStatus
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
    publish(WorkOrderCreated(order, actor, now))  # e.g. R-SLA-1 clocks start (sla/reactions.py)
    return order


def list_work_orders(actor: Actor, page: PageRequest, *, status: list[WorkOrderStatus] | None = None,
                     kind: WorkOrderKind | None = None, customer_id: uuid.UUID | None = None,
                     asset_id: uuid.UUID | None = None, technician_id: uuid.UUID | None = None,
                     priority: Priority | None = None, open_only: bool = False, q: str | None = None,
                     created_from: datetime | None = None, created_to: datetime | None = None) -> Page:
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
        q = q.strip()
        stmt = stmt.where(sa.or_(contains(WorkOrder.number, q), contains(WorkOrder.summary, q)))
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


def change_status(actor: Actor, work_order_id: uuid.UUID, to: WorkOrderStatus, *, reason: str | None = None,
                  version: int | None = None, overrides: Mapping[str, str] | None = None,
                  now: datetime | None = None) -> WorkOrder:
    """A status asked for by a person (JSON API, sync push): who may ask for what is checked here, whether the
    move may happen by the lifecycle gate. Raises InvalidTransition (409, naming the allowed ones), Forbidden,
    ConditionsNotMet (409, listing the unmet conditions; `overrides` waives those the role may waive, each
    with a reason)."""
    now = now or utcnow()
    order = get_work_order(actor, work_order_id)
    check_version(order, version)
    if actor.role is Role.TECHNICIAN:
        require_technician_on_order(actor, order)
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
        cancel_with_visits(actor, order, reason=reason, now=now)
        return order
    lifecycle.move_work_order(actor, order, to, at=now, reason=reason, overrides=overrides)
    return order


def cancel_with_visits(actor: Actor, order: WorkOrder, *, reason: str, now: datetime,
                       cause: str | None = None) -> None:
    """Cancel a work order and its planned visits (none left dangling on a phone)."""
    order.cancel_reason = reason
    for visit in db.session.scalars(sa.select(Visit).where(
            Visit.work_order_id == order.id, Visit.status == VisitStatus.PLANNED)).all():
        lifecycle.cancel_visit(actor, visit, reason=reason, now=now, cause="work order cancelled", settle=False)
    lifecycle.move_work_order(actor, order, S.CANCELLED, at=now, reason=reason, cause=cause)


def require_technician_on_order(actor: Actor, order: WorkOrder) -> None:
    """A technician acts on a work order only through a visit of theirs on it (404 otherwise: ids do not leak)."""
    has_visit = db.session.scalar(sa.select(Visit.id).where(
        Visit.work_order_id == order.id, Visit.technician_id == actor.technician_id).limit(1))
    if has_visit is None:
        raise NotFound(f"work order {order.id} not found")


def cancel_work_order(actor: Actor, work_order_id: uuid.UUID, reason: str, *, version: int | None = None,
                      now: datetime | None = None) -> WorkOrder:
    return change_status(actor, work_order_id, S.CANCELLED, reason=reason, version=version, now=now)
