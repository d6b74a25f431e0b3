"""Which records a technician's phone holds (the sync scope), kept as ScopeMember rows.

The scope is: the technician's visits from SYNC_DAYS_BEHIND days ago to SYNC_DAYS_AHEAD days ahead (and
any open visit of theirs that is overdue), visits just taken from them whose phone may hold unpushed work
(VisitHandover), and what those visits need: work orders, customers, contacts, sites, assets, products,
product lines, the visits' work logs, the work orders' photos (metadata; bytes by URL), and the visits'
service records and sign-offs.

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

from fieldservice.catalog.models import Product
from fieldservice.changes import ensure_counter_locked, next_seq, on_delete, reserve_seqs
from fieldservice.customers.models import Contact
from fieldservice.parts.models import StockBalance, StockLocation, StockMovement
from fieldservice.photos.models import Photo
from fieldservice.records.models import ServiceRecord, Signoff
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


def _in(session: Session, column: Any, values: list[Any]) -> sa.ColumnElement[bool]:
    """`column IN values` for a list that may hold thousands of ids: one array parameter on PostgreSQL,
    a plain IN list elsewhere."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        # a semi-join on the unnested array: index lookups per id, never a linear `= ANY` test per row
        ids = sa.func.unnest(sa.bindparam(None, list(values), type_=ARRAY(sa.Uuid())))
        return column.in_(sa.select(ids))  # type: ignore[no-any-return]
    return column.in_(values)  # type: ignore[no-any-return]


ROOTS = ("visits", "work_orders", "customers", "sites", "assets", "products")


@dataclass
class Desired:
    """What belongs on the phone: the roots as id sets (few, read first), the rest as SELECTs that are
    index lookups on those short lists, so the cost follows the technician's scope, not the tables' size."""

    roots: dict[str, set[uuid.UUID]]
    derived: dict[str, sa.Select[Any]]


def desired_ids(session: Session, ctx: ScopeContext) -> Desired:
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
        WorkOrder.id.in_(sa.select(Visit.work_order_id).where(_in(session, Visit.id, visit_ids))))))
    customers = sorted({o.customer_id for o in orders})
    products = sorted({o.product_id for o in orders})
    order_ids = [o.id for o in orders]
    return Desired(
        roots={
            "visits": set(visit_ids),
            "work_orders": {o.id for o in orders},
            "customers": set(customers),
            "sites": {o.site_id for o in orders},
            "assets": {o.asset_id for o in orders if o.asset_id},
            "products": set(products),
        },
        derived={
            "product_lines": sa.select(Product.product_line_id).where(_in(session, Product.id, products)),
            "contacts": sa.select(Contact.id).where(_in(session, Contact.customer_id, customers)),
            "work_logs": sa.select(WorkLog.id).where(_in(session, WorkLog.visit_id, visit_ids)),
            "photos": sa.select(Photo.id).where(_in(session, Photo.work_order_id, [o.id for o in orders])),
            **_commerce(session, order_ids, visit_ids),
            # issue 6: the records of the technician's visits (every version) and their sign-offs
            "service_records": sa.select(ServiceRecord.id).where(_in(session, ServiceRecord.visit_id, visit_ids)),
            "signoffs": sa.select(Signoff.id).join(ServiceRecord, ServiceRecord.id == Signoff.record_id)
            .where(_in(session, ServiceRecord.visit_id, visit_ids)),
            **_van_stock(session, ctx, [o.id for o in orders]),
        },
    )


def _commerce(session: Session, order_ids: list[uuid.UUID], visit_ids: list[uuid.UUID]) -> dict[str, sa.Select[Any]]:
    """The quotes of the technician's jobs (with lines and consents) and the charges on their visits."""
    from fieldservice.commerce.models import Quote, QuoteConsent, QuoteLine, VisitCharge

    quote_ids = sa.select(Quote.id).where(_in(session, Quote.work_order_id, order_ids))
    return {
        "quotes": quote_ids,
        "quote_lines": sa.select(QuoteLine.id).where(QuoteLine.quote_id.in_(quote_ids)),
        "quote_consents": sa.select(QuoteConsent.id).where(QuoteConsent.quote_id.in_(quote_ids)),
        "visit_charges": sa.select(VisitCharge.id).where(_in(session, VisitCharge.visit_id, visit_ids)),
    }


def _van_stock(session: Session, ctx: ScopeContext, order_ids: list[uuid.UUID]) -> dict[str, sa.Select[Any]]:
    """The technician's van, its balances, the parts in it, and the parts issued from it to jobs in scope."""
    van = sa.select(StockLocation.id).where(StockLocation.technician_id == ctx.technician_id)
    return {
        "stock_locations": van,
        "stock_balances": sa.select(StockBalance.id).where(StockBalance.location_id.in_(van)),
        "parts": sa.select(StockBalance.part_id).where(StockBalance.location_id.in_(van)),
        "stock_movements": sa.select(StockMovement.id).where(
            StockMovement.location_id.in_(van), _in(session, StockMovement.work_order_id, order_ids)),
    }


def _active(technician_id: uuid.UUID, table: str) -> sa.Select[Any]:
    return sa.select(ScopeMember.record_id).where(
        ScopeMember.technician_id == technician_id, ScopeMember.table_name == table,
        ScopeMember.removed_seq.is_(None))


@dataclass
class Diff:
    add_ids: dict[str, list[uuid.UUID]]     # roots entering the scope
    add_counts: dict[str, int]              # derived records entering (counted in the database)
    remove: dict[str, list[uuid.UUID]]      # records leaving

    def __bool__(self) -> bool:
        return bool(self.add_ids or self.add_counts or self.remove)

    def tables(self) -> set[str]:
        return set(self.add_ids) | set(self.add_counts) | set(self.remove)


def _diff(session: Session, ctx: ScopeContext, desired: Desired, tables: set[str] | None = None) -> Diff:
    """Roots are compared in Python (we hold both sides); derived tables with one outer join each, all
    of them in one round trip for what enters (a first sync may add tens of thousands) and one for what
    leaves (few)."""
    diff = Diff({}, {}, {})
    roots = [t for t in ROOTS if tables is None or t in tables]
    held: dict[str, set[uuid.UUID]] = {t: set() for t in roots}
    if roots:
        for table, record_id in session.execute(sa.select(ScopeMember.table_name, ScopeMember.record_id).where(
                ScopeMember.technician_id == ctx.technician_id, ScopeMember.table_name.in_(roots),
                ScopeMember.removed_seq.is_(None))):
            held[table].add(record_id)
    for table in roots:
        entering, leaving = desired.roots[table] - held[table], held[table] - desired.roots[table]
        if entering:
            diff.add_ids[table] = sorted(entering)
        if leaving:
            diff.remove[table] = sorted(leaving)
    entering_q, leaving_q = [], []
    for table, select in desired.derived.items():
        if tables is not None and table not in tables:
            continue
        # NOT IN (not an outer join): PostgreSQL hashes the subquery whatever its row estimate, which a
        # freshly loaded scope (no statistics yet) would otherwise turn into a quadratic nested loop
        want = select.subquery()
        entering_q.append(sa.select(sa.literal(table).label("table_name"), sa.func.count().label("n"))
                          .select_from(want).where(want.c[0].not_in(_active(ctx.technician_id, table))))
        leaving_q.append(sa.select(sa.literal(table).label("table_name"), ScopeMember.record_id).where(
            ScopeMember.technician_id == ctx.technician_id, ScopeMember.table_name == table,
            ScopeMember.removed_seq.is_(None), ScopeMember.record_id.not_in(select)))
    if entering_q:
        diff.add_counts = {table: n for table, n in session.execute(sa.union_all(*entering_q)).all() if n}
        for table, record_id in session.execute(sa.union_all(*leaving_q)).all():
            diff.remove.setdefault(table, []).append(record_id)
    return diff


def refresh_scope(session: Session, ctx: ScopeContext) -> int:
    """Bring the technician's ScopeMember rows in line with `desired_ids`. Returns how many changed.

    Cheap when nothing changed (no lock taken). Otherwise the change counter is locked and the difference
    recomputed under the lock, so two devices of one technician cannot insert the same member twice.
    """
    desired = desired_ids(session, ctx)
    diff = _diff(session, ctx, desired)
    if not diff:
        return 0
    ensure_counter_locked(session)
    # again under the lock, for the tables that differed (nobody else can change this technician's rows now)
    desired = desired_ids(session, ctx)
    diff = _diff(session, ctx, desired, diff.tables())
    tech = ctx.technician_id
    for table, new_ids in diff.add_ids.items():
        # a record coming back replaces its old "removed" row
        session.execute(sa.delete(ScopeMember).where(
            ScopeMember.technician_id == tech, ScopeMember.table_name == table,
            ScopeMember.removed_seq.is_not(None), _in(session, ScopeMember.record_id, new_ids)))
        base = reserve_seqs(session, len(new_ids))
        session.execute(sa.insert(ScopeMember), [
            {"technician_id": tech, "table_name": table, "record_id": record_id, "added_seq": base + i}
            for i, record_id in enumerate(new_ids, start=1)])
    for table, count in diff.add_counts.items():
        new_ids_q = sa.except_(desired.derived[table], _active(tech, table)).subquery()
        session.execute(sa.delete(ScopeMember).where(
            ScopeMember.technician_id == tech, ScopeMember.table_name == table,
            ScopeMember.removed_seq.is_not(None), ScopeMember.record_id.in_(sa.select(new_ids_q.c[0]))))
        base = reserve_seqs(session, count)
        numbered = sa.select(
            sa.literal(tech, sa.Uuid()), sa.literal(table), new_ids_q.c[0],
            (sa.literal(base) + sa.func.row_number().over(order_by=new_ids_q.c[0])).label("added_seq"),
        )
        session.execute(sa.insert(ScopeMember).from_select(
            ["technician_id", "table_name", "record_id", "added_seq"], numbered))
    for table, ids in diff.remove.items():
        for record_id in ids:
            session.execute(sa.update(ScopeMember).where(
                ScopeMember.technician_id == tech, ScopeMember.table_name == table,
                ScopeMember.record_id == record_id).values(removed_seq=next_seq(session)))
    added = sum(len(v) for v in diff.add_ids.values()) + sum(diff.add_counts.values())
    removed = sum(len(v) for v in diff.remove.values())
    if added > 1000 and session.get_bind().dialect.name == "postgresql":
        # a first sync just grew the table by thousands of rows: fresh statistics now, not at the next
        # autovacuum, or the pages of this very sync get planned for an empty table
        session.execute(sa.text("ANALYZE sync_scope"))
    log.info("sync scope of technician %s: %d added, %d removed", tech, added, removed)
    return added + removed


@on_delete
def _drop_deleted(session: Session, obj: Any, seq: int) -> None:
    """A deleted synced row leaves every phone that holds it."""
    if obj.__tablename__ in TABLES:
        session.execute(sa.update(ScopeMember).where(
            ScopeMember.table_name == obj.__tablename__, ScopeMember.record_id == obj.id,
            ScopeMember.removed_seq.is_(None)).values(removed_seq=seq))


