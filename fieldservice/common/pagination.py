"""Offset pagination with a total, and `sort`, for list endpoints."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fieldservice.errors import ValidationFailed
from fieldservice.extensions import db

# columns a list may never be sorted by (the order would leak what they hold)
_UNSORTABLE = re.compile(r"hash|token|secret|password|signature|png|strokes")


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    page_size: int = 50
    sort: tuple[str, ...] = ()
    """Field names, `-name` for descending, applied before the list's own order (which breaks ties)."""

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass
class Page:
    items: list[Any]
    page: int
    page_size: int
    total: int

    @property
    def pages(self) -> int:
        return (self.total + self.page_size - 1) // self.page_size if self.page_size else 0


def sortable_columns(entity: Any) -> dict[str, Any]:
    """The columns of a listed model a client may sort by: plain values, nothing secret."""
    mapper = sa.inspect(entity, raiseerr=False)
    if mapper is None or not hasattr(mapper, "column_attrs"):
        return {}
    return {attr.key: attr.columns[0] for attr in mapper.column_attrs
            if len(attr.columns) == 1 and not _UNSORTABLE.search(attr.key)
            and not isinstance(attr.columns[0].type, (sa.JSON, sa.LargeBinary))}


def apply_sort(stmt: sa.Select[Any], sort: tuple[str, ...]) -> sa.Select[Any]:
    """Put the requested order first; the statement's own ORDER BY stays as the tie-breaker. An unknown
    field is a 422 naming the fields that can be used."""
    if not sort:
        return stmt
    entity = stmt.column_descriptions[0].get("entity") if len(stmt.column_descriptions) == 1 else None
    if entity is not None:
        columns = sortable_columns(entity)
    else:  # a select of named columns (a search result row)
        columns = {c.key: c for c in stmt.selected_columns if c.key and not _UNSORTABLE.search(c.key)}
    unknown = [name.lstrip("-") for name in sort if name.lstrip("-") not in columns]
    if unknown:
        raise ValidationFailed(f"cannot sort by {', '.join(unknown)}; use one of: {', '.join(sorted(columns))}",
                               errors={"query": {"sort": [f"unknown field: {', '.join(unknown)}"]}})
    keys = [columns[name[1:]].desc() if name.startswith("-") else columns[name].asc() for name in sort]
    own = list(stmt._order_by_clauses)  # noqa: SLF001 - SQLAlchemy has no public accessor
    return stmt.order_by(None).order_by(*keys, *own)


def paginate(stmt: sa.Select[Any], request: PageRequest) -> Page:
    """Run `stmt` for one page. The statement must have a deterministic ORDER BY."""
    stmt = apply_sort(stmt, request.sort)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = list(db.session.scalars(stmt.limit(request.page_size).offset(request.offset)))
    return Page(items=items, page=request.page, page_size=request.page_size, total=total)
