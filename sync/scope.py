"""Which records a technician's phone holds (the sync scope), kept as ScopeMember rows, maintained on write.

The scope is: the technician's visits from SYNC_DAYS_BEHIND days ago to SYNC_DAYS_AHEAD days ahead (and
any open visit of theirs that is overdue), visits just taken from them whose phone may hold unpushed work
(VisitHandover), and what those visits need: work orders, customers, contacts, sites, assets, products,
product lines, the visits' work logs, the work orders' photos (metadata; bytes by URL), quotes with their
lines and consents, the visits' charges, service records and sign-offs, and the technician's van stock.

Issue 13: membership changes when what defines it changes, in the same transaction as the change, never by
recomputing the whole scope on a pull:
- a visit is (re)evaluated when it is created, assigned, reassigned, rescheduled or changes status, and when
  a handover of it opens or completes (`_after_flush`); entering adds what it needs, leaving takes it away;
- a record created under something in scope (a work log on a visit, a photo or quote on a work order, a
  sign-off on a record, a contact of a customer, a van's stock) joins every scope that holds its parent
  (`_after_flush` for ORM inserts, `changes.bulk_inserted` for bulk ones such as a push's work logs);
- time moves the schedule window: a pull evaluates only the visits whose start crossed an edge of the window
  since the technician's last pull (`prepare`: index range scans on (technician_id, scheduled_start));
- deletes leave every scope (`changes.on_delete`);
- rare changes (a work order's customer, site, asset or product; a product's line; a contact moved to another
  customer; a van created or moved) mark the holders' scopes stale, rebuilt whole at their next pull.

`refs` counts the visits in scope that need a record (1 for van stock): a customer with two visits in scope
stays when one leaves. A member entering gets `added_seq`, one leaving `removed_seq`, both change numbers, so
a pull sends "new to you" and "drop this" exactly once, in change order, like any other change.

Whoever changes a technician's scope first locks their `sync_scope_state` row (FOR UPDATE, one row per
technician: writers of different technicians never wait for each other), so a pull and a dispatcher's
reassignment cannot add the same member twice.
"""
from __future__ import annotations

import functools
import logging
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from fieldservice.catalog.models import Product
from fieldservice.changes import on_bulk_insert, on_delete, take_seqs
from fieldservice.customers.models import Contact
from fieldservice.db import (
    bulk_insert,
    driver_cursor,
    driver_execute,
    in_values,
    insert_or_nothing,
    literal_sql,
    rows_of,
)
from fieldservice.parts.models import StockBalance, StockLocation, StockMovement
from fieldservice.photos.models import Photo
from fieldservice.records.models import ServiceRecord, Signoff
from fieldservice.visits.models import ACTIVE_VISIT_STATUSES, Visit, VisitHandover, WorkLog
from fieldservice.workorders.models import WorkOrder
from sync.models import ScopeMember, ScopeState
from sync.schema import TABLES

log = logging.getLogger(__name__)

Key = tuple[str, uuid.UUID]

# a record created later joins the scopes holding its parent: table -> (parent table, the column naming it)
CHILDREN: dict[str, tuple[str, str]] = {
    "work_logs": ("visits", "visit_id"),
    "service_records": ("visits", "visit_id"),
    "visit_charges": ("visits", "visit_id"),
    "signoffs": ("service_records", "record_id"),
    "photos": ("work_orders", "work_order_id"),
    "quotes": ("work_orders", "work_order_id"),
    "quote_lines": ("quotes", "quote_id"),
    "quote_consents": ("quotes", "quote_id"),
    "contacts": ("customers", "customer_id"),
    "stock_movements": ("work_orders", "work_order_id"),  # only for the technician whose van it is
}
VISIT_FIELDS = ("technician_id", "scheduled_start", "status")
CHAIN_FIELDS = ("customer_id", "site_id", "asset_id", "product_id")


@dataclass(frozen=True)
class ScopeContext:
    technician_id: uuid.UUID
    now: datetime
    days_ahead: int
    days_behind: int

    @property
    def horizon(self) -> tuple[datetime, datetime]:
        return self.now - timedelta(days=self.days_behind), self.now + timedelta(days=self.days_ahead)


# -- what defines the scope --------------------------------------------------------------------------------

def _wanted_visits(session: Session, technician_id: uuid.UUID, start: datetime, end: datetime,
                   among: Iterable[uuid.UUID] | None = None) -> set[uuid.UUID]:
    """The visits that belong in the technician's scope for the window [start, end), optionally only among
    some visits (an evaluation after a change)."""
    own = Visit.technician_id == technician_id
    parts = [
        sa.select(Visit.id).where(own, Visit.scheduled_start >= start, Visit.scheduled_start < end),
        sa.select(Visit.id).where(own, Visit.status.in_(ACTIVE_VISIT_STATUSES), Visit.scheduled_start < end),
        sa.select(VisitHandover.visit_id).where(VisitHandover.technician_id == technician_id,
                                                VisitHandover.completed_at.is_(None)),
    ]
    if among is not None:
        among = list(among)
        if not among:
            return set()
        parts = [parts[0].where(in_values(session, Visit.id, among)), parts[1].where(in_values(session, Visit.id, among)),
                 parts[2].where(in_values(session, VisitHandover.visit_id, among))]
    return set(session.scalars(sa.union(*parts)))


def needs_of_visits(session: Session, technician_id: uuid.UUID, visit_ids: Iterable[uuid.UUID], *,
                    per_visit_rows: bool = True) -> Counter[Key]:
    """Every record the visits bring onto the technician's phone, counted once per visit that needs it
    (without the visits' own rows, `PER_VISIT`, when `per_visit_rows` is false: a fresh build inserts those in
    SQL)."""
    visit_ids = sorted(set(visit_ids))
    needs: Counter[Key] = Counter()
    if not visit_ids:
        return needs
    rows = session.execute(sa.select(Visit.id, WorkOrder.id, WorkOrder.customer_id, WorkOrder.site_id,
                                     WorkOrder.asset_id, WorkOrder.product_id)
                           .join(WorkOrder, WorkOrder.id == Visit.work_order_id)
                           .where(in_values(session, Visit.id, visit_ids))).all()
    per_order: Counter[uuid.UUID] = Counter()
    per_customer: Counter[uuid.UUID] = Counter()
    per_product: Counter[uuid.UUID] = Counter()
    for visit_id, order_id, customer_id, site_id, asset_id, product_id in rows:
        needs[("visits", visit_id)] += 1
        needs[("work_orders", order_id)] += 1
        needs[("customers", customer_id)] += 1
        needs[("sites", site_id)] += 1
        if asset_id is not None:
            needs[("assets", asset_id)] += 1
        needs[("products", product_id)] += 1
        per_order[order_id] += 1
        per_customer[customer_id] += 1
        per_product[product_id] += 1
    visits = [r[0] for r in rows]

    def each(table: str, stmt: sa.Select[Any], weights: Counter[uuid.UUID] | None = None) -> None:
        for record_id, parent in session.execute(stmt):
            needs[(table, record_id)] += weights[parent] if weights is not None else 1

    from fieldservice.commerce.models import Quote, QuoteConsent, QuoteLine

    each("product_lines", sa.select(Product.product_line_id, Product.id).where(in_values(session, Product.id, per_product)),
         per_product)
    each("contacts", sa.select(Contact.id, Contact.customer_id).where(in_values(session, Contact.customer_id,
                                                                          per_customer)), per_customer)
    if per_visit_rows:
        for table, select in _per_visit(session, visits).items():
            each(table, select)
    orders = list(per_order)
    each("photos", sa.select(Photo.id, Photo.work_order_id).where(in_values(session, Photo.work_order_id, orders)), per_order)
    each("quotes", sa.select(Quote.id, Quote.work_order_id).where(in_values(session, Quote.work_order_id, orders)), per_order)
    for table, model in (("quote_lines", QuoteLine), ("quote_consents", QuoteConsent)):
        each(table, sa.select(model.id, Quote.work_order_id).join(Quote, Quote.id == model.quote_id)
             .where(in_values(session, Quote.work_order_id, orders)), per_order)
    van = sa.select(StockLocation.id).where(StockLocation.technician_id == technician_id)
    each("stock_movements", sa.select(StockMovement.id, StockMovement.work_order_id).where(
        StockMovement.location_id.in_(van), in_values(session, StockMovement.work_order_id, orders)), per_order)
    return needs


def _per_visit(session: Session, visits: list[uuid.UUID]) -> dict[str, sa.Select[Any]]:
    """The rows that belong to one visit each (the many: a technician's work logs grow without bound), as
    (id, visit id) selects."""
    from fieldservice.commerce.models import VisitCharge

    selects: dict[str, sa.Select[Any]] = {
        table: sa.select(model.id, model.visit_id).where(in_values(session, model.visit_id, visits))
        for table, model in (("work_logs", WorkLog), ("service_records", ServiceRecord), ("visit_charges", VisitCharge))}
    selects["signoffs"] = (sa.select(Signoff.id, ServiceRecord.visit_id)
                           .join(ServiceRecord, ServiceRecord.id == Signoff.record_id)
                           .where(in_values(session, ServiceRecord.visit_id, visits)))
    return selects


def _insert_per_visit(session: Session, technician_id: uuid.UUID, visits: list[uuid.UUID]) -> int:
    """A fresh build: the visits' own rows enter with one INSERT ... SELECT per table, numbered in SQL
    (a million work logs never pass through Python). Returns how many entered."""
    from fieldservice.changes import numbering

    entered = 0
    for table, select in _per_visit(session, visits).items():
        rows = select.subquery()
        count = session.scalar(sa.select(sa.func.count()).select_from(rows)) or 0
        if not count:
            continue
        numbered = sa.select(sa.literal(technician_id, sa.Uuid()).label("t"), sa.literal(table).label("n"),
                             rows.c[0].label("r"), sa.literal(1, sa.Integer()).label("refs"),
                             numbering(session, count).label("a"), sa.null().label("d"))
        session.execute(sa.insert(ScopeMember.__table__).from_select(
            ["technician_id", "table_name", "record_id", "refs", "added_seq", "removed_seq"], numbered))
        entered += count
    return entered


def needs_of_van(session: Session, technician_id: uuid.UUID) -> Counter[Key]:
    """The technician's van, its balances and the parts in it (each once)."""
    needs: Counter[Key] = Counter()
    rows = session.execute(sa.select(StockLocation.id, StockBalance.id, StockBalance.part_id)
                           .outerjoin(StockBalance, StockBalance.location_id == StockLocation.id)
                           .where(StockLocation.technician_id == technician_id)).all()
    for location_id, balance_id, part_id in rows:
        needs[("stock_locations", location_id)] = 1
        if balance_id is not None:
            needs[("stock_balances", balance_id)] = 1
            needs[("parts", part_id)] = 1
    return needs


# -- applying changes of membership ------------------------------------------------------------------------

def _held(session: Session, technician_id: uuid.UUID, table: str, ids: list[uuid.UUID]) -> dict[uuid.UUID, Any]:
    return {row.record_id: row for row in session.execute(
        sa.select(ScopeMember.record_id, ScopeMember.refs, ScopeMember.removed_seq).where(
            ScopeMember.technician_id == technician_id, ScopeMember.table_name == table,
            in_values(session, ScopeMember.record_id, ids)))}


def _by_table(keys: Iterable[Key]) -> dict[str, list[uuid.UUID]]:
    grouped: dict[str, list[uuid.UUID]] = {}
    for table, record_id in keys:
        grouped.setdefault(table, []).append(record_id)
    return grouped


def _write(session: Session, technician_id: uuid.UUID, inserts: list[dict[str, Any]],
           updates: list[dict[str, Any]]) -> None:
    if inserts:
        for row, seq in zip(inserts, take_seqs(session, len(inserts)), strict=True):
            row.update(technician_id=technician_id, added_seq=seq, removed_seq=None)
        bulk_insert(session, ScopeMember.__table__, inserts)  # COPY on PostgreSQL: a push brings hundreds
    if updates:
        table = ScopeMember.__table__
        fresh = [u for u in updates if u.get("_seq") is not None]
        for row, seq in zip(fresh, take_seqs(session, len(fresh)), strict=True):
            row[row.pop("_seq")] = seq
        for row in updates:
            row.pop("_seq", None)
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in updates:
            groups.setdefault(tuple(sorted(set(row) - {"b_table", "b_record"})), []).append(row)
        for columns, rows in groups.items():
            session.execute(sa.update(table).where(
                table.c.technician_id == technician_id, table.c.table_name == sa.bindparam("b_table"),
                table.c.record_id == sa.bindparam("b_record")).values(
                {c: sa.bindparam(c) for c in columns}).execution_options(synchronize_session=False), rows)


def _enter(key: Key, refs: int, row: Any, inserts: list[dict[str, Any]], updates: list[dict[str, Any]]) -> bool:
    """A record belongs in the scope with `refs` references; `row` is its member row (None: never was).
    Queues the insert or update it needs; returns whether it is new to the phone."""
    if row is None:
        inserts.append({"table_name": key[0], "record_id": key[1], "refs": refs})
        return True
    if row.removed_seq is not None:  # coming back: new to the phone again
        updates.append({"b_table": key[0], "b_record": key[1], "refs": refs, "removed_seq": None,
                        "_seq": "added_seq"})
        return True
    if row.refs != refs:
        updates.append({"b_table": key[0], "b_record": key[1], "refs": refs})
    return False


def add_needs(session: Session, technician_id: uuid.UUID, needs: Counter[Key]) -> int:
    """The records enter (or gain references in) the technician's scope. Returns how many entered."""
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    entered = 0
    for table, ids in _by_table(needs).items():
        held = _held(session, technician_id, table, ids)
        for record_id in ids:
            count, row = needs[(table, record_id)], held.get(record_id)
            present = row is not None and row.removed_seq is None
            entered += _enter((table, record_id), row.refs + count if present else count, row, inserts, updates)
    _write(session, technician_id, inserts, updates)
    return entered


def drop_needs(session: Session, technician_id: uuid.UUID, needs: Counter[Key]) -> int:
    """The records lose references; those left with none leave the scope. Returns how many left."""
    updates: list[dict[str, Any]] = []
    for table, ids in _by_table(needs).items():
        for record_id, row in _held(session, technician_id, table, ids).items():
            if row.removed_seq is not None:
                continue
            refs = row.refs - needs[(table, record_id)]
            if refs > 0:
                updates.append({"b_table": table, "b_record": record_id, "refs": refs})
            else:
                updates.append({"b_table": table, "b_record": record_id, "refs": 0, "_seq": "removed_seq"})
    _write(session, technician_id, [], updates)
    return sum(1 for u in updates if "removed_seq" in u)


# -- per-technician state and locking ----------------------------------------------------------------------

def lock_states(session: Session, technician_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, ScopeState]:
    """Lock (FOR UPDATE) the scope state of each technician, in id order, creating missing rows (a new row
    means "never built": the first pull builds the scope whole)."""
    ids = sorted({t for t in technician_ids if t is not None})
    for technician_id in ids:
        session.execute(insert_or_nothing(session, ScopeState.__table__, {"technician_id": technician_id},
                                           ["technician_id"]))
    if not ids:
        return {}
    return {state.technician_id: state for state in session.scalars(
        sa.select(ScopeState).where(ScopeState.technician_id.in_(ids)).order_by(ScopeState.technician_id)
        .with_for_update().execution_options(populate_existing=True))}


def _built(session: Session, technician_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, ScopeState]:
    """The locked states of those technicians whose scope is built (others are rebuilt at their next pull)."""
    return {t: s for t, s in lock_states(session, technician_ids).items()
            if s.built_at is not None and s.horizon_start is not None and s.horizon_end is not None}


def evaluate_visits(session: Session, technician_id: uuid.UUID, visit_ids: Iterable[uuid.UUID],
                    state: ScopeState) -> tuple[int, int]:
    """Bring the technician's membership of these visits (and what they need) in line with the definition,
    for the window of their last pull. Returns (visits entered, visits left)."""
    visit_ids = set(visit_ids)
    if not visit_ids:
        return 0, 0
    assert state.horizon_start is not None and state.horizon_end is not None
    wanted = _wanted_visits(session, technician_id, state.horizon_start, state.horizon_end, visit_ids)
    held = {r for r, row in _held(session, technician_id, "visits", sorted(visit_ids)).items()
            if row.removed_seq is None}
    entering, leaving = wanted - held, held - wanted
    if leaving:
        drop_needs(session, technician_id, needs_of_visits(session, technician_id, leaving))
    if entering:
        add_needs(session, technician_id, needs_of_visits(session, technician_id, entering))
    return len(entering), len(leaving)


def mark_stale(session: Session, technician_ids: Iterable[uuid.UUID], reason: str) -> None:
    """These scopes are rebuilt whole at the technicians' next pull."""
    ids = sorted(set(technician_ids))
    if ids:
        session.execute(sa.update(ScopeState).where(ScopeState.technician_id.in_(ids))
                        .values(built_at=None, stale_reason=reason[:200])
                        .execution_options(synchronize_session=False))


def _visits_under(session: Session, table: str, ids: list[uuid.UUID]) -> sa.Select[Any]:
    """The visits that may bring a record of `table` (one of the ids) onto a phone."""
    from fieldservice.commerce.models import Quote

    if table == "visits":
        return sa.select(Visit.id).where(in_values(session, Visit.id, ids))
    if table == "service_records":
        return sa.select(ServiceRecord.visit_id).where(in_values(session, ServiceRecord.id, ids))
    orders: Any
    if table == "work_orders":
        orders = sa.select(WorkOrder.id).where(in_values(session, WorkOrder.id, ids))
    elif table == "quotes":
        orders = sa.select(Quote.work_order_id).where(in_values(session, Quote.id, ids))
    elif table in ("customers", "sites", "assets", "products"):
        orders = sa.select(WorkOrder.id).where(in_values(session, getattr(WorkOrder, table[:-1] + "_id"), ids))
    else:
        raise ValueError(table)
    return sa.select(Visit.id).where(Visit.work_order_id.in_(orders))


def lock_possible_holders(session: Session, table: str, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ScopeState]:
    """Lock the scope state of every technician who may hold a record of `table` (the technicians of the
    visits that could bring it, and of their open handovers) and return those whose scope is built. Locking
    before reading who holds it: a scope being built concurrently (uncommitted) is waited for, never missed."""
    ids = list(set(ids))
    if not ids:
        return {}
    visits = _visits_under(session, table, ids)
    technicians = set(session.scalars(sa.union(
        sa.select(Visit.technician_id).where(Visit.id.in_(visits), Visit.technician_id.is_not(None)),
        sa.select(VisitHandover.technician_id).where(VisitHandover.visit_id.in_(visits),
                                                     VisitHandover.completed_at.is_(None)))))
    return _built(session, technicians)


def holders(session: Session, table: str, record_ids: Iterable[uuid.UUID]) -> list[tuple[uuid.UUID, uuid.UUID, int]]:
    """(technician, record, refs) of every scope holding one of the records."""
    record_ids = list(set(record_ids))
    if not record_ids:
        return []
    return [tuple(r) for r in session.execute(  # type: ignore[misc]
        sa.select(ScopeMember.technician_id, ScopeMember.record_id, ScopeMember.refs).where(
            ScopeMember.table_name == table, in_values(session, ScopeMember.record_id, record_ids),
            ScopeMember.removed_seq.is_(None)))]


# -- the whole scope: built at the first pull, rebuilt when stale ------------------------------------------

def rebuild(session: Session, technician_id: uuid.UUID, state: ScopeState, ctx: ScopeContext) -> tuple[int, int]:
    """Compare the whole scope with its definition and fix every difference (the first pull, a stale
    scope, `flask sync rebuild-scopes`). Returns (entered, left)."""
    start, end = ctx.horizon
    visits = _wanted_visits(session, technician_id, start, end)
    fresh = session.scalar(sa.select(ScopeMember.record_id).where(ScopeMember.technician_id == technician_id)
                           .limit(1)) is None
    wanted = needs_of_visits(session, technician_id, visits, per_visit_rows=not fresh) + needs_of_van(
        session, technician_id)
    bulk = _insert_per_visit(session, technician_id, sorted(visits)) if fresh else 0
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    held = {} if fresh else {(row.table_name, row.record_id): row for row in session.execute(
        sa.select(ScopeMember.table_name, ScopeMember.record_id, ScopeMember.refs, ScopeMember.removed_seq)
        .where(ScopeMember.technician_id == technician_id))}
    entered = bulk
    for key, count in wanted.items():
        entered += _enter(key, count, held.get(key), inserts, updates)
    left = 0
    for key, row in held.items():
        if row.removed_seq is None and key not in wanted:
            updates.append({"b_table": key[0], "b_record": key[1], "refs": 0, "_seq": "removed_seq"})
            left += 1
    _write(session, technician_id, inserts, updates)
    state.horizon_start, state.horizon_end = start, end
    state.built_at, state.stale_reason = ctx.now, None
    if entered > 1000 and session.get_bind().dialect.name == "postgresql":
        # a first sync just grew the table by thousands of rows: fresh statistics now, not at the next
        # autovacuum, or the pages of this very sync get planned for an empty table
        session.execute(sa.text("ANALYZE sync_scope"))
    log.info("sync scope of technician %s rebuilt: %d entered, %d left", technician_id, entered, left)
    return entered, left


def prepare(session: Session, ctx: ScopeContext) -> ScopeState:
    """Before a pull: build the scope if it never was (or is stale), else move its window to now by
    evaluating only the technician's visits whose start crossed an edge of the window since the last pull."""
    technician_id = ctx.technician_id
    state = lock_states(session, [technician_id])[technician_id]
    if state.built_at is None or state.horizon_start is None or state.horizon_end is None:
        rebuild(session, technician_id, state, ctx)
        return state
    start, end = ctx.horizon
    old_start, old_end = state.horizon_start, state.horizon_end
    state.horizon_start, state.horizon_end = start, end
    crossed = set(session.scalars(sa.select(Visit.id).where(Visit.technician_id == technician_id, sa.or_(
        sa.and_(Visit.scheduled_start >= min(old_start, start), Visit.scheduled_start < max(old_start, start)),
        sa.and_(Visit.scheduled_start >= min(old_end, end), Visit.scheduled_start < max(old_end, end))))))
    if crossed:
        entered, left = evaluate_visits(session, technician_id, crossed, state)
        log.info("sync scope of technician %s: window moved, %d visits entered, %d left", technician_id,
                 entered, left)
    return state


HORIZON_REFRESH = timedelta(hours=1)


@functools.cache
def _ready_statement() -> sa.Select[Any]:
    """The technician's scope state, and whether anything waits: a visit of theirs whose start lies between the
    window of their last pull and now's (bound parameters start, end), or a visit taken from them delivered at
    or before the cursor whose handover is not complete. Built once (the usual pull runs it)."""
    state, visit, handover = ScopeState.__table__.c, Visit.__table__.c, VisitHandover.__table__.c
    tech, cursor = sa.bindparam("tech", type_=sa.Uuid()), sa.bindparam("cursor", type_=sa.BigInteger())

    def between(old: Any, new: Any) -> Any:
        low, high = sa.case((old < new, old), else_=new), sa.case((old < new, new), else_=old)
        return sa.and_(visit.scheduled_start >= low, visit.scheduled_start < high)

    crossed = sa.exists().where(visit.technician_id == tech, sa.or_(
        between(state.horizon_start, sa.bindparam("start", type_=state.horizon_start.type)),
        between(state.horizon_end, sa.bindparam("end", type_=state.horizon_end.type))))
    waiting = sa.exists().where(handover.technician_id == tech, handover.completed_at.is_(None),
                                handover.delivered_seq.is_not(None), handover.delivered_seq <= cursor)
    return (sa.select(state.built_at, state.horizon_start, sa.or_(crossed, waiting).label("pending"))
            .where(state.technician_id == tech, state.horizon_end.is_not(None)))


def up_to_date(session: Session, ctx: ScopeContext, cursor: int) -> bool:
    """Whether a pull from `cursor` has nothing to prepare: the scope is built, no visit of the technician's
    crossed an edge of the window since it was last moved (less than HORIZON_REFRESH ago), and no visit taken
    from them waits to be let go (sync/service.py release_handovers). One statement and no lock: most pulls
    write nothing before reading their page (issue 13); otherwise `prepare` runs under the technician's scope
    lock. Reading without the lock is safe: whatever changes the scope meanwhile is numbered, and the pull's
    watermark leaves it for the next pull."""
    return ready_verdict(ctx, rows_of(session, _ready_statement(), _ready_params(ctx, cursor)))


def _ready_params(ctx: ScopeContext, cursor: int) -> dict[str, Any]:
    start, end = ctx.horizon
    return {"tech": ctx.technician_id, "start": start, "end": end, "cursor": cursor}


def up_to_date_sql(session: Session, ctx: ScopeContext, cursor: int) -> str:
    """PostgreSQL: `up_to_date`'s statement with its parameters as literals, to go in one round trip with the
    pull's watermark (sync/service.py ready_watermark); `ready_verdict` reads its rows."""
    return literal_sql(session, _ready_statement(), _ready_params(ctx, cursor))


def ready_verdict(ctx: ScopeContext, rows: list[Any]) -> bool:
    row = rows[0] if rows else None
    if row is None or row.built_at is None or row.horizon_start is None or row.pending:
        return False
    return abs(ctx.horizon[0] - row.horizon_start) < HORIZON_REFRESH


def refresh_scope(session: Session, ctx: ScopeContext) -> tuple[int, int]:
    """Rebuild the technician's scope whole now (`flask sync rebuild-scopes`). Returns (entered, left)."""
    state = lock_states(session, [ctx.technician_id])[ctx.technician_id]
    return rebuild(session, ctx.technician_id, state, ctx)


# -- on write ------------------------------------------------------------------------------------------------

def _changed(obj: Any, names: Iterable[str]) -> list[Any]:
    """The old values of the attributes that changed in this flush (empty if none)."""
    from sqlalchemy import inspect

    state = inspect(obj)
    old: list[Any] = []
    for name in names:
        history = state.attrs[name].history
        if history.has_changes():
            old.extend(v for v in history.deleted if v is not None)
            old.append(None)  # marks "changed" even when the old value was None
    return old


def children_added(session: Session, table: str, rows: list[tuple[uuid.UUID, uuid.UUID | None]],
                   van_of: dict[uuid.UUID, uuid.UUID | None] | None = None, *, checked: bool = False) -> None:
    """New records (id, parent id) of a child table join every built scope that holds their parent, with the
    parent's reference count. Stock movements join only the scope of the technician whose van they are in
    (`van_of`: movement id -> that technician). `checked`: the same flush evaluated visits, so a record may
    already be a member (counted by its visit's needs): look before inserting."""
    parent_table = CHILDREN[table][0]
    if parent_table == "visits" and van_of is None and not checked and session.get_bind().dialect.name == "postgresql":
        _visit_children_added(session, table, rows)
        return
    by_parent: dict[uuid.UUID, list[uuid.UUID]] = {}
    for record_id, parent_id in rows:
        if parent_id is not None:
            by_parent.setdefault(parent_id, []).append(record_id)
    states = lock_possible_holders(session, parent_table, by_parent)
    held = holders(session, parent_table, by_parent) if states else []
    per_technician: dict[uuid.UUID, Counter[Key]] = {}
    for technician_id, parent_id, refs in held:
        if technician_id not in states:
            continue
        for record_id in by_parent[parent_id]:
            if van_of is not None and van_of.get(record_id) != technician_id:
                continue
            per_technician.setdefault(technician_id, Counter())[(table, record_id)] += refs
    for technician_id, needs in per_technician.items():
        if not checked:
            # records just inserted have no membership yet (their ids are new): straight inserts, no lookup
            _insert_new(session, technician_id, needs)
            continue
        # the same flush also (re)evaluated visits, whose needs may already have counted these records
        held = _held(session, technician_id, table, [record_id for _, record_id in needs])
        add_needs(session, technician_id, Counter({key: n for key, n in needs.items()
                                                   if key[1] not in held or held[key[1]].removed_seq is not None}))


# PostgreSQL, children of visits (a push's work logs): lock the scope state of every technician who may hold the
# visits (their technicians and those of their open handovers), in id order, in one statement; rows of the
# technicians without a state row yet come back with `built` NULL only (see _visit_children_added)
_LOCK_VISIT_HOLDERS = (
    "WITH wanted AS MATERIALIZED ("
    " SELECT v.technician_id FROM visits v WHERE v.id = ANY(%(visits)s) AND v.technician_id IS NOT NULL"
    " UNION SELECT h.technician_id FROM visit_handovers h WHERE h.visit_id = ANY(%(visits)s)"
    " AND h.completed_at IS NULL), "
    "locked AS MATERIALIZED ("
    " SELECT s.technician_id, s.built_at IS NOT NULL AND s.horizon_start IS NOT NULL AND s.horizon_end IS NOT NULL"
    " AS built FROM sync_scope_state s WHERE s.technician_id IN (SELECT technician_id FROM wanted)"
    " ORDER BY s.technician_id FOR UPDATE) "
    "SELECT technician_id, built FROM locked UNION ALL SELECT technician_id, NULL FROM wanted")
# ... then the new records join every built scope holding their visit, with the visit's reference count, each
# member numbered in the statement: the holders are read after the lock, by a statement of their own
_JOIN_VISIT_HOLDERS = (
    "INSERT INTO sync_scope (technician_id, table_name, record_id, refs, added_seq, removed_seq) "
    "SELECT m.technician_id, %(table)s, c.id, m.refs, nextval('{sequence}'), NULL FROM {source} "
    "JOIN sync_scope m ON m.technician_id = ANY(%(technicians)s) AND m.table_name = 'visits' "
    "AND m.record_id = {parent} AND m.removed_seq IS NULL")


def _visit_children_added(session: Session, table: str, rows: list[tuple[uuid.UUID, uuid.UUID | None]]) -> None:
    """children_added for new records under visits on PostgreSQL, in two statements instead of five (issue 13:
    the push's fixed cost): one locks the possible holders' states (as lock_possible_holders), one inserts
    the memberships from the holders read after it (as holders + _insert_new).

    A technician with no state row yet has never been built (nothing to join), unless a concurrent first pull
    created it after this statement's snapshot: then, as before, lock_states creates or waits for the row and
    locks it in a statement of its own, which sees that pull's scope once it has committed."""
    from fieldservice.changes import SEQUENCE, ensure_counter_locked, numbering

    ids = [record_id for record_id, parent_id in rows if parent_id is not None]
    if not ids:
        return
    parents = [parent_id for _, parent_id in rows if parent_id is not None]
    visits = list({id(v): v for v in parents}.values())  # the same object for a push's logs of one visit
    with driver_cursor(session, _LOCK_VISIT_HOLDERS, {"visits": visits}) as cursor:
        holders = cursor.fetchall()
    wanted: set[uuid.UUID] = set()
    locked: set[uuid.UUID] = set()
    built: list[uuid.UUID] = []
    for technician_id, is_built in holders:
        if is_built is None:
            wanted.add(technician_id)
        else:
            locked.add(technician_id)
            if is_built:
                built.append(technician_id)
    if wanted - locked:
        built = list(_built(session, wanted))
    if not built:
        return
    ensure_counter_locked(session)  # this transaction's floor is held before nextval
    if len(visits) == 1:
        sql = _JOIN_VISIT_HOLDERS.format(sequence=SEQUENCE, source="unnest(%(ids)b::uuid[]) AS c(id)",
                                         parent="%(parent)s")
        params = {"table": table, "ids": ids, "parent": visits[0], "technicians": built}
    else:
        sql = _JOIN_VISIT_HOLDERS.format(sequence=SEQUENCE, parent="c.parent",
                                         source="unnest(%(ids)b::uuid[], %(parents)b::uuid[]) AS c(id, parent)")
        params = {"table": table, "ids": ids, "parents": parents, "technicians": built}
    numbering(session, driver_execute(session, sql, params))  # counted as taken by this transaction


def _insert_new(session: Session, technician_id: uuid.UUID, needs: Counter[Key]) -> None:
    """Records new to the database enter the technician's scope: on PostgreSQL one INSERT ... SELECT per
    table and reference count, the ids as one binary array and each member numbered by `nextval` in the
    statement (a push's hundreds of work logs: no round trip to fetch numbers, no row-by-row COPY in Python);
    elsewhere as `_write` does."""
    if session.get_bind().dialect.name != "postgresql":
        _write(session, technician_id, [{"table_name": t, "record_id": r, "refs": n} for (t, r), n in needs.items()],
               [])
        return
    from fieldservice.changes import SEQUENCE, numbering

    groups: dict[tuple[str, int], list[uuid.UUID]] = {}
    for (table, record_id), refs in needs.items():
        groups.setdefault((table, refs), []).append(record_id)
    for (table, refs), ids in groups.items():
        numbering(session, len(ids))  # this transaction numbers them (its floor is held): counted as taken
        sql = ("INSERT INTO sync_scope (technician_id, table_name, record_id, refs, added_seq, removed_seq) "
               f"SELECT %(t)s, %(n)s, r, %(refs)s, nextval('{SEQUENCE}'), NULL FROM unnest(%(ids)b::uuid[]) AS r")
        params = {"t": technician_id, "n": table, "refs": refs, "ids": ids}
        driver_execute(session, sql, params)


def _van_changes(session: Session, balances: list[StockBalance]) -> None:
    """A van's balance seen in a flush (a part put in the van): it and its part join the van owner's scope."""
    locations = {b.location_id for b in balances}
    owners = dict(session.execute(sa.select(StockLocation.id, StockLocation.technician_id).where(
        StockLocation.id.in_(locations), StockLocation.technician_id.is_not(None))).all())
    if not owners:
        return
    states = _built(session, owners.values())
    for technician_id in states:
        mine = [b for b in balances if owners.get(b.location_id) == technician_id]
        held = _held(session, technician_id, "stock_balances", [b.id for b in mine])
        new = [b for b in mine if b.id not in held or held[b.id].removed_seq is not None]
        if new:
            needs: Counter[Key] = Counter()
            for balance in new:
                needs[("stock_balances", balance.id)] = 1
            parts = _held(session, technician_id, "parts", [b.part_id for b in new])
            for balance in new:
                part = parts.get(balance.part_id)
                if part is None or part.removed_seq is not None:
                    needs[("parts", balance.part_id)] = 1
            add_needs(session, technician_id, needs)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: Any) -> None:
    """Keep scopes in line with what this flush changed (see the module docstring)."""
    new, dirty = session.new, session.dirty
    if not new and not dirty:
        return
    evaluate: dict[uuid.UUID, set[uuid.UUID]] = {}
    stale: dict[uuid.UUID, str] = {}
    children: dict[str, list[tuple[uuid.UUID, uuid.UUID | None]]] = {}
    movements: list[StockMovement] = []
    balances: list[StockBalance] = []
    for obj in list(new) + list(dirty):
        is_new = obj in new
        if isinstance(obj, Visit):
            if is_new or _changed(obj, VISIT_FIELDS):
                for technician_id in {obj.technician_id, *_changed(obj, ["technician_id"])}:
                    if technician_id is not None:
                        evaluate.setdefault(technician_id, set()).add(obj.id)
            if not is_new and _changed(obj, ["work_order_id"]):
                for technician_id in lock_possible_holders(session, "visits", [obj.id]):
                    stale[technician_id] = "a visit moved to another work order"
        elif isinstance(obj, VisitHandover):
            if is_new or _changed(obj, ["completed_at"]):
                evaluate.setdefault(obj.technician_id, set()).add(obj.visit_id)
        elif isinstance(obj, WorkOrder) and not is_new and _changed(obj, CHAIN_FIELDS):
            for technician_id in lock_possible_holders(session, "work_orders", [obj.id]):
                stale[technician_id] = "a work order's customer, site, asset or product changed"
        elif isinstance(obj, Product) and not is_new and _changed(obj, ["product_line_id"]):
            for technician_id in lock_possible_holders(session, "products", [obj.id]):
                stale[technician_id] = "a product moved to another product line"
        elif isinstance(obj, Contact) and not is_new and _changed(obj, ["customer_id"]):
            old = [c for c in _changed(obj, ["customer_id"]) if c is not None]
            for technician_id in lock_possible_holders(session, "customers", [obj.customer_id, *old]):
                stale[technician_id] = "a contact moved to another customer"
        elif isinstance(obj, StockLocation) and (is_new or _changed(obj, ["technician_id"])):
            for technician_id in {obj.technician_id, *_changed(obj, ["technician_id"])}:
                if technician_id is not None:
                    stale[technician_id] = "a van was created or given to another technician"
        elif isinstance(obj, StockBalance):
            balances.append(obj)
        elif is_new and isinstance(obj, StockMovement):
            movements.append(obj)
        elif is_new and getattr(obj, "__tablename__", None) in CHILDREN:
            table = obj.__tablename__
            children.setdefault(table, []).append((obj.id, getattr(obj, CHILDREN[table][1])))
    if stale:
        lock_states(session, stale)
        for technician_id, reason in stale.items():
            mark_stale(session, [technician_id], reason)
    if evaluate:
        states = _built(session, evaluate)
        for technician_id, visit_ids in evaluate.items():
            if technician_id in states and technician_id not in stale:
                evaluate_visits(session, technician_id, visit_ids, states[technician_id])
    # parents first: quotes before their lines, records before their sign-offs
    for table in ("quotes", "service_records", *[t for t in CHILDREN if t not in ("quotes", "service_records")]):
        if table in children:
            children_added(session, table, children[table], checked=bool(evaluate))
    if movements:
        vans = dict(session.execute(sa.select(StockLocation.id, StockLocation.technician_id).where(
            StockLocation.id.in_({m.location_id for m in movements}))).all())
        children_added(session, "stock_movements", [(m.id, m.work_order_id) for m in movements],
                       van_of={m.id: vans.get(m.location_id) for m in movements}, checked=bool(evaluate))
    if balances:
        _van_changes(session, balances)


@on_bulk_insert
def _bulk_inserted(session: Session, table: str, columns: dict[str, list[Any]]) -> None:
    if table in CHILDREN:
        parents = columns.get(CHILDREN[table][1]) or [None] * len(columns["id"])
        children_added(session, table, list(zip(columns["id"], parents, strict=True)))


@on_delete
def _drop_deleted(session: Session, obj: Any, seq: int) -> None:
    """A deleted synced row leaves every phone that holds it."""
    if obj.__tablename__ in TABLES:
        session.execute(sa.update(ScopeMember).where(
            ScopeMember.table_name == obj.__tablename__, ScopeMember.record_id == obj.id,
            ScopeMember.removed_seq.is_(None)).values(removed_seq=seq, refs=0))
