"""Asset (installed unit) use cases."""
from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta

from fieldservice.assets.models import Asset, AssetStatus
from fieldservice.audit import service as audit_service
from fieldservice.auth.service import Actor
from fieldservice.catalog.models import Product
from fieldservice.common.lookup import get_or_404, get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.common.search import contains
from fieldservice.contracts.models import SalesContract, SalesContractLine
from fieldservice.customers.models import Customer
from fieldservice.customers.service import site_ref
from fieldservice.db import utcnow
from fieldservice.errors import Conflict, InvalidTransition, ValidationFailed
from fieldservice.extensions import db
from fieldservice.maintenance import service as maintenance
from fieldservice.scoping import require_customer_visible, visible_customer_ids


def warranty_end_for(start: date, months: int) -> date:
    """Last day of a warranty of `months` months starting on `start` (month ends handled by dateutil)."""
    return start + relativedelta(months=months) - relativedelta(days=1)


def list_assets(actor: Actor, page: PageRequest, *, customer_id: uuid.UUID | None = None,
                site_id: uuid.UUID | None = None, product_id: uuid.UUID | None = None,
                serial_number: str | None = None) -> Page:
    stmt = sa.select(Asset).order_by(Asset.serial_number, Asset.id)
    visible = visible_customer_ids(actor)
    if visible is not None:
        stmt = stmt.where(Asset.customer_id.in_(visible))
    for column, value in ((Asset.customer_id, customer_id), (Asset.site_id, site_id), (Asset.product_id, product_id)):
        if value:
            stmt = stmt.where(column == value)
    if serial_number:
        stmt = stmt.where(contains(Asset.serial_number, serial_number.strip()))
    return paginate(stmt, page)


def get_asset(actor: Actor, asset_id: uuid.UUID) -> Asset:
    asset = get_or_404(Asset, asset_id, "asset")
    require_customer_visible(actor, asset.customer_id, f"asset {asset_id}")
    return asset


def _check_serial_free(product_id: uuid.UUID, serial: str, except_id: uuid.UUID | None = None) -> None:
    stmt = sa.select(Asset.id).where(Asset.product_id == product_id, Asset.serial_number == serial)
    existing = db.session.scalar(stmt)
    if existing is not None and existing != except_id:
        raise Conflict(f"an asset of this product with serial {serial!r} exists", existing_id=str(existing))


def _check_contract_line(line_id: uuid.UUID, customer_id: uuid.UUID, product_id: uuid.UUID) -> None:
    line = get_ref(SalesContractLine, line_id, "contract_line_id", "contract line")
    contract = db.session.get(SalesContract, line.contract_id)
    problems = {}
    if contract is None or contract.customer_id != customer_id:
        problems["contract_line_id"] = ["the contract belongs to another customer"]
    if line.product_id != product_id:
        problems["product_id"] = ["differs from the product on the contract line"]
    if problems:
        raise ValidationFailed("asset does not match its contract line", errors={"json": problems})


def create_asset(actor: Actor, data: dict[str, Any]) -> Asset:
    get_ref(Customer, data["customer_id"], "customer_id", "customer")
    site_ref(data["customer_id"], data["site_id"])
    product = get_ref(Product, data["product_id"], "product_id", "product")
    _check_serial_free(product.id, data["serial_number"])
    if data.get("contract_line_id"):
        _check_contract_line(data["contract_line_id"], data["customer_id"], product.id)
    if data.get("warranty_start") and not data.get("warranty_end"):
        data["warranty_end"] = warranty_end_for(data["warranty_start"], product.warranty_months)
    _check_dates(data)
    asset = Asset(**data)
    db.session.add(asset)
    db.session.flush()
    audit_service.record(actor, "asset.create", asset, {"serial_number": asset.serial_number})
    if asset.status is not AssetStatus.RETIRED:
        maintenance.asset_joined_contract(asset)  # plans covering the whole contract include it from today
    return asset


def update_asset(actor: Actor, asset_id: uuid.UUID, data: dict[str, Any]) -> Asset:
    asset = get_asset(actor, asset_id)
    if "site_id" in data:
        site_ref(asset.customer_id, data["site_id"])
    if "serial_number" in data:
        _check_serial_free(asset.product_id, data["serial_number"], except_id=asset.id)
    merged = {"warranty_start": asset.warranty_start, "warranty_end": asset.warranty_end, **data}
    _check_dates(merged)
    retiring = data.get("status") is AssetStatus.RETIRED and asset.status is not AssetStatus.RETIRED
    if asset.status is AssetStatus.RETIRED and data.get("status", AssetStatus.RETIRED) is not AssetStatus.RETIRED:
        raise InvalidTransition("a retired asset stays retired (its maintenance was stopped); register the unit "
                                "again if it returns to service", current_status=asset.status.value)
    if asset.status is AssetStatus.AWAITING_INSTALLATION and data.get("status") is AssetStatus.IN_SERVICE:
        raise InvalidTransition("a unit awaiting installation enters service through its signed installation "
                                "sheet (R-INS-6)", current_status=asset.status.value)
    diff = audit_service.changes(asset, data)
    if diff:
        audit_service.record(actor, "asset.update", asset, diff)
    if retiring:
        maintenance.stop_for_asset(actor, asset.id, "status set to retired")
    return asset


def put_in_service(actor: Actor, asset: Asset, changes: dict[str, Any], details: dict[str, Any],
                   *, today: date) -> Asset:
    """R-INS-6: an installed unit enters service through its signed installation sheet (records.service):
    `changes` (install and warranty dates; a serial the back office resolved) are applied and audited with
    `details`. A serial another unit of the product has is 409. Maintenance plans covering the unit generate
    its due dates from `today` on (maintenance.asset_joined_contract)."""
    if "serial_number" in changes:
        _check_serial_free(asset.product_id, changes["serial_number"], except_id=asset.id)
    entering = asset.status is not AssetStatus.IN_SERVICE
    diff = audit_service.changes(asset, {**changes, "status": AssetStatus.IN_SERVICE})
    if diff:
        audit_service.record(actor, "asset.update", asset, {**diff, **details})
    if entering:
        db.session.flush()
        maintenance.asset_joined_contract(asset, today=today)
    return asset


def retire_asset(actor: Actor, asset_id: uuid.UUID, reason: str) -> Asset:
    """Take a unit out of service for good (sold, scrapped, decommissioned). Its maintenance stops in the same
    transaction: single-asset plans are cancelled, its open occurrences in contract plans are cancelled with
    their visits and work orders, and generation never picks it again (R-MNT-4 keeps the history)."""
    asset = get_asset(actor, asset_id)
    if asset.status is AssetStatus.RETIRED:
        raise InvalidTransition("the asset is already retired", current_status=asset.status.value)
    asset.status = AssetStatus.RETIRED
    db.session.flush()
    cancelled = maintenance.stop_for_asset(actor, asset.id, reason, now=utcnow())
    audit_service.record(actor, "asset.retire", asset, {"reason": reason, "occurrences_cancelled": cancelled})
    return asset


def _check_dates(data: dict[str, Any]) -> None:
    start, end = data.get("warranty_start"), data.get("warranty_end")
    if start and end and end < start:
        raise ValidationFailed("warranty_end is before warranty_start",
                               errors={"json": {"warranty_end": ["before warranty_start"]}})
