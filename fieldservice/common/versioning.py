"""Optimistic locking of edits made from a stale screen (the `version` a client read)."""
from __future__ import annotations

from typing import Any

from fieldservice.errors import StaleVersion


def check_version(record: Any, expected: int | None) -> None:
    """409 stale_version when someone changed `record` since the client read version `expected`."""
    if expected is not None and expected != record.version:
        raise StaleVersion(f"version {expected} is stale; the current version is {record.version}",
                           current_version=record.version)
