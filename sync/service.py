"""Sync use cases: pull a page of changes, push a change set, read and resolve the quarantine."""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.changes import current_watermark, ensure_counter_locked, hold_floor_with, watermark_after
from fieldservice.common.lookup import get_or_404
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.db import literal_sql, rows_of, utcnow
from fieldservice.errors import DomainError, Forbidden, InvalidTransition, ValidationFailed
from fieldservice.extensions import db
from fieldservice.visits.models import VisitHandover
from sync import scope
from sync.changeset import InvalidJsonBody, read_change_set
from sync.errors import CursorFromTheFuture, IdempotencyKeyReused
from sync.models import PushLog, RejectionStatus, SyncRejection
from sync.pull import GENERIC_PLANS, pull_page
from sync.push import UNROUTABLE_CODES, PushContext, apply_change_set
from sync.schema import SCHEMA_VERSION
from sync.scope import ScopeContext

log = logging.getLogger(__name__)


def _technician(actor: Actor) -> uuid.UUID:
    if actor.role is not Role.TECHNICIAN or actor.technician_id is None:
        raise Forbidden("sync is for technicians with a technician profile")
    return actor.technician_id


def _check_cursor(cursor: int | None, watermark: int) -> int:
    cursor = cursor or 0
    if cursor < 0:
        raise ValidationFailed("last_pulled_at must be positive", errors={"query": {"last_pulled_at": ["negative"]}})
    if cursor > watermark:
        raise CursorFromTheFuture(
            f"last_pulled_at {cursor} is ahead of the server ({watermark}); it did not come from this server. "
            f"Reset the local database or pull with last_pulled_at=null.", server_timestamp=watermark)
    return cursor


def release_handovers(technician_id: uuid.UUID, cursor: int, unpushed: bool | None, now: datetime) -> int:
    """Let go of visits taken from this technician once their phone has them read-only and nothing unpushed.

    The phone shows it has applied the pull that delivered the change (its cursor is at or past that pull's),
    and then either says it has no unpushed changes (`unpushed=false`), or - when the app does not say -
    has pushed since, or a grace period has passed. Until then the visit stays on the phone, read-only.
    """
    grace = timedelta(hours=current_app.config["SYNC_HANDOVER_GRACE_HOURS"])
    released = 0
    handovers = db.session.scalars(sa.select(VisitHandover).where(
        VisitHandover.technician_id == technician_id, VisitHandover.completed_at.is_(None),
        VisitHandover.delivered_seq.is_not(None), VisitHandover.delivered_seq <= cursor)).all()
    for handover in handovers:
        if unpushed is True:
            continue
        if unpushed is None:
            pushed_since = db.session.scalar(sa.select(sa.func.count()).select_from(PushLog).where(
                PushLog.technician_id == technician_id, PushLog.last_pulled_at >= handover.delivered_seq))
            if not pushed_since and now - handover.released_at < grace:
                continue
        handover.completed_at = now
        released += 1
    return released


def _scope_context(technician_id: uuid.UUID, now: datetime) -> ScopeContext:
    config = current_app.config
    return ScopeContext(technician_id, now, config["SYNC_DAYS_AHEAD"], config["SYNC_DAYS_BEHIND"])


def ready_to_pull(actor: Actor, *, last_pulled_at: int | None, now: datetime | None = None) -> int | bool:
    """Whether `prepare_pull` has nothing to do: the scope is up to date for now and no visit taken from the
    technician waits to be let go. One statement, no lock, no write: the usual pull then reads its page in the
    same transaction (issue 13). On PostgreSQL the answer, when yes, is the pull's watermark (an int, for
    `pull(watermark=...)`), read in the same round trip as the check; else True or False."""
    technician_id = _technician(actor)
    session = db.session
    ctx, cursor = _scope_context(technician_id, now or utcnow()), last_pulled_at or 0
    if session.get_bind().dialect.name != "postgresql":
        return scope.up_to_date(session, ctx, cursor)
    rows, watermark = watermark_after(session, scope.up_to_date_sql(session, ctx, cursor), then=GENERIC_PLANS)
    return max(watermark, 1) if scope.ready_verdict(ctx, rows) else False


def prepare_pull(actor: Actor, *, last_pulled_at: int | None, unpushed: bool | None,
                 now: datetime | None = None) -> None:
    """Bring the technician's scope up to date before a pull: build it if it never was (or is stale), move
    its schedule window to now, then let go of released visits (their handovers complete, and the scope
    follows in the same flush, sync/scope.py). Its own transaction, holding only this technician's scope
    lock, and only while it writes, not while the page is read. Not needed when `ready_to_pull` says so."""
    now = now or utcnow()
    technician_id = _technician(actor)
    session = db.session
    cursor = _check_cursor(last_pulled_at, max(current_watermark(session), 1))
    ensure_counter_locked(session)  # a numbering writer from here (outside any savepoint)
    scope.prepare(session, _scope_context(technician_id, now))
    if release_handovers(technician_id, cursor, unpushed, now):
        session.flush()


def pull(actor: Actor, *, last_pulled_at: int | None, schema_version: int,
         page_size: int | None = None, created_as_updated: bool = False, watermark: int | None = None
         ) -> dict[str, Any]:
    """One page of the technician's changes since `last_pulled_at` (WatermelonDB's pullChanges result,
    plus `has_more`). Call prepare_pull first, in its own transaction. `watermark`: the one `ready_to_pull`
    read in this transaction (with the generic-plan setting), else read here."""
    technician_id = _technician(actor)
    if not 1 <= schema_version <= SCHEMA_VERSION:
        raise ValidationFailed(f"schema_version {schema_version} is not supported (this server: 1..{SCHEMA_VERSION})",
                               errors={"query": {"schema_version": ["unsupported"]}})
    config = current_app.config
    session = db.session
    # WatermelonDB needs a timestamp > 0; the page's statement keeps one plan (sync/pull.py GENERIC_PLANS)
    if watermark is None:
        watermark = max(current_watermark(session, then=GENERIC_PLANS), 1)
    cursor = _check_cursor(last_pulled_at, watermark)
    size = min(page_size or config["SYNC_PAGE_SIZE"], config["SYNC_PAGE_SIZE_MAX"])
    page = pull_page(session, technician_id, cursor, watermark, size, created_as_updated=created_as_updated)
    timestamp = max(page.cursor, 1)
    if page.visit_ids:
        for handover in session.scalars(sa.select(VisitHandover).where(
                VisitHandover.technician_id == technician_id, VisitHandover.completed_at.is_(None),
                VisitHandover.delivered_seq.is_(None), VisitHandover.visit_id.in_(page.visit_ids))):
            handover.delivered_seq = timestamp
    log.info("sync pull by technician %s: %d records after %s, cursor %d%s", technician_id, page.count, cursor,
             timestamp, " (more)" if page.has_more else "")
    return {"changes": page.changes, "timestamp": timestamp, "has_more": page.has_more}


def body_digest(raw: bytes) -> str:
    """The Idempotency-Key's digest: SHA-256 of the request body's bytes as received (issue 13 point 4), not of
    a re-serialisation (which costs a second encoding of up to SYNC_MAX_PUSH_BYTES and hides differences
    json.loads folds away, such as a duplicated key)."""
    return hashlib.sha256(raw).hexdigest()


def legacy_body_digest(body: Any) -> str:
    """The digest pushes stored before issue 13 kept: of the parsed body re-serialised with sorted keys. Only
    compared when a replayed key's stored digest is not the raw one (so old keys still replay)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def push(actor: Actor, *, idempotency_key: uuid.UUID, raw: bytes, last_pulled_at: int | None,
         now: datetime | None = None) -> tuple[dict[str, Any], bool]:
    """Apply a pushed change set once. Returns (response, replayed). `raw` is the request body as received
    (JSON: InvalidJsonBody, a 422, if not).

    The same key with the same bytes returns the stored answer and writes nothing; with other bytes it is a
    409. The whole change set is parsed and validated before any lock is taken (issue 13 point 4): malformed
    change sets are refused whole (422, 413) without waiting for other writers. Records breaking a rule are
    quarantined."""
    now = now or utcnow()
    technician_id = _technician(actor)
    session = db.session
    digest = body_digest(raw)
    try:
        change_set = read_change_set(raw, max_records=current_app.config["SYNC_MAX_PUSH_RECORDS"])
    except InvalidJsonBody:
        raise
    except DomainError:
        stored = _stored_push(session, idempotency_key)
        if stored is None:
            raise
        return _replay(stored, technician_id, digest, raw), True  # stored when the server still took it
    stored = _lock_or_replay(session, idempotency_key, last_pulled_at)
    if stored is not None:
        return _replay(stored, technician_id, digest, raw), True
    ctx = PushContext(session=session, actor=actor, idempotency_key=idempotency_key, received_at=now,
                      quarantine_limit=current_app.config.get("SYNC_QUARANTINE_MAX_OPEN"),
                      payload_limit=current_app.config.get("SYNC_QUARANTINE_MAX_PAYLOAD_BYTES"))
    apply_change_set(ctx, change_set)
    response = {"ok": True, "received_at": now.isoformat(), "accepted": ctx.accepted, "merged": ctx.merged,
                "rejected": sum(len(v) for v in ctx.rejected.values()), "rejected_ids": ctx.rejected}
    session.execute(sa.insert(PushLog.__table__), [{  # a Core insert: no ORM unit of work for a log row
        "idempotency_key": idempotency_key, "technician_id": technician_id, "request_sha256": digest,
        "last_pulled_at": last_pulled_at, "received_at": now, "status_code": 200, "response": response}])
    log.info("sync push by technician %s: %d accepted, %d merged, %d rejected", technician_id, ctx.accepted,
             ctx.merged, response["rejected"])
    return response, False


def _lock_or_replay(session: Any, key: uuid.UUID, last_pulled_at: int | None) -> Any:
    """The push of this key already stored (then nothing is locked or checked), or None once this transaction
    numbers changes (the counter lock, outside any savepoint: it orders this push against others) and the
    cursor is known not to be ahead of the server (no cursor, a first push, never is).

    PostgreSQL: the watermark, the floor (a shared lock: never waits) and the stored push in one round trip.
    SQLite: the stored push, the cursor, the counter row's lock (waits for the writer before), the stored push
    again (the same key committed while we waited)."""
    if session.get_bind().dialect.name == "postgresql":
        mark, rows = hold_floor_with(session, watermark=bool(last_pulled_at),
                                     then=literal_sql(session, _push_log_query(), {"key": key}))
        if rows:
            return rows[0]
        if last_pulled_at:
            _check_cursor(last_pulled_at, max(mark or 0, 1))
        return None
    stored = _stored_push(session, key)
    if stored is not None:
        return stored
    if last_pulled_at:
        _check_cursor(last_pulled_at, max(current_watermark(session), 1))
    ensure_counter_locked(session)
    return _stored_push(session, key)


@functools.cache
def _push_log_query() -> sa.Select[Any]:
    log_table = PushLog.__table__
    return sa.select(log_table.c.technician_id, log_table.c.request_sha256, log_table.c.response).where(
        log_table.c.idempotency_key == sa.bindparam("key", type_=sa.Uuid()))


def _stored_push(session: Any, key: uuid.UUID) -> Any:
    """The stored push of this Idempotency-Key (technician_id, request_sha256, response), or None: a plain row
    (straight from the driver on PostgreSQL), read on every push."""
    rows = rows_of(session, _push_log_query(), {"key": key})
    return rows[0] if rows else None


def _replay(stored: Any, technician_id: uuid.UUID, digest: str, raw: bytes) -> dict[str, Any]:
    """The stored answer of a push with this key: same technician, same bytes. A key stored before issue 13
    holds the digest of the re-serialised body; it is accepted too (same JSON content), computed only then."""
    same = stored.request_sha256 == digest
    if not same:
        try:
            same = stored.request_sha256 == legacy_body_digest(json.loads(raw))
        except (ValueError, RecursionError):
            same = False
    if stored.technician_id != technician_id or not same:
        raise IdempotencyKeyReused("this Idempotency-Key was already used for a different push; "
                                   "use a new key for new changes")
    return dict(stored.response)


def list_rejections(page: PageRequest, *, status: RejectionStatus | None = None,
                    technician_id: uuid.UUID | None = None, table_name: str | None = None) -> Page:
    stmt = sa.select(SyncRejection).order_by(SyncRejection.received_at.desc(), SyncRejection.id)
    if status:
        stmt = stmt.where(SyncRejection.status == status)
    if technician_id:
        stmt = stmt.where(SyncRejection.technician_id == technician_id)
    if table_name:
        stmt = stmt.where(SyncRejection.table_name == table_name)
    return paginate(stmt, page)


def resolve_rejection(actor: Actor, rejection_id: uuid.UUID, note: str, *, now: datetime | None = None) -> SyncRejection:
    """A dispatcher has dealt with a quarantined record (re-entered it, called the technician, ...)."""
    from fieldservice.audit import service as audit_service

    rejection = get_or_404(SyncRejection, rejection_id, "rejected change")
    if rejection.status is not RejectionStatus.OPEN:
        raise InvalidTransition(f"the rejected change is already {rejection.status.value}",
                                current_status=rejection.status.value, allowed_transitions=[])
    values = {"status": RejectionStatus.RESOLVED, "resolved_at": now or utcnow(), "resolved_by_id": actor.user_id,
              "resolution_note": note}
    if rejection.reason_code in UNROUTABLE_CODES:
        # never a change for a pull (sync/push.py quarantine_unroutable): resolved without a change number
        db.session.execute(sa.update(SyncRejection).where(SyncRejection.id == rejection.id).values(**values))
        db.session.refresh(rejection)
    else:
        for name, value in values.items():
            setattr(rejection, name, value)
    audit_service.record(actor, "sync_rejection.resolve", rejection, {"note": note})
    return rejection
