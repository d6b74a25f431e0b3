"""Schema building blocks: strict input, pagination envelopes, aware datetimes."""
from __future__ import annotations

import re
from functools import cache
from typing import Any

import marshmallow as ma
from flask import current_app
from marshmallow import fields, validate

from fieldservice.common.pagination import PageRequest


class StrictSchema(ma.Schema):
    """Input schema: unknown fields are an error (the default in marshmallow 4, stated for readers)."""

    class Meta:
        unknown = ma.RAISE


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _no_control_characters(value: str) -> None:
    """NUL and other C0 controls (except tab and newlines) are never valid text, and PostgreSQL refuses NUL."""
    if CONTROL_CHARACTERS.search(value):
        raise ma.ValidationError("contains control characters")


def _not_blank(value: str) -> None:
    """A required text of only spaces (ASCII or full-width) names nobody and says nothing (R-INS-1)."""
    if not value.strip():
        raise ma.ValidationError("must not be blank")


def text(max_length: int, *, required: bool = False, allow_none: bool = False, **kwargs: Any) -> fields.String:
    """A string with a length bound that matches its column; required strings that are empty or only
    whitespace are refused."""
    checks: list[Any] = [validate.Length(min=1 if required else 0, max=max_length), _no_control_characters]
    if required:
        checks.append(_not_blank)
    return fields.String(required=required, allow_none=allow_none, validate=checks, **kwargs)


def aware_datetime(**kwargs: Any) -> fields.AwareDateTime:
    """ISO 8601 with an offset; naive times are refused (every time here is timezone-aware)."""
    return fields.AwareDateTime(format="iso", **kwargs)


def money_minor(**kwargs: Any) -> fields.Integer:
    """Money in integer minor units (fen/cents)."""
    return fields.Integer(strict=True, validate=validate.Range(min=0, max=10**12), **kwargs)


def currency(**kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Regexp(r"^[A-Z]{3}$", error="ISO 4217 code, e.g. CNY"), **kwargs)


class PageArgsSchema(StrictSchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    page_size = fields.Integer(load_default=None, validate=validate.Range(min=1, max=1000),
                               metadata={"description": "Items per page (default 50, max 200)"})
    sort = fields.String(validate=validate.Regexp(r"^-?[a-z][a-z0-9_]{0,59}(,-?[a-z][a-z0-9_]{0,59}){0,4}$",
                                                  error="comma-separated field names, `-name` for descending"),
                         metadata={"description": "Order by these fields of the listed items, e.g. "
                                                  "`-created_at,number` (`-` descending); the list's own order "
                                                  "breaks ties. An unknown field is a 422 naming the usable ones."})

    @ma.post_load
    def _page(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        size = data.pop("page_size", None) or current_app.config["PAGE_SIZE_DEFAULT"]
        sort = tuple(data.pop("sort", "").split(",")) if data.get("sort") else ()
        data.pop("sort", None)
        data["page_request"] = PageRequest(page=data.pop("page"), page_size=min(size, current_app.config["PAGE_SIZE_MAX"]),
                                           sort=sort)
        return data


class TimeRangeArgs:
    """Query mixin: the one spelling of a time range, `from` (inclusive) and `to` (exclusive), ISO 8601 with an
    offset. `RANGE` names the service's keywords they fill; the older names of each list (e.g. created_from)
    still work and are documented as deprecated (fieldservice/common/openapi.py DEPRECATED_PARAMETERS)."""

    RANGE: tuple[str, str] = ("from_", "to")
    from_ = aware_datetime(data_key="from", metadata={"description": "From this time on (inclusive)"})
    to = aware_datetime(metadata={"description": "Before this time (exclusive)"})

    @ma.post_load
    def _time_range(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        for new, old in zip(("from_", "to"), self.RANGE, strict=True):
            if new in data and old != new:
                if data.get(old) is not None:
                    raise ma.ValidationError(f"give `{'from' if new == 'from_' else new}` or the deprecated "
                                             f"`{old}`, not both", new)
                data[old] = data.pop(new)
        return data


class PageMetaSchema(ma.Schema):
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer()
    pages = fields.Integer()


@cache
def page_of(item_schema: type[ma.Schema]) -> type[ma.Schema]:
    """An envelope `{items: [...], meta: {page, page_size, total, pages}}` for a list endpoint."""

    name = item_schema.__name__.removesuffix("Schema") + "PageSchema"

    def meta(page: Any) -> dict[str, int]:
        return {"page": page.page, "page_size": page.page_size, "total": page.total, "pages": page.pages}

    return type(name, (ma.Schema,), {
        "items": fields.List(fields.Nested(item_schema)),
        "meta": fields.Function(meta, metadata={"type": "object"}),
    })
