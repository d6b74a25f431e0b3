"""Query-string values of the office pages, refused with the same 422 problem as the API's arguments."""
from __future__ import annotations

from datetime import date
from typing import overload

from flask import request, url_for

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


def safe_next(target: str | None) -> str:
    """Where to go back to after a login or a language switch: only a path of this site's office pages (no
    scheme, host, backslash or control characters such as CR/LF, which would split the Location header);
    anything else goes to the home page."""
    if (target and (target.startswith("/office/") or target == "/office") and not target.startswith("//")
            and "\\" not in target and target.isprintable() and len(target) <= 2000):
        return target
    return url_for("office.home")
