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
