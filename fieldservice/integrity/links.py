"""Hash-chain links of the append-only logs, keyed with ARCHIVE_HMAC_KEY (never stored in the database).

Every chained row carries `chain_seq` (1, 2, 3, ... without gaps), `prev_hash`, `hash` =
sha256(prev_hash + canonical JSON of the row with its seq) and `mac` = HMAC-SHA256(key, table, seq, hash).
Without the key nobody can recompute a valid chain after editing, inserting or deleting a row; the anchors
(fieldservice/integrity/anchors.py) catch a truncated tail and a rewrite by someone who has the key too.

`archive_log` links each entry as it is appended (records.archive.append). `audit_events` and
`archive_reads` are written by nearly every request, so their rows are linked at commit: the rows a
transaction added are remembered, and just before it commits it takes the chain's lock (a PostgreSQL
transaction-scoped advisory lock; SQLite has a single writer), reads the head, and links them. The lock is
held only for that last step, in which the transaction takes no other lock, so it cannot deadlock.

Batch writers (`append_at_commit`, the audit's `record_many`) hand over whole rows instead: they are inserted
at that step already linked, one INSERT, not an INSERT, a read back and an UPDATE per row (a push's audit event
names its 500 new work logs). A row handed over inside a savepoint that is rolled back is dropped with it.
"""
from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Mapped, Session, mapped_column, scoped_session

from fieldservice.records.canonical import GENESIS_HASH, canonical_bytes, sha256_hex

PENDING = "fieldservice.chain_pending"
PENDING_ROWS = "fieldservice.chain_pending_rows"


class ChainLinks:
    """The link columns of a row chained at commit (audit_events, archive_reads)."""

    chain_seq: Mapped[int | None] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), unique=True)
    prev_hash: Mapped[str | None] = mapped_column(sa.String(64))
    hash: Mapped[str | None] = mapped_column(sa.String(64))
    mac: Mapped[str | None] = mapped_column(sa.String(64))


def hmac_key() -> bytes | None:
    """ARCHIVE_HMAC_KEY as bytes (None outside an app or when unset: rows are then chained unkeyed)."""
    if not has_app_context():
        return None
    key = current_app.config.get("ARCHIVE_HMAC_KEY")
    return key.encode("utf-8") if key else None


def row_mac(key: bytes, table: str, seq: int, hash_: str) -> str:
    return hmac.new(key, f"{table}\n{seq}\n{hash_}".encode("ascii"), hashlib.sha256).hexdigest()


def link_hash(prev_hash: str, document: dict[str, Any]) -> str:
    return sha256_hex(prev_hash.encode("ascii") + canonical_bytes(document))


@dataclass(frozen=True)
class CommitChain:
    """A table chained at commit: its name, advisory lock key and the document each row is hashed as."""

    table: str
    lock_key: int
    columns: tuple[str, ...]

    def document(self, row: Any, seq: int) -> dict[str, Any]:
        return {"table": self.table, "seq": seq, **{name: getattr(row, name) for name in self.columns}}


AUDIT_CHAIN = CommitChain("audit_events", 0x46534155,  # "FSAU"
                          ("id", "at", "actor_user_id", "actor_role", "actor_name", "action", "entity_type",
                           "entity_id", "details"))
READS_CHAIN = CommitChain("archive_reads", 0x46535244,  # "FSRD"
                          ("id", "at", "actor_user_id", "actor_name", "actor_role", "entity_type", "entity_id", "via"))
COMMIT_CHAINS = {chain.table: chain for chain in (AUDIT_CHAIN, READS_CHAIN)}


def remember(session: Session, table: str, ids: list[uuid.UUID]) -> None:
    """Rows of `table` this transaction added, to be linked when it commits."""
    session.info.setdefault(PENDING, {}).setdefault(table, []).extend(ids)


def append_at_commit(session: Session, table: str, rows: list[dict[str, Any]]) -> None:
    """Rows of a chained table, every column given but the links (as they are stored: what the chain hashes
    is what a later read gives), to be inserted already linked when this transaction commits. Until then
    they are not in the database. Dropped if the savepoint (or transaction) current now is rolled back."""
    if isinstance(session, scoped_session):
        session = session()
    session.connection()  # the transaction has begun (autobegin), so a rollback of it drops the rows too
    current = session.get_nested_transaction() or session.get_transaction()
    session.info.setdefault(PENDING_ROWS, {}).setdefault(table, []).extend((current, row) for row in rows)


def _drop_rolled_back(session: Session, previous_transaction: Any) -> None:
    """A savepoint (or the transaction) was rolled back: the rows handed over inside it go with it."""
    pending = session.info.get(PENDING_ROWS)
    if not pending:
        return
    for table, rows in pending.items():
        pending[table] = [(tx, row) for tx, row in rows if not _within(tx, previous_transaction)]


def _within(transaction: Any, ancestor: Any) -> bool:
    while transaction is not None:
        if transaction is ancestor:
            return True
        transaction = transaction.parent
    return False


def _table(name: str) -> sa.Table:
    from fieldservice.extensions import db

    return db.metadata.tables[name]


_HEAD = "SELECT chain_seq, hash FROM {table} WHERE chain_seq IS NOT NULL ORDER BY chain_seq DESC LIMIT 1"


def _unlinked_locked_head(session: Session, chain: CommitChain, ids: list[uuid.UUID]
                          ) -> tuple[list[Any], tuple[int, str]]:
    """The rows among `ids` not linked yet (rows rolled back with a savepoint are gone), then the chain's lock,
    then its head (seq, hash; (0, GENESIS_HASH) for an empty chain). The head is read after the lock is granted,
    in a statement of its own: its snapshot must see the last holder's commit.

    On PostgreSQL, for the usual handful of rows, the three go in one round trip: a simple-protocol query of
    three statements, each with its own snapshot in READ COMMITTED (every request that writes an audit event
    commits through here). The ids are UUIDs, written as literals; the rows' values pass through the columns'
    result processors, as SQLAlchemy's own results do."""
    table = _table(chain.table)
    if session.get_bind().dialect.name != "postgresql" or len(ids) > 500:
        rows: list[Any] = []
        for start in range(0, len(ids), 500):
            rows += session.execute(sa.select(table).where(table.c.id.in_(ids[start:start + 500]),
                                                           table.c.chain_seq.is_(None))).all()
        if session.get_bind().dialect.name == "postgresql":
            session.execute(sa.text(f"SELECT pg_advisory_xact_lock({int(chain.lock_key)})"))
        return rows, _head(session.execute(sa.text(_HEAD.format(table=table.name))).first())
    from psycopg.rows import namedtuple_row

    from fieldservice.db import driver_cursor

    connection = session.connection()
    names = [column.name for column in table.columns]
    literals = ", ".join(f"'{uuid.UUID(str(row_id))}'" for row_id in ids)
    unlinked = (f"SELECT {', '.join(names)} FROM {table.name} WHERE id IN ({literals}) AND chain_seq IS NULL; "
                if ids else "")  # none when only rows handed over whole (append_at_commit) are to be linked
    sql = f"{unlinked}SELECT pg_advisory_xact_lock({int(chain.lock_key)}); {_HEAD.format(table=table.name)}"
    processors = [column.type._cached_result_processor(connection.dialect, None)  # noqa: SLF001
                  for column in table.columns]
    rows = []
    with driver_cursor(session, sql, row_factory=namedtuple_row) as cursor:
        if ids:
            rows = [type(raw)._make(value if process is None else process(value)
                                    for process, value in zip(processors, raw, strict=True))
                    for raw in cursor.fetchall()]
            cursor.nextset()
        cursor.nextset()
        return rows, _head(cursor.fetchone())


def _head(row: Any) -> tuple[int, str]:
    """(seq, hash) of the chain's last row; (0, GENESIS_HASH) for an empty chain."""
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def _links(chain: CommitChain, key: bytes | None, rows: list[Any], seq: int, prev: str) -> list[dict[str, Any]]:
    """The link columns of `rows` (objects with the chain's columns), in order, after the head (seq, prev)."""
    links = []
    for row in rows:
        seq += 1
        digest = link_hash(prev, chain.document(row, seq))
        links.append({"chain_seq": seq, "prev_hash": prev, "hash": digest,
                      "mac": row_mac(key, chain.table, seq, digest) if key else None})
        prev = digest
    return links


def link_pending(session: Session) -> None:
    """Link the rows this transaction added to their chains (called just before it commits)."""
    if session.in_nested_transaction():
        return  # a savepoint's release: the outermost commit links
    session.flush()
    pending: dict[str, list[uuid.UUID]] = session.info.pop(PENDING, {})
    appended: dict[str, list[tuple[Any, dict[str, Any]]]] = session.info.pop(PENDING_ROWS, {})
    if not any(pending.values()) and not any(appended.values()):
        return
    key = hmac_key()
    for name in dict.fromkeys([*pending, *appended]):
        ids, new_rows = pending.get(name) or [], [row for _, row in appended.get(name) or []]
        if not ids and not new_rows:
            continue
        chain, table = COMMIT_CHAINS[name], _table(name)
        order = {row_id: i for i, row_id in enumerate(dict.fromkeys(ids))}
        rows, (seq, prev) = _unlinked_locked_head(session, chain, list(order))
        rows.sort(key=lambda r: order[r.id])  # rows the ORM added (any rolled back with a savepoint are gone)
        # then the rows handed over whole, inserted linked
        links = _links(chain, key, [*rows, *(SimpleNamespace(**new) for new in new_rows)], seq, prev)
        if rows:
            session.execute(sa.update(table).where(table.c.id == sa.bindparam("_id"))
                            .values(chain_seq=sa.bindparam("chain_seq"), prev_hash=sa.bindparam("prev_hash"),
                                    hash=sa.bindparam("hash"), mac=sa.bindparam("mac")),
                            [{"_id": row.id, **link} for row, link in zip(rows, links[:len(rows)], strict=True)])
        if new_rows:
            session.execute(sa.insert(table), [{**new, **link} for new, link in
                                               zip(new_rows, links[len(rows):], strict=True)])


def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(PENDING, None)
        session.info.pop(PENDING_ROWS, None)


def _remember_new(session: Session, flush_context: Any) -> None:
    for obj in session.new:
        name = getattr(obj, "__tablename__", None)
        if name in COMMIT_CHAINS:
            remember(session, name, [obj.id])


def install(on: type[Session] | Callable[..., Any] = Session) -> None:
    """Register the session hooks (once, for every session)."""
    if not sa.event.contains(on, "before_commit", link_pending):
        sa.event.listen(on, "after_flush", _remember_new)
        sa.event.listen(on, "before_commit", link_pending)
        sa.event.listen(on, "after_soft_rollback", _drop_rolled_back)
        sa.event.listen(on, "after_transaction_end", _forget)


install()
