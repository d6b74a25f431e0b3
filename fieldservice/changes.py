"""Change tracking for offline sync: every change to a synced row gets a server-assigned sequence number.

Why a sequence under a lock and not a timestamp or a plain database sequence: a phone's cursor must never
skip a change. With a plain sequence, transaction A can take number 10, B take 11 and commit first; a
pull that sees 11 moves the cursor past 10, and when A commits, 10 is never sent. Here a transaction that
changes synced rows first locks the single `sync_state` row (UPDATE ... RETURNING), numbers its changes
from it, and writes the new high-water mark back just before it commits. Writers of synced rows are thus
serialised from their first synced flush to commit, numbers are committed in order, and the committed
`sync_state.last_seq` is a watermark: every change numbered at or below it is committed (or rolled back).

Deleted rows leave a tombstone with their own sequence number.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column, scoped_session

from fieldservice.db import utcnow
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


def _lock_counter(session: Session) -> int:
    """Lock the counter row for the rest of the transaction and return the last committed number.

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


def ensure_counter_locked(session: Session) -> None:
    """Take the counter lock for this transaction if not yet held.

    Take it outside any SAVEPOINT: rolling back to a savepoint releases locks taken after it (PostgreSQL),
    and the numbers handed out afterwards would no longer be protected.
    """
    if _SEQ in session.info:
        return
    if isinstance(session, scoped_session):
        session = session()
    if session.in_nested_transaction():
        raise RuntimeError("lock the change counter before opening a savepoint (ensure_counter_locked)")
    start = _lock_counter(session)
    session.info[_SEQ_START] = start
    session.info[_SEQ] = start


def next_seq(session: Session) -> int:
    """Hand out the next change number in this transaction (locking the counter on first use)."""
    ensure_counter_locked(session)
    session.info[_SEQ] += 1
    return int(session.info[_SEQ])


def numbered_so_far(session: Session) -> int | None:
    """The last number handed out in this transaction (None if none): compare before and after a step to
    learn whether it changed any synced row."""
    value = session.info.get(_SEQ)
    return None if value is None else int(value)


def reserve_seqs(session: Session, count: int) -> int:
    """Reserve `count` consecutive numbers; returns the one before the first (numbers are base+1..base+count)."""
    ensure_counter_locked(session)
    base = int(session.info[_SEQ])
    session.info[_SEQ] = base + count
    return base


def current_watermark(session: Session) -> int:
    """Every change numbered at or below this is committed: the highest cursor a pull may hand out.

    A transaction that holds the counter (it numbered changes itself) sees its own numbers; nobody else
    can commit meanwhile, so its own high-water mark is exact.
    """
    if _SEQ in session.info:
        return int(session.info[_SEQ])
    return int(session.execute(sa.select(SyncState.last_seq).where(SyncState.id == 1)).scalar() or 0)


def touch(obj: Any) -> None:
    """Give a synced row a new change number without changing its data (re-send it to phones)."""
    obj.change_seq = -1  # replaced in before_flush; any assignment makes the row dirty


@event.listens_for(Session, "before_flush")
def _number_changes(session: Session, flush_context: Any, instances: Any) -> None:
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, ChangeTracked) and (obj in session.new or session.is_modified(obj)):
            obj.change_seq = next_seq(session)
    for obj in list(session.deleted):
        if isinstance(obj, ChangeTracked):
            seq = next_seq(session)
            session.add(Tombstone(table_name=obj.__tablename__, record_id=obj.id, change_seq=seq))
            for hook in _DELETE_HOOKS:
                hook(session, obj, seq)


_DELETE_HOOKS: list[Any] = []


def on_delete(hook: Any) -> Any:
    """Register `hook(session, obj, seq)` to run when a synced row is deleted (the sync scope uses it)."""
    _DELETE_HOOKS.append(hook)
    return hook


@event.listens_for(Session, "before_commit")
def _write_back_counter(session: Session) -> None:
    session.flush()  # number anything still pending before the counter is written back
    if session.in_nested_transaction():
        # releasing a SAVEPOINT (before_commit fires for those too): the outermost commit writes the final
        # number. Writing it at every release cost one UPDATE per savepoint, and each UPDATE of the same row
        # in one transaction is slower than the one before (every version stays until commit): 5 of 15 s of
        # a 500-occurrence maintenance run (docs/benchmarks.md, schedule_bench)
        return
    if _SEQ in session.info and session.info[_SEQ] != session.info[_SEQ_START]:
        session.connection().execute(sa.text("UPDATE sync_state SET last_seq = :seq WHERE id = 1"),
                                     {"seq": session.info[_SEQ]})


@event.listens_for(Session, "after_transaction_end")
def _forget_counter(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended (commit or rollback)
        session.info.pop(_SEQ, None)
        session.info.pop(_SEQ_START, None)
