"""Office page for the parts keeper (R-PRT-1): stock on hand per part and location with the parts below their
safety stock first, the reorder notifications, the latest ledger lines, and the forms to receive goods and to
transfer stock (e.g. warehouse to a technician's van), through parts.service as the JSON API does."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_babel import gettext

from fieldservice.auth.decorators import current_actor
from fieldservice.auth.models import Role
from fieldservice.common.pagination import PageRequest
from fieldservice.extensions import db
from fieldservice.notifications import service as notifications
from fieldservice.parts import service
from fieldservice.parts.models import Part
from fieldservice.parts.schemas import ReceiveSchema, TransferSchema
from fieldservice.web import forms
from fieldservice.web.auth import office_page
from fieldservice.web.pages import Tile, home_tile

bp = Blueprint("stock_pages", __name__, url_prefix="/office/stock")

STOCK = service.STOCK_STAFF
REORDER = "parts.reorder"


def _serials() -> list[str] | None:
    raw = forms.text("serial_numbers")
    return [s for s in raw.replace(",", " ").split() if s] if raw else None


def _body(*names: str) -> dict[str, Any]:
    body: dict[str, Any] = {name: value for name in names if (value := forms.text(name)) is not None}
    if "quantity" in body:
        body["quantity"] = int(body["quantity"]) if body["quantity"].isdigit() else body["quantity"]
    if _serials():
        body["serial_numbers"] = _serials()
    return body


def _page(*, refusal: forms.Refusal | None = None, failed: str | None = None, status: int = 200) -> Any:
    actor = current_actor()
    balances = service.list_balances(actor, PageRequest(page=1, page_size=500)).items
    parts = {p.id: p for p in db.session.scalars(sa.select(Part).order_by(Part.part_number))}
    locations = {loc.id: loc for loc in service.list_locations(actor, PageRequest(page=1, page_size=200)).items}
    balances.sort(key=lambda b: (not b.below_safety, locations[b.location_id].code if b.location_id in locations else "",
                                 parts[b.part_id].part_number if b.part_id in parts else ""))
    reorders = notifications.list_notifications(PageRequest(page=1, page_size=20), kind=REORDER).items
    movements = service.list_movements(actor, PageRequest(page=1, page_size=30)).items
    return make_response(render_template(
        "office/stock.html", balances=balances, parts=parts, locations=locations, reorders=reorders,
        movements=movements, refusal=refusal, failed=failed, values=request.form, saved=request.args.get("saved")),
        status)


@bp.get("")
@office_page(*STOCK)
def stock() -> Any:
    """Stock on hand (below safety stock first), reorders, the latest movements, receive and transfer."""
    return _page()


def _after(form: str, refusal: forms.Refusal | None) -> Any:
    if refusal is not None:
        return _page(refusal=refusal, failed=form, status=refusal.status)
    return redirect(url_for(".stock", saved=form), code=303)


@bp.post("/receipts")
@office_page(*STOCK)
def receive() -> Any:
    """Goods in from a supplier (parts.service.receive_stock)."""
    _, refusal = forms.attempt(lambda: service.receive_stock(current_actor(), ReceiveSchema().load(
        _body("part_id", "location_id", "quantity", "reason"))))
    return _after("receipt", refusal)


@bp.post("/transfers")
@office_page(*STOCK)
def transfer() -> Any:
    """Move stock between locations, e.g. to a technician's van (parts.service.transfer_stock)."""
    _, refusal = forms.attempt(lambda: service.transfer_stock(current_actor(), TransferSchema().load(
        _body("part_id", "from_location_id", "to_location_id", "quantity", "reason"))))
    return _after("transfer", refusal)


@home_tile(Role.PARTS_KEEPER, Role.ADMIN, order=35)
def _stock_tiles(actor: Any) -> list[Tile]:
    low = service.list_balances(actor, PageRequest(page=1, page_size=1), below_safety=True)
    return [Tile(gettext("Parts below safety stock"), low.total, url_for("stock_pages.stock"), alert=True)]
