"""Search pickers of the office forms: a search box next to a select whose options come from here as the
person types (htmx), or from the same search submitted with the form when there is no JavaScript. The
lists use the domains' own list functions, so a caller sees only what they may see."""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, render_template, request

from fieldservice.assets import service as assets
from fieldservice.auth.decorators import BACK_OFFICE, current_actor
from fieldservice.catalog import service as catalog
from fieldservice.common.pagination import PageRequest
from fieldservice.customers import service as customers
from fieldservice.extensions import db
from fieldservice.web.auth import office_page

bp = Blueprint("pickers", __name__, url_prefix="/office/pick")

LIMIT = PageRequest(page=1, page_size=30)


def _uuid(name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.args.get(name, ""))
    except ValueError:
        return None


def customer_options(q: str | None) -> list[tuple[str, str]]:
    return [(str(c.id), f"{c.name}" + (f" · {c.phone}" if c.phone else ""))
            for c in customers.list_customers(current_actor(), LIMIT, q=q or None, is_active=True).items]


def asset_options(q: str | None, customer_id: uuid.UUID | None = None) -> list[tuple[str, str]]:
    """Units by serial number, or the units of customers whose name or phone matches `q`."""
    actor = current_actor()
    found = {a.id: a for a in assets.list_assets(actor, LIMIT, customer_id=customer_id, serial_number=q or None).items}
    if q and customer_id is None:
        for customer in customers.list_customers(actor, PageRequest(page=1, page_size=5), q=q).items:
            for unit in assets.list_assets(actor, LIMIT, customer_id=customer.id).items:
                found.setdefault(unit.id, unit)
    return [(str(a.id), f"{a.serial_number} · {a.product.name} · {a.customer.name}") for a in found.values()]


def site_options(customer_id: uuid.UUID | None) -> list[tuple[str, str]]:
    if customer_id is None:
        return []
    return [(str(s.id), f"{s.name} · {s.address}")
            for s in customers.list_sites(current_actor(), LIMIT, customer_id=customer_id).items]


def contract_units(contract_id: uuid.UUID | None) -> list[tuple[str, str]]:
    """The units delivered on a contract (a contract plan's units to choose from)."""
    if contract_id is None:
        return []
    from fieldservice.assets.models import Asset
    from fieldservice.contracts.models import SalesContractLine

    units = db.session.scalars(sa.select(Asset).join(SalesContractLine, SalesContractLine.id == Asset.contract_line_id)
                               .where(SalesContractLine.contract_id == contract_id).order_by(Asset.serial_number))
    return [(str(a.id), f"{a.serial_number} · {a.product.name}") for a in units]


def product_options(q: str | None) -> list[tuple[str, str]]:
    return [(str(p.id), f"{p.name} ({p.model_code})") for p in catalog.list_products(LIMIT, q=q or None).items]


@bp.get("/<kind>")
@office_page(*BACK_OFFICE)
def pick(kind: str) -> Any:
    """`<option>`s for the select next to a search box: customers, assets, sites (of `customer_id`), products."""
    q = next((v for k, v in request.args.items() if (k == "q" or k.endswith("_q")) and v.strip()), "").strip()[:100]
    options = {"customers": lambda: customer_options(q),
               "assets": lambda: asset_options(q, _uuid("customer_id")),
               "sites": lambda: site_options(_uuid("customer_id")),
               "products": lambda: product_options(q)}.get(kind)
    if kind == "contract-units":
        return render_template("office/_unit_checks.html", units=contract_units(_uuid("contract_id")),
                               chosen=request.args.getlist("asset_ids"))
    if options is None:
        return "", 404
    return render_template("office/_options.html", options=options(), selected=request.args.get("selected", ""),
                           blank=request.args.get("blank") == "1")
