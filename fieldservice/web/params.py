"""Query-string values of the office pages, refused with the same 422 problem as the API's arguments."""
from __future__ import annotations

from datetime import date
from typing import overload

from flask import request

from fieldservice.errors import ValidationFailed


@overload
def query_day(name: str) -> date | None: ...
@overload
def query_day(name: str, default: date) -> date: ...


def query_day(name: str, default: date | None = None) -> date | None:
    """`?name=YYYY-MM-DD` as a date; `default` when absent or empty; 422 when it is not a date."""
    raw = request.args.get(name)
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{name}: a date YYYY-MM-DD", errors={"query": {name: ["not a date"]}}) from None
