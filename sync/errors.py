"""Sync-specific errors (all DomainErrors, so the one handler maps them to problem responses)."""
from __future__ import annotations

from fieldservice.errors import Conflict, DomainError


class PushTooLarge(DomainError):
    status, code, title = 413, "push_too_large", "Push too large"


class IdempotencyKeyReused(Conflict):
    code, title = "idempotency_key_reused", "Idempotency-Key reused with a different body"


class CursorFromTheFuture(DomainError):
    status, code, title = 422, "cursor_from_the_future", "Cursor from the future"


class ReadOnlyTable(DomainError):
    status, code, title = 403, "read_only_table", "Read-only table"


class QuarantineFull(DomainError):
    """The technician's quarantine holds SYNC_QUARANTINE_MAX_OPEN open records: a dispatcher must review them
    (GET /api/v1/sync/rejections) before more refused records are kept. Nothing of the push is applied."""

    status, code, title = 429, "quarantine_full", "Too many refused records awaiting review"
    headers = {"Retry-After": "3600"}
