"""The append-only, hash-chained archive log, and its verification (`flask verify-archive`).

Each entry's hash is sha256(prev_hash + canonical JSON of the entry), so changing, removing or inserting
any row breaks every hash after it. Appends are serialised: on PostgreSQL by a transaction-scoped advisory
lock, on SQLite by its single writer (the caller has already written in this transaction).
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fieldservice.auth.service import Actor
from fieldservice.db import utcnow
from fieldservice.extensions import db
from fieldservice.integrity.links import hmac_key, row_mac
from fieldservice.records.canonical import GENESIS_HASH, canonical_bytes, sha256_hex
from fieldservice.records.models import ArchiveEntry

log = logging.getLogger(__name__)

ARCHIVE_LOCK_KEY = 0x46535243  # "FSRC": the advisory lock that serialises appends on PostgreSQL


def entry_document(entry: ArchiveEntry) -> dict[str, Any]:
    return {"seq": entry.seq, "at": entry.at, "actor_user_id": entry.actor_user_id, "actor_name": entry.actor_name,
            "action": entry.action, "entity_type": entry.entity_type, "entity_id": entry.entity_id,
            "payload_sha256": entry.payload_sha256}


def entry_hash(prev_hash: str, entry: ArchiveEntry) -> str:
    return sha256_hex(prev_hash.encode("ascii") + canonical_bytes(entry_document(entry)))


def _lock() -> None:
    session = db.session
    session.flush()  # on SQLite this makes sure the transaction holds the write lock before reading the head
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": ARCHIVE_LOCK_KEY})


def append(actor: Actor, action: str, entity_type: str, entity_id: uuid.UUID, payload: Any,
           *, at: datetime | None = None) -> ArchiveEntry:
    """Append one entry whose payload is bound by the SHA-256 of its canonical JSON."""
    _lock()
    head = db.session.execute(sa.select(ArchiveEntry.seq, ArchiveEntry.hash)
                              .order_by(ArchiveEntry.seq.desc()).limit(1)).first()
    seq, prev = (head.seq + 1, head.hash) if head else (1, GENESIS_HASH)
    at = at or utcnow()
    entry = ArchiveEntry(seq=seq, at=at, actor_user_id=actor.user_id,
                         actor_name=actor.display_name[:120], action=action, entity_type=entity_type,
                         entity_id=entity_id, payload_sha256=sha256_hex(canonical_bytes(payload)), prev_hash=prev)
    entry.hash = entry_hash(prev, entry)
    key = hmac_key()
    entry.mac = row_mac(key, "archive_log", seq, entry.hash) if key else None
    db.session.add(entry)
    db.session.flush()
    return entry
