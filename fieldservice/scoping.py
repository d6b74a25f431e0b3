"""What each role may see. Every list and get goes through these, so scoping holds on every path.

- dispatcher, office, admin: everything;
- technician: the visits assigned to them, and the work orders, customers, sites and assets of those visits;
- customer: their own customer record and what hangs off it (R-ARC-3).
"""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.extensions import db

UNRESTRICTED = (Role.DISPATCHER, Role.OFFICE, Role.ADMIN)


def technician_work_order_ids(technician_id: uuid.UUID | None) -> sa.Select[Any]:
    from fieldservice.visits.models import Visit

    if technician_id is None:  # a technician login without a profile sees nothing (not the unassigned visits)
        return sa.select(Visit.work_order_id).where(sa.false())
    return sa.select(Visit.work_order_id).where(Visit.technician_id == technician_id)


def visible_work_order_ids(actor: Actor) -> sa.Select[Any] | None:
    """A subquery of work-order ids the actor may see, or None when unrestricted."""
    from fieldservice.workorders.models import WorkOrder

    if actor.role in UNRESTRICTED:
        return None
    if actor.role is Role.TECHNICIAN:
        return technician_work_order_ids(actor.technician_id)
    if actor.role is Role.CUSTOMER:
        return sa.select(WorkOrder.id).where(WorkOrder.customer_id == actor.customer_id)
    return sa.select(WorkOrder.id).where(sa.false())


def visible_customer_ids(actor: Actor) -> sa.Select[Any] | None:
    from fieldservice.customers.models import Customer
    from fieldservice.workorders.models import WorkOrder

    if actor.role in UNRESTRICTED:
        return None
    if actor.role is Role.TECHNICIAN:
        return sa.select(WorkOrder.customer_id).where(WorkOrder.id.in_(technician_work_order_ids(actor.technician_id)))
    if actor.role is Role.CUSTOMER:
        return sa.select(Customer.id).where(Customer.id == actor.customer_id)
    return sa.select(Customer.id).where(sa.false())


def can_see_customer(actor: Actor, customer_id: uuid.UUID) -> bool:
    visible = visible_customer_ids(actor)
    if visible is None:
        return True
    return db.session.scalar(sa.select(sa.literal(True)).where(sa.literal(customer_id, sa.Uuid()).in_(visible))) is True


def require_customer_visible(actor: Actor, customer_id: uuid.UUID, what: str) -> None:
    """Raise NotFound for a record of a customer outside the actor's scope (ids do not leak, R-ARC-3)."""
    from fieldservice.errors import NotFound

    if not can_see_customer(actor, customer_id):
        raise NotFound(f"{what} not found")


def can_see_work_order(actor: Actor, work_order_id: uuid.UUID) -> bool:
    visible = visible_work_order_ids(actor)
    if visible is None:
        return True
    return db.session.scalar(
        sa.select(sa.literal(True)).where(sa.literal(work_order_id, sa.Uuid()).in_(visible))) is True
