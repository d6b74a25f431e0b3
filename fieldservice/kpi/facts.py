"""KPI facts kept on the rows they describe, so the KPI queries are single range scans.

`work_orders.repeat_repair_at` (R-KPI-1 repair success rate): for a signed repair, when the first later
repair (not cancelled) on the same asset was opened, if within REPEAT_REPAIR_DAYS of the signing. Recomputed
for the assets concerned whenever a flush adds a repair work order or changes a work order's asset, kind,
status, signing or creation time (a repeat opened, cancelled or moved to another asset). A query-time
semi-join instead took 1.8 s for a year of the benchmark data (docs/benchmarks.md).

`visits.first_time_fix` (R-KPI-1 first-time-fix rate): for a repair visit that completed the work, whether
no other visit of the same job was attended before it; NULL for every other visit. Reconstructing it at
query time is one probe per completing visit (8 s for a year of 1,000,000 visits, docs/benchmarks.md), so
it is recomputed here, for the work orders concerned, whenever a flush changes a visit's arrival,
departure or work-complete flag, whichever path made the change (API, sync push, corrections, CLI).
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased

from fieldservice.visits.models import Visit
from fieldservice.workorders.models import WorkOrder, WorkOrderKind, WorkOrderStatus

WATCHED = ("arrived_at", "departed_at", "work_complete", "status", "work_order_id")
ORDER_WATCHED = ("asset_id", "status", "kind", "signed_at", "created_at")
REPEAT_REPAIR_DAYS = 30  # a new repair on the same asset within this many days of signing: not a success


class plus_days(sa.sql.expression.FunctionElement[datetime]):
    """`timestamp + n days` in the database (PostgreSQL interval; SQLite, which stores UTC text
    `YYYY-MM-DD HH:MM:SS.ffffff`, through strftime in the same format)."""

    inherit_cache = True
    type = sa.DateTime(timezone=True)


@compiles(plus_days)
def _plus_days_default(element: plus_days, compiler: Any, **kw: Any) -> str:
    column, days = list(element.clauses)
    return f"({compiler.process(column, **kw)} + make_interval(days => {compiler.process(days, **kw)}))"


@compiles(plus_days, "sqlite")
def _plus_days_sqlite(element: plus_days, compiler: Any, **kw: Any) -> str:
    column, days = list(element.clauses)
    return (f"strftime('%Y-%m-%d %H:%M:%f000', {compiler.process(column, **kw)}, "
            f"'+' || {compiler.process(days, **kw)} || ' days')")


def repeat_repair_value() -> sa.ScalarSelect[Any]:
    """`work_orders.repeat_repair_at` for the row being updated: the creation time of the first later repair
    (not cancelled) on its asset within REPEAT_REPAIR_DAYS after it was signed, else NULL."""
    later = aliased(WorkOrder)
    return (sa.select(sa.func.min(later.created_at))
            .where(later.asset_id == WorkOrder.asset_id, later.id != WorkOrder.id,
                   later.kind == WorkOrderKind.REPAIR, later.status != WorkOrderStatus.CANCELLED,
                   later.created_at > WorkOrder.signed_at,
                   later.created_at <= plus_days(WorkOrder.signed_at, REPEAT_REPAIR_DAYS))
            .scalar_subquery())


def refresh_repeat_repairs(session: Session, asset_ids: set[uuid.UUID] | None) -> None:
    """Recompute the repeat-repair fact of the signed repairs on these assets (None: every asset)."""
    if asset_ids is not None and not asset_ids:
        return
    stmt = (sa.update(WorkOrder)
            .where(WorkOrder.kind == WorkOrderKind.REPAIR, WorkOrder.signed_at.is_not(None),
                   WorkOrder.asset_id.is_not(None))
            .values(repeat_repair_at=repeat_repair_value())
            .execution_options(synchronize_session=False))
    if asset_ids is not None:
        stmt = stmt.where(WorkOrder.asset_id.in_(sorted(asset_ids)))
    session.execute(stmt)


def first_time_fix_value() -> sa.ColumnElement[Any]:
    """The value of `visits.first_time_fix` for the row being updated (a correlated expression)."""
    earlier = aliased(Visit)
    kind = sa.select(WorkOrder.kind).where(WorkOrder.id == Visit.work_order_id).scalar_subquery()
    first = ~sa.exists().where(earlier.work_order_id == Visit.work_order_id, earlier.id != Visit.id,
                               earlier.arrived_at.is_not(None), earlier.arrived_at < Visit.arrived_at)
    return sa.case((sa.and_(Visit.work_complete.is_(True), Visit.arrived_at.is_not(None),
                            kind == WorkOrderKind.REPAIR.value), first), else_=sa.null())


def refresh_first_time_fix(session: Session, work_order_ids: set[uuid.UUID]) -> None:
    if work_order_ids:
        session.execute(sa.update(Visit).where(Visit.work_order_id.in_(sorted(work_order_ids)))
                        .values(first_time_fix=first_time_fix_value())
                        .execution_options(synchronize_session=False))


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: Any) -> None:
    orders: set[uuid.UUID] = set()
    assets: set[uuid.UUID] = set()
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, WorkOrder):
            _watch_order(session, obj, assets)
            continue
        if not isinstance(obj, Visit):
            continue
        state = sa.inspect(obj)
        if obj in session.new:
            if obj.arrived_at is not None or obj.work_complete:
                orders.add(obj.work_order_id)
            continue
        for name in WATCHED:
            history = state.attrs[name].history
            if history.has_changes():
                orders.add(obj.work_order_id)
                orders.update(v for v in history.deleted if name == "work_order_id" and v is not None)
                break
    refresh_first_time_fix(session, orders)
    refresh_repeat_repairs(session, assets)


def _watch_order(session: Session, order: WorkOrder, assets: set[uuid.UUID]) -> None:
    """A work order that appeared, or whose asset, kind, status or times changed, can change whether an
    earlier signed repair on the same asset counts as repeated (or whether it is itself)."""
    if order in session.new:
        if order.asset_id is not None and order.kind is WorkOrderKind.REPAIR:
            assets.add(order.asset_id)
        return
    state = sa.inspect(order)
    if order.kind is not WorkOrderKind.REPAIR and not state.attrs["kind"].history.has_changes():
        return  # never a repair: it neither holds the fact nor counts as a repeat (one UPDATE saved per
        # status change of a maintenance or installation order, e.g. each one a maintenance run schedules)
    for name in ORDER_WATCHED:
        history = state.attrs[name].history
        if history.has_changes():
            if order.asset_id is not None:
                assets.add(order.asset_id)
            assets.update(v for v in history.deleted if name == "asset_id" and v is not None)
            return
