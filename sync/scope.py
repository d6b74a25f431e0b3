"""Which records a technician's phone holds (the sync scope), kept as ScopeMember rows.

The scope is: the technician's visits from SYNC_DAYS_BEHIND days ago to SYNC_DAYS_AHEAD days ahead (and
any open visit of theirs that is overdue), visits just taken from them whose phone may hold unpushed work
(VisitHandover), and what those visits need: work orders, customers, contacts, sites, assets, products,
product lines, the visits' work logs and the work orders' photos (metadata; bytes by URL).

Each pull first refreshes the technician's ScopeMember rows to match that definition. A record entering
the scope gets `added_seq`, one leaving gets `removed_seq`, both fresh change numbers, so the pull can send
"new to you" and "drop this" exactly once, in change order, like any other change.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from fieldservice.assets.models import Asset
from fieldservice.catalog.models import Product
from fieldservice.changes import ensure_counter_locked, next_seq, on_delete, reserve_seqs
from fieldservice.customers.models import Contact, Customer, Site
from fieldservice.photos.models import Photo
from fieldservice.visits.models import ACTIVE_VISIT_STATUSES, Visit, VisitHandover, WorkLog
from fieldservice.workorders.models import WorkOrder
from sync.models import ScopeMember
from sync.schema import TABLES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScopeContext:
    technician_id: uuid.UUID
    now: datetime
    days_ahead: int
    days_behind: int


def desired_ids(session: Session, ctx: ScopeContext) -> dict[str, sa.Select[Any]]:
    """Per table, a SELECT of the record ids that belong on this technician's phone now.

    The roots (visits, their work orders, customers, products) are few and read first, so that every
    other query is an index lookup on a short list: the cost follows the technician's scope, not the size
    of the tables."""
    horizon_end = ctx.now + timedelta(days=ctx.days_ahead)
    horizon_start = ctx.now - timedelta(days=ctx.days_behind)
    own = Visit.technician_id == ctx.technician_id
    visit_ids = sorted(set(session.scalars(sa.union(
        sa.select(Visit.id).where(own, Visit.scheduled_start >= horizon_start, Visit.scheduled_start < horizon_end),
        sa.select(Visit.id).where(own, Visit.status.in_(ACTIVE_VISIT_STATUSES), Visit.scheduled_start < horizon_end),
        sa.select(VisitHandover.visit_id).where(VisitHandover.technician_id == ctx.technician_id,
                                                VisitHandover.completed_at.is_(None)),
    ))))
    orders = list(session.execute(sa.select(WorkOrder.id, WorkOrder.customer_id, WorkOrder.site_id,
                                            WorkOrder.asset_id, WorkOrder.product_id).where(
        WorkOrder.id.in_(sa.select(Visit.work_order_id).where(Visit.id.in_(visit_ids))))))
    customers = sorted({o.customer_id for o in orders})
    products = sorted({o.product_id for o in orders})

    def ids(model: Any, values: list[Any]) -> sa.Select[Any]:
        return sa.select(model.id).where(model.id.in_(values))  # a primary-key lookup of a short list

    return {
        "visits": ids(Visit, visit_ids),
        "work_orders": ids(WorkOrder, [o.id for o in orders]),
        "customers": ids(Customer, customers),
        "sites": ids(Site, sorted({o.site_id for o in orders})),
        "assets": ids(Asset, sorted({o.asset_id for o in orders if o.asset_id})),
        "products": ids(Product, products),
        "product_lines": sa.select(Product.product_line_id).where(Product.id.in_(products)),
        "contacts": sa.select(Contact.id).where(Contact.customer_id.in_(customers)),
        "work_logs": sa.select(WorkLog.id).where(WorkLog.visit_id.in_(visit_ids)),
        "photos": sa.select(Photo.id).where(Photo.work_order_id.in_([o.id for o in orders])),
    }


def _active(technician_id: uuid.UUID, table: str) -> sa.Select[Any]:
    return sa.select(ScopeMember.record_id).where(
        ScopeMember.technician_id == technician_id, ScopeMember.table_name == table,
        ScopeMember.removed_seq.is_(None))


def _diff(session: Session, ctx: ScopeContext, tables: list[str] | None = None
          ) -> tuple[dict[str, int], dict[str, list[uuid.UUID]]]:
    """Per table, how many records enter the scope (counted in the database: a first sync may add tens of
    thousands) and which leave it (few), each for all tables in one round trip."""
    desired = desired_ids(session, ctx)
    entering, leaving = [], []
    for table in tables or list(TABLES):
        want = desired[table].subquery()
        have = _active(ctx.technician_id, table).subquery()
        entering.append(sa.select(sa.literal(table).label("table_name"), sa.func.count().label("n"))
                        .select_from(want.outerjoin(have, want.c[0] == have.c.record_id))
                        .where(have.c.record_id.is_(None)))
        leaving.append(sa.select(sa.literal(table).label("table_name"), have.c.record_id)
                       .select_from(have.outerjoin(want, want.c[0] == have.c.record_id))
                       .where(want.c[0].is_(None)))
    to_add = {table: n for table, n in session.execute(sa.union_all(*entering)).all() if n}
    to_remove: dict[str, list[uuid.UUID]] = {}
    for table, record_id in session.execute(sa.union_all(*leaving)).all():
        to_remove.setdefault(table, []).append(record_id)
    return to_add, to_remove


def refresh_scope(session: Session, ctx: ScopeContext) -> int:
    """Bring the technician's ScopeMember rows in line with `desired_ids`. Returns how many changed.

    Cheap when nothing changed (no lock taken). Otherwise the change counter is locked and the difference
    recomputed under the lock, so two devices of one technician cannot insert the same member twice.
    """
    to_add, to_remove = _diff(session, ctx)
    if not to_add and not to_remove:
        return 0
    ensure_counter_locked(session)
    # again under the lock, for the tables that differed (nobody else can change this technician's rows now)
    to_add, to_remove = _diff(session, ctx, sorted(set(to_add) | set(to_remove)))
    desired = desired_ids(session, ctx)
    changed = 0
    for table, count in to_add.items():
        new_ids = sa.except_(desired[table], _active(ctx.technician_id, table)).subquery()
        # a record coming back replaces its old "removed" row
        session.execute(sa.delete(ScopeMember).where(
            ScopeMember.technician_id == ctx.technician_id, ScopeMember.table_name == table,
            ScopeMember.removed_seq.is_not(None), ScopeMember.record_id.in_(sa.select(new_ids.c[0]))))
        base = reserve_seqs(session, count)
        numbered = sa.select(
            sa.literal(ctx.technician_id, sa.Uuid()), sa.literal(table), new_ids.c[0],
            (sa.literal(base) + sa.func.row_number().over(order_by=new_ids.c[0])).label("added_seq"),
        )
        session.execute(sa.insert(ScopeMember).from_select(
            ["technician_id", "table_name", "record_id", "added_seq"], numbered))
        changed += count
    for table, ids in to_remove.items():
        for record_id in ids:
            session.execute(sa.update(ScopeMember).where(
                ScopeMember.technician_id == ctx.technician_id, ScopeMember.table_name == table,
                ScopeMember.record_id == record_id).values(removed_seq=next_seq(session)))
        changed += len(ids)
    log.info("sync scope of technician %s: %d added, %d removed", ctx.technician_id,
             sum(to_add.values()), sum(len(v) for v in to_remove.values()))
    return changed


@on_delete
def _drop_deleted(session: Session, obj: Any, seq: int) -> None:
    """A deleted synced row leaves every phone that holds it."""
    if obj.__tablename__ in TABLES:
        session.execute(sa.update(ScopeMember).where(
            ScopeMember.table_name == obj.__tablename__, ScopeMember.record_id == obj.id,
            ScopeMember.removed_seq.is_(None)).values(removed_seq=seq))


