"""Change tracking for offline sync: every change to a synced row gets a server-assigned change number.

A phone's cursor must never skip a change. Numbers from a plain sequence are not enough: transaction A can
take number 10, B take 11 and commit first; a pull that sees 11 moves the cursor past 10, and when A commits,
10 is never sent. So a pull hands out a *watermark*: a number at or below which every change is committed
(or rolled back), and only changes up to it are sent.

PostgreSQL (issue 13: no global lock for writers). Numbers come from the sequence `sync_change_seq`
(`nextval`, never blocking). A transaction that numbers changes first takes a *shared* transaction-level
advisory lock whose key is the sequence's value at that moment (`floor`): every number it will take is
above its floor, and the lock lives until it commits or rolls back. Shared locks never wait for each other,
so writers do not serialise. The watermark is `min(V, lowest floor held)`, where V is the sequence's value
read *before* the locks are listed: a number at or below it was either taken by a transaction that has
finished (its lock is gone, its rows are committed and visible to the statements that follow), or by one
still running, whose floor is below the number and so bounds the watermark. A long transaction holds the
watermark back (its changes and later ones wait for the next pull); it never lets a change be skipped.

SQLite has one writer at a time anyway: a transaction that numbers changes locks the single `sync_state`
row (UPDATE ... RETURNING), numbers from it and writes the high-water mark back just before it commits.

Deleted rows leave a tombstone with their own number.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column, scoped_session

from fieldservice.db import driver_cursor, driver_execute, utcnow
from fieldservice.extensions import db

log = logging.getLogger(__name__)

_SEQ = "fieldservice.seq"          # session.info key: next number to hand out in this transaction
_SEQ_START = "fieldservice.seq0"   # the value locked at the start (to know whether to write back)


class SyncState(db.Model):
    """One row (id = 1): the last change sequence number handed out and committed."""

    __tablename__ = "sync_state"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class Tombstone(db.Model):
    """A deleted synced row, so phones learn of the delete."""

    __tablename__ = "sync_tombstones"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    table_name: Mapped[str] = mapped_column(sa.String(60))
    record_id: Mapped[uuid.UUID]
    change_seq: Mapped[int] = mapped_column(sa.BigInteger, index=True)
    deleted_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChangeTracked:
    """Mixin for tables that phones sync: `change_seq` is set on every insert and update."""

    change_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0, index=True)
    # the number the row was inserted with (NULL: unknown, rows inserted before issue 13 or with a Core
    # statement that did not say): a pull's walk of rows changed since its cursor skips, without looking at the
    # scope, rows created after the cursor, which cannot have been on the phone before it (sync/pull.py)
    created_seq: Mapped[int | None] = mapped_column(sa.BigInteger)


SEQUENCE = "sync_change_seq"
# the advisory-lock key space of writers' floors: pg_advisory_xact_lock_shared(FLOOR_SPACE + floor >> 31,
# floor & 0x7fffffff); two-int keys (objsubid 2) above FLOOR_SPACE, apart from the app's one-int keys
FLOOR_SPACE = 1_900_000_000
_COUNT = "fieldservice.seq.count"  # session.info: how many numbers this transaction has taken


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _lock_counter(session: Session) -> int:
    """SQLite: lock the counter row for the rest of the transaction and return the last committed number.

    UPDATE (not SELECT ... FOR UPDATE) so that SQLite takes its write lock here too, instead of failing
    a later read-to-write upgrade.
    """
    conn = session.connection()
    value = conn.execute(sa.text(
        "UPDATE sync_state SET last_seq = last_seq WHERE id = 1 RETURNING last_seq")).scalar()
    if value is None:  # a database migrated without the seed row (should not happen): create it
        conn.execute(sa.text("INSERT INTO sync_state (id, last_seq) VALUES (1, 0)"))
        value = 0
    return int(value)


_FLOOR_SQL = (f"SELECT pg_advisory_xact_lock_shared(({FLOOR_SPACE} + (last_value >> 31))::int, "
              f"(last_value & 2147483647)::int) FROM {SEQUENCE}")


def _hold_floor(session: Session) -> None:
    """PostgreSQL: hold a shared advisory lock keyed on the sequence's current value until the transaction
    ends. Read and locked in one statement; any number this transaction takes afterwards is above it."""
    session.connection().execute(sa.text(_FLOOR_SQL))


def hold_floor_with(session: Session, *, watermark: bool, then: str) -> tuple[int | None, list[Any]]:
    """PostgreSQL, for a writer that wants more in the same round trip: the watermark first (as
    `current_watermark` reads it) when asked, then this transaction's floor (as `ensure_counter_locked` holds
    it), then `then` (SQL without parameters, one statement returning rows). One simple-protocol query, each
    statement with its own snapshot. Returns (the watermark or None, then's rows as named tuples)."""
    from psycopg.rows import namedtuple_row

    if isinstance(session, scoped_session):
        session = session()
    if _SEQ in session.info or session.in_nested_transaction():
        raise RuntimeError("hold_floor_with: the transaction already numbers, or a savepoint is open")
    sql = "; ".join([*([_WATERMARK_SQL] if watermark else []), _FLOOR_SQL, then])
    with driver_cursor(session, sql, row_factory=namedtuple_row) as cursor:
        mark = None
        if watermark:
            value = int(cursor.fetchone()[0] or 0)
            cursor.nextset()
            floor = cursor.fetchone()[0]
            mark = value if floor is None else min(value, int(floor))
            cursor.nextset()
        cursor.nextset()  # past the floor's lock
        rows = cursor.fetchall()
    session.info[_SEQ_START] = session.info[_SEQ] = None
    session.info[_COUNT] = 0
    return mark, rows


def ensure_counter_locked(session: Session) -> None:
    """Make this transaction a numbering writer if it is not one yet: on PostgreSQL hold its floor (shared,
    never waits), on SQLite lock the counter row.

    Call it outside any SAVEPOINT: rolling back to a savepoint releases locks taken after it, and the
    numbers handed out afterwards would no longer be protected.
    """
    if _SEQ in session.info:
        return
    if isinstance(session, scoped_session):
        session = session()
    if session.in_nested_transaction():
        raise RuntimeError("lock the change counter before opening a savepoint (ensure_counter_locked)")
    if _is_postgres(session):
        _hold_floor(session)
        session.info[_SEQ_START] = session.info[_SEQ] = None
    else:
        session.info[_SEQ_START] = session.info[_SEQ] = _lock_counter(session)
    session.info[_COUNT] = 0


def serialised(session: Session, key: int) -> None:
    """Number changes (ensure_counter_locked) and, on PostgreSQL, also hold the exclusive advisory lock `key`
    until the transaction ends: for writers that must run one at a time (maintenance generation runs). On
    SQLite the counter lock already is exclusive."""
    ensure_counter_locked(session)
    if _is_postgres(session):
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def take_seqs(session: Session, count: int) -> list[int]:
    """`count` new change numbers for this transaction, increasing (consecutive on SQLite; on PostgreSQL
    other writers may take numbers in between)."""
    if isinstance(session, scoped_session):
        session = session()
    ensure_counter_locked(session)
    if count <= 0:
        return []
    session.info[_COUNT] += count
    if _is_postgres(session):
        numbers = list(session.connection().execute(sa.text(
            f"SELECT nextval('{SEQUENCE}') FROM generate_series(1, :n)"), {"n": count}).scalars())
        return sorted(int(n) for n in numbers)
    base = int(session.info[_SEQ])
    session.info[_SEQ] = base + count
    return list(range(base + 1, base + count + 1))


def numbering(session: Session, count: int) -> sa.ColumnElement[int]:
    """A SQL expression numbering up to `count` rows of one INSERT ... SELECT, each a new change number
    (bulk work done in the database, not in Python): `nextval` on PostgreSQL; on SQLite consecutive numbers
    reserved here, `base + row_number()`."""
    if isinstance(session, scoped_session):
        session = session()
    ensure_counter_locked(session)
    if _is_postgres(session):
        session.info[_COUNT] += count
        return sa.func.nextval(SEQUENCE)
    numbers = take_seqs(session, count)
    base = numbers[0] - 1 if numbers else 0
    return sa.literal(base, sa.BigInteger()) + sa.func.row_number().over()


def insert_numbered(session: Session, table: sa.Table, columns: dict[str, list[Any]], *,
                    skip_existing: bool = False) -> set[Any]:
    """Insert many new rows of a synced table, each with a new change number in `change_seq`. On PostgreSQL
    one INSERT ... SELECT from `unnest` of one binary array per column, numbered by `nextval` in the statement
    (one round trip: no numbers fetched first, no row-by-row COPY in Python); elsewhere, or for a column type
    fieldservice.db does not map, numbers taken here and `bulk_insert`. `columns`: the rows by column, a list of
    equal length per column (no row dicts: a push's hundreds of rows go straight into the arrays), every value
    explicit as for `bulk_insert`, without `change_seq` (set, with `created_seq`, to the row's new number);
    nothing here runs ORM events (callers tell the hooks: `bulk_inserted`).

    `skip_existing`: rows whose `id` the table already has are left out (PostgreSQL: a plain insert under a
    savepoint, and only if an id exists, the same statement again with `ON CONFLICT (id) DO NOTHING`, which
    answers with the ids it left out; elsewhere a look-up first).
    Returns the ids left out (always empty without `skip_existing`): the caller decides what they mean."""
    from fieldservice.db import _copy_type, bulk_insert

    if isinstance(session, scoped_session):
        session = session()
    names = list(columns)
    count = len(columns[names[0]]) if names else 0
    if not count:
        return set()
    types = [_copy_type(table.c[name].type) for name in names] if _is_postgres(session) else []
    if not types or not all(types):
        rows = [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]
        skipped: set[Any] = set()
        if skip_existing:
            skipped = set(session.execute(sa.select(table.c.id).where(
                table.c.id.in_([row["id"] for row in rows]))).scalars())
            rows = [row for row in rows if row["id"] not in skipped] if skipped else rows
        for row, seq in zip(rows, take_seqs(session, len(rows)), strict=True):
            row["change_seq"] = row["created_seq"] = seq
        bulk_insert(session, table, rows)
        return skipped
    numbering(session, count)  # counted as taken by this transaction, whose floor is held
    params: dict[str, Any] = {}
    arrays: list[str] = []
    select: list[str] = []
    for i, (name, pg_type) in enumerate(zip(names, types, strict=True)):
        values = columns[name]
        first = values[0]
        if all(value is first for value in values):  # the same object in every row (now, the visit): sent once
            params[f"p{i}"] = first
            select.append(f"%(p{i})b::{pg_type} AS x{i}")
        else:
            params[f"p{i}"] = values
            arrays.append(f"%(p{i})b::{pg_type}[]")
            select.append(f"u.c{len(arrays)} AS x{i}")
    names_sql = ", ".join(f'"{name}"' for name in names)
    aliases = ", ".join(f"c{n}" for n in range(1, len(arrays) + 1))
    if arrays:
        source = f" FROM unnest({', '.join(arrays)}) AS u({aliases})"
    else:  # every row alike (never for rows with their own ids)
        source, params["count"] = " FROM generate_series(1, %(count)s)", count
    # the number is both the row's change and its creation (created_seq)
    sql = (f'INSERT INTO "{table.name}" ({names_sql}, change_seq, created_seq) SELECT v.*, v.n FROM '
           f"(SELECT {', '.join(select)}, nextval('{SEQUENCE}') AS n{source}) AS v")
    if not skip_existing:
        driver_execute(session, sql, params)
        return set()
    # Usually every id is new (a phone's new records): a plain insert under a savepoint, which costs PostgreSQL
    # ~15 % less than ON CONFLICT's speculative insertion for 500 rows (issue 13). When an id exists (a re-push
    # after a lost answer), the savepoint is rolled back, nothing of it remains, and the statement runs again
    # with ON CONFLICT (id) DO NOTHING, answering with the ids it skipped. PostgreSQL logs that one refused
    # insert as an ERROR (duplicate key) in its own log.
    driver_execute(session, f"SAVEPOINT {NEW_ROWS_SAVEPOINT}")
    try:
        driver_execute(session, sql, params)
    except sa.exc.IntegrityError as err:
        if getattr(err.orig, "sqlstate", None) != _UNIQUE_VIOLATION:
            raise
        driver_execute(session, f"ROLLBACK TO SAVEPOINT {NEW_ROWS_SAVEPOINT}")
    else:
        driver_execute(session, f"RELEASE SAVEPOINT {NEW_ROWS_SAVEPOINT}")
        return set()
    # the ids it did not insert, from the same array parameter; a row left out inserts nothing (PostgreSQL checks
    # the key before inserting) and fires no trigger
    k = names.index("id")
    ids = (f"unnest(%(p{k})b::{types[k]}[])" if isinstance(params[f"p{k}"], list)
           else f"(VALUES (%(p{k})b::{types[k]}))")  # one row: its id was sent as a single value
    sql = (f"WITH inserted AS ({sql} ON CONFLICT (id) DO NOTHING RETURNING id) SELECT x.id FROM {ids} "
           f"AS x(id) WHERE NOT EXISTS (SELECT FROM inserted WHERE inserted.id = x.id)")
    with driver_cursor(session, sql, params) as cursor:
        return {row[0] for row in cursor.fetchall()}


NEW_ROWS_SAVEPOINT = "fieldservice_new_rows"
_UNIQUE_VIOLATION = "23505"


def next_seq(session: Session) -> int:
    """Hand out the next change number in this transaction (becoming a numbering writer on first use)."""
    return take_seqs(session, 1)[0]


def numbered_so_far(session: Session) -> int | None:
    """How many numbers this transaction has taken (None if none yet): compare before and after a step to
    learn whether it changed any synced row."""
    value = session.info.get(_COUNT)
    return None if value is None else int(value)


def current_watermark(session: Session, *, then: str = "") -> int:
    """Every change numbered at or below this is committed (or rolled back): the highest cursor a pull may
    hand out. On SQLite a transaction that holds the counter sees its own numbers (nobody else can commit
    meanwhile); on PostgreSQL this transaction's own floor bounds it like any other writer's. `then`: SQL
    without parameters (PostgreSQL, e.g. a SET LOCAL) run after it in the same round trip."""
    if not _is_postgres(session):
        if _SEQ in session.info:
            return int(session.info[_SEQ])
        return int(session.execute(sa.select(SyncState.last_seq).where(SyncState.id == 1)).scalar() or 0)
    return watermark_after(session, None, then=then)[1]


def watermark_after(session: Session, first: str | None, *, then: str = "") -> tuple[list[Any], int]:
    """PostgreSQL: `first` (SQL without parameters, one statement returning rows; or None), then the watermark
    as `current_watermark` reads it, then `then`, all in one round trip. Returns first's rows (named tuples)
    and the watermark."""
    from psycopg.rows import namedtuple_row

    # first the sequence, then the floors (see the module docstring for why this order is exact): two statements
    # in one round trip (the simple query protocol runs them in order, each with its own snapshot); no
    # parameters, so the driver sends it as is
    sql = (f"{first}; " if first else "") + _WATERMARK_SQL + (f"; {then}" if then else "")
    with driver_cursor(session, sql, row_factory=namedtuple_row) as cursor:
        rows: list[Any] = []
        if first:
            rows = cursor.fetchall()
            cursor.nextset()
        value = int(cursor.fetchone()[0] or 0)
        cursor.nextset()
        floor = cursor.fetchone()[0]
    return rows, (value if floor is None else min(value, int(floor)))


_WATERMARK_SQL = (
    f"SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {SEQUENCE}; "
    f"SELECT min(((classid::bigint - {FLOOR_SPACE}) << 31) | objid::bigint) FROM pg_locks "
    f"WHERE locktype = 'advisory' AND objsubid = 2 AND classid::bigint >= {FLOOR_SPACE} "
    f"AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")


def touch(obj: Any) -> None:
    """Give a synced row a new change number without changing its data (re-send it to phones)."""
    obj.change_seq = -1  # replaced in before_flush; any assignment makes the row dirty


@event.listens_for(Session, "before_flush")
def _number_changes(session: Session, flush_context: Any, instances: Any) -> None:
    changed = [obj for obj in list(session.new) + list(session.dirty)
               if isinstance(obj, ChangeTracked) and (obj in session.new or session.is_modified(obj))]
    deleted = [obj for obj in session.deleted if isinstance(obj, ChangeTracked)]
    if not changed and not deleted:
        return
    numbers = iter(take_seqs(session, len(changed) + len(deleted)))  # one round trip per flush
    new = session.new
    for obj in changed:
        obj.change_seq = next(numbers)
        if obj in new:
            obj.created_seq = obj.change_seq
    for obj in deleted:
        seq = next(numbers)
        session.add(Tombstone(table_name=obj.__tablename__, record_id=obj.id, change_seq=seq))
        for hook in _DELETE_HOOKS:
            hook(session, obj, seq)


_DELETE_HOOKS: list[Any] = []
_BULK_INSERT_HOOKS: list[Any] = []


def on_delete(hook: Any) -> Any:
    """Register `hook(session, obj, seq)` to run when a synced row is deleted (the sync scope uses it)."""
    _DELETE_HOOKS.append(hook)
    return hook


def on_bulk_insert(hook: Any) -> Any:
    """Register `hook(session, table_name, columns)` to run after synced rows were inserted with a Core
    statement (bulk inserts bypass the ORM's events; the sync scope uses it)."""
    _BULK_INSERT_HOOKS.append(hook)
    return hook


def bulk_inserted(session: Session, table_name: str, columns: dict[str, list[Any]]) -> None:
    """Tell the hooks that rows were inserted into `table_name`: `columns` by column, as `insert_numbered`
    takes them (at least `id` and the columns the hooks read)."""
    for hook in _BULK_INSERT_HOOKS:
        hook(session, table_name, columns)


@event.listens_for(Session, "before_commit")
def _write_back_counter(session: Session) -> None:
    session.flush()  # number anything still pending before the counter is written back
    if session.in_nested_transaction():
        # releasing a SAVEPOINT (before_commit fires for those too): the outermost commit writes the final
        # number. Writing it at every release cost one UPDATE per savepoint, and each UPDATE of the same row
        # in one transaction is slower than the one before (every version stays until commit): 5 of 15 s of
        # a 500-occurrence maintenance run (docs/benchmarks.md, schedule_bench)
        return
    if (_SEQ in session.info and session.info[_SEQ] is not None
            and session.info[_SEQ] != session.info[_SEQ_START]):  # SQLite only (PostgreSQL: the sequence)
        session.connection().execute(sa.text("UPDATE sync_state SET last_seq = :seq WHERE id = 1"),
                                     {"seq": session.info[_SEQ]})


@event.listens_for(Session, "after_transaction_end")
def _forget_counter(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended (commit or rollback)
        session.info.pop(_SEQ, None)
        session.info.pop(_SEQ_START, None)
        session.info.pop(_COUNT, None)
