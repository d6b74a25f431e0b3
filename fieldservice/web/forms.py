"""What every office form needs: run one service call in one unit of work, and turn a refusal into something
the page shows in place (its reason in the page's language, the rule id the gate or the service gives, each
unmet condition of a lifecycle refusal, the fields at fault). No rules here: the services decide."""
from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import request

from fieldservice.db import unit_of_work
from fieldservice.errors import DomainError, ValidationFailed
from fieldservice.web import words
from fieldservice.web.i18n import zone_of

T = TypeVar("T")
RULE_IN_TEXT = ("R-TEC-1", "R-REP-2", "R-REP-4", "R-REP-8", "R-SIG-2", "R-CMP-1", "R-MNT-2")


@dataclass
class Condition:
    code: str
    rule: str | None
    text: str
    message: str
    overridable_by: list[str] = field(default_factory=list)


@dataclass
class Refusal:
    """A refused request as a page shows it: `status` is the HTTP status the page answers with."""

    status: int
    code: str
    text: str
    rule: str | None
    detail: str
    conditions: list[Condition] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


def _messages(messages: Any) -> dict[str, str]:
    if not isinstance(messages, Mapping):
        return {"form": "; ".join(map(str, messages)) if isinstance(messages, list) else str(messages)}
    out = {}
    for name, value in messages.items():
        if isinstance(value, Mapping) and name in ("json", "form", "query"):
            out.update(_messages(value))
        else:
            out[str(name)] = "; ".join(map(str, value)) if isinstance(value, list) else str(value)
    return out


def _rule_of(err: DomainError) -> str | None:
    if err.code in words.RULES:
        return words.RULES[err.code]
    return next((rule for rule in RULE_IN_TEXT if rule in err.detail), None)


def refusal(err: Exception) -> Refusal:
    """A marshmallow or domain error as the page shows it."""
    if isinstance(err, ma.ValidationError):
        return Refusal(422, "validation_failed", words.word("refusal", "validation_failed"), None,
                       "", fields=_messages(err.messages))
    assert isinstance(err, DomainError)
    conditions = [Condition(code=c.get("code", ""), rule=c.get("rule"), text=words.word("refusal", c.get("code")),
                            message=c.get("message", ""), overridable_by=list(c.get("overridable_by") or []))
                  for c in err.extra.get("unmet_conditions") or []]
    fields = _messages(err.extra.get("errors") or {})
    return Refusal(err.status, err.code, words.word("refusal", err.code), _rule_of(err), err.detail,
                   conditions=conditions, fields=fields)


def error_page(err: DomainError) -> tuple[str, int]:
    """A page that cannot be shown (not found, not the caller's): the reason in the page's language."""
    from flask import render_template

    return render_template("office/error.html", status=err.status, title=err.title, message=refusal(err).text,
                           detail=err.detail), err.status


def attempt(action: Callable[[], T]) -> tuple[T | None, Refusal | None]:
    """Run `action` (one service call) in one unit of work: (its result, None), or (None, the refusal) after a
    rollback."""
    try:
        with unit_of_work():
            return action(), None
    except (ma.ValidationError, DomainError) as err:
        return None, refusal(err)


# ---- reading form fields ---------------------------------------------------------------------------

def text(name: str) -> str | None:
    value = (request.form.get(name) or "").strip()
    return value or None


def _refuse(name: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{name}: {message}", errors={"form": {name: [message]}})


def required_text(name: str) -> str:
    value = text(name)
    if value is None:
        raise _refuse(name, "required")
    return value


def uuid_field(name: str, *, required: bool = False) -> uuid.UUID | None:
    """A UUID form field; blank is None (or a 422 naming the field when required), not a UUID is a 422."""
    raw = required_text(name) if required else text(name)
    if raw is None:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise _refuse(name, "not a valid choice") from None


def uuid_or_none(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw or "")
    except ValueError:
        return None


def int_field(name: str) -> int | None:
    raw = text(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise _refuse(name, "a whole number") from None


def day_and_time(day_name: str, time_name: str, zone: str | ZoneInfo | None = None) -> datetime:
    """A date field and a time field (wall time in `zone`) as an aware datetime."""
    try:
        day = date.fromisoformat(text(day_name) or "")
    except ValueError:
        raise _refuse(day_name, "a date") from None
    try:
        at = time.fromisoformat(text(time_name) or "")
    except ValueError:
        raise _refuse(time_name, "a time") from None
    tz = zone if isinstance(zone, ZoneInfo) else zone_of(zone)
    return datetime.combine(day, at, tz)


def page_number() -> int:
    """`?page=` of a list page (1 when absent or not a number)."""
    try:
        return max(1, min(int(request.args.get("page", "1")), 1_000_000))
    except ValueError:
        return 1


def done_or_refused(refusal: Refusal | None, show: Callable[[Refusal], Any], target: str) -> Any:
    """After a form: the refusal shown in place (with its status), else a redirect (303) to `target`."""
    if refusal is not None:
        return show(refusal)
    from flask import redirect

    return redirect(target, code=303)


def wants_fragment() -> bool:
    """An htmx request swaps a part of the page; a plain form post gets the whole page (or a redirect)."""
    return request.headers.get("HX-Request") == "true"
