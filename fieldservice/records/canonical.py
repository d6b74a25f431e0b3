"""Canonical JSON: the exact bytes a customer's signature is bound to (see docs/signoffs.md)."""
from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

GENESIS_HASH = "0" * 64


def utc_z(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`; microseconds only when there are any."""
    text = value.astimezone(UTC).replace(tzinfo=None).isoformat()
    return text + "Z"


def normalise(value: Any) -> Any:
    """Plain JSON values: UUIDs and dates as strings, times in UTC with `Z`, integral floats as integers
    (JavaScript's JSON.stringify writes 2.0 as 2), tuples as lists."""
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v) for v in value]
    if isinstance(value, datetime):
        return utc_z(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def canonical_bytes(obj: Any) -> bytes:
    """UTF-8, keys sorted, no insignificant whitespace, non-ASCII written as is."""
    return json.dumps(normalise(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def canonical_sha256(obj: Any) -> str:
    return sha256_hex(canonical_bytes(obj))


def photo_ids_in(value: Any) -> list[str]:
    """Every photo id a record's content names (in `photo_ids` lists at any depth), in order."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "photo_ids" and isinstance(item, list):
                found.extend(str(i) for i in item)
            else:
                found.extend(photo_ids_in(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(photo_ids_in(item))
    return found
