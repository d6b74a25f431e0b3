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

    @ma.post_load
    def _page(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        size = data.pop("page_size", None) or current_app.config["PAGE_SIZE_DEFAULT"]
        data["page_request"] = PageRequest(page=data.pop("page"), page_size=min(size, current_app.config["PAGE_SIZE_MAX"]))
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
