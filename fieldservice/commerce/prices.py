"""Price lists (R-REP-8): versioned drafts, one published (current) list; parts, labour per hour, fees."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fieldservice.audit import service as audit_service
from fieldservice.auth.service import Actor
from fieldservice.commerce.errors import NoPublishedPriceList
from fieldservice.commerce.models import PriceList, PriceListItem, PriceListStatus
from fieldservice.common.lookup import get_or_404
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.db import utcnow
from fieldservice.errors import Conflict, InvalidTransition, ValidationFailed
from fieldservice.extensions import db


def _check_items(items: list[dict[str, Any]]) -> None:
    seen: set[tuple[str, str]] = set()
    for i, item in enumerate(items):
        key = (str(item["kind"]), item["code"])
        if key in seen:
            raise ValidationFailed(f"items[{i}]: {item['kind']} {item['code']!r} appears twice",
                                   errors={"json": {"items": {str(i): {"code": ["duplicate kind and code"]}}}})
        seen.add(key)


def create_price_list(actor: Actor, data: dict[str, Any]) -> PriceList:
    """A new draft with the next version number."""
    items = data.pop("items", [])
    _check_items(items)
    version = (db.session.scalar(sa.select(sa.func.max(PriceList.version))) or 0) + 1
    price_list = PriceList(version=version, status=PriceListStatus.DRAFT, **data)
    price_list.items = [PriceListItem(**item) for item in items]
    db.session.add(price_list)
    db.session.flush()
    audit_service.record(actor, "price_list.create", price_list, {"version": version, "items": len(items)})
    return price_list


def replace_items(actor: Actor, price_list_id: uuid.UUID, items: list[dict[str, Any]]) -> PriceList:
    """Only a draft's items change: a published list is what quotes were made from."""
    price_list = get_or_404(PriceList, price_list_id, "price list")
    if price_list.status is not PriceListStatus.DRAFT:
        raise Conflict(f"price list version {price_list.version} is {price_list.status.value}; "
                       "copy it into a new draft to change prices")
    _check_items(items)
    price_list.items.clear()
    db.session.flush()
    price_list.items.extend(PriceListItem(**item) for item in items)
    audit_service.record(actor, "price_list.items", price_list, {"items": len(items)})
    return price_list


def publish(actor: Actor, price_list_id: uuid.UUID, *, now: datetime | None = None) -> PriceList:
    """Make a draft the current list; the previously published one is retired (one current list)."""
    now = now or utcnow()
    price_list = get_or_404(PriceList, price_list_id, "price list")
    if price_list.status is not PriceListStatus.DRAFT:
        raise InvalidTransition(f"price list version {price_list.version} is {price_list.status.value}; "
                                "only a draft can be published")
    if not price_list.items:
        raise Conflict("an empty price list cannot be published")
    current = db.session.scalar(sa.select(PriceList).where(PriceList.status == PriceListStatus.PUBLISHED)
                                .with_for_update())
    if current is not None:
        current.status = PriceListStatus.RETIRED
        db.session.flush()  # the partial unique index allows one published list at a time
        audit_service.record(actor, "price_list.retire", current, {"replaced_by": price_list.id}, at=now)
    price_list.status, price_list.published_at, price_list.published_by_id = PriceListStatus.PUBLISHED, now, \
        actor.user_id
    db.session.flush()
    audit_service.record(actor, "price_list.publish", price_list, {"version": price_list.version}, at=now)
    return price_list


def current_price_list() -> PriceList:
    price_list = db.session.scalar(sa.select(PriceList).where(PriceList.status == PriceListStatus.PUBLISHED))
    if price_list is None:
        raise NoPublishedPriceList("no price list is published; the office publishes one before quotes are made")
    return price_list


def get_price_list(price_list_id: uuid.UUID | None) -> PriceList:
    """A list by id, or the current one."""
    return current_price_list() if price_list_id is None else get_or_404(PriceList, price_list_id, "price list")


def list_price_lists(page: PageRequest, *, status: PriceListStatus | None = None) -> Page:
    stmt = sa.select(PriceList).order_by(PriceList.version.desc())
    if status:
        stmt = stmt.where(PriceList.status == status)
    return paginate(stmt, page)
