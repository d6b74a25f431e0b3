"""Offset pagination with a total, for list endpoints."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from fieldservice.extensions import db


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    page_size: int = 50

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


def paginate(stmt: sa.Select[Any], request: PageRequest) -> Page:
    """Run `stmt` for one page. The statement must have a deterministic ORDER BY."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0
    items = list(db.session.scalars(stmt.limit(request.page_size).offset(request.offset)))
    return Page(items=items, page=request.page, page_size=request.page_size, total=total)
