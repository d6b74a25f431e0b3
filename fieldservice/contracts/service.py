"""Sales contract use cases."""
from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa

from fieldservice.audit import service as audit_service
from fieldservice.auth.service import Actor
from fieldservice.catalog.models import Product
from fieldservice.common.lookup import get_or_404, get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.common.search import contains
from fieldservice.contracts.models import ContractStatus, SalesContract, SalesContractLine
from fieldservice.customers.models import Customer
from fieldservice.db import utcnow
from fieldservice.errors import Conflict, InvalidTransition, ValidationFailed
from fieldservice.extensions import db
from fieldservice.maintenance import service as maintenance
from fieldservice.scoping import require_customer_visible, visible_customer_ids


def list_contracts(actor: Actor, page: PageRequest, *, customer_id: uuid.UUID | None = None,
                   number: str | None = None, serial_number: str | None = None) -> Page:
    stmt = sa.select(SalesContract).order_by(SalesContract.signed_on.desc(), SalesContract.id)
    visible = visible_customer_ids(actor)
    if visible is not None:
        stmt = stmt.where(SalesContract.customer_id.in_(visible))
    if customer_id:
        stmt = stmt.where(SalesContract.customer_id == customer_id)
    if number:
        stmt = stmt.where(contains(SalesContract.number, number.strip()))
    if serial_number:
        stmt = stmt.where(SalesContract.id.in_(
            sa.select(SalesContractLine.contract_id).where(SalesContractLine.serial_number == serial_number.strip())))
    return paginate(stmt, page)


def get_contract(actor: Actor, contract_id: uuid.UUID) -> SalesContract:
    contract = get_or_404(SalesContract, contract_id, "contract")
    require_customer_visible(actor, contract.customer_id, f"contract {contract_id}")
    return contract


def _line(data: dict[str, Any], position: int) -> SalesContractLine:
    get_ref(Product, data["product_id"], "product_id", "product")
    shipped, made = data.get("ship_date"), data.get("production_date")
    if shipped and made and shipped < made:
        raise ValidationFailed("ship_date is before production_date",
                               errors={"json": {"ship_date": ["before production_date"]}})
    data.setdefault("position", position)
    return SalesContractLine(**data)


def create_contract(actor: Actor, data: dict[str, Any]) -> SalesContract:
    get_ref(Customer, data["customer_id"], "customer_id", "customer")
    if db.session.scalar(sa.select(SalesContract.id).where(SalesContract.number == data["number"])):
        raise Conflict(f"contract number {data['number']!r} exists")
    lines = data.pop("lines", [])
    contract = SalesContract(**data)
    contract.lines = [_line(line, i) for i, line in enumerate(lines, start=1)]
    db.session.add(contract)
    db.session.flush()
    audit_service.record(actor, "contract.create", contract, {"number": contract.number, "lines": len(lines)})
    return contract


def update_contract(actor: Actor, contract_id: uuid.UUID, data: dict[str, Any]) -> SalesContract:
    contract = get_contract(actor, contract_id)
    if "number" in data and data["number"] != contract.number and db.session.scalar(
            sa.select(SalesContract.id).where(SalesContract.number == data["number"])):
        raise Conflict(f"contract number {data['number']!r} exists")
    diff = audit_service.changes(contract, data)
    if diff:
        audit_service.record(actor, "contract.update", contract, diff)
    return contract


def add_line(actor: Actor, contract_id: uuid.UUID, data: dict[str, Any]) -> SalesContractLine:
    contract = get_contract(actor, contract_id)
    line = _line(data, len(contract.lines) + 1)
    contract.lines.append(line)
    db.session.flush()
    audit_service.record(actor, "contract.line_add", contract, {"line_id": line.id, "serial": line.serial_number})
    return line


def update_line(actor: Actor, line_id: uuid.UUID, data: dict[str, Any]) -> SalesContractLine:
    line = get_or_404(SalesContractLine, line_id, "contract line")
    get_contract(actor, line.contract_id)
    if "product_id" in data:
        get_ref(Product, data["product_id"], "product_id", "product")
    diff = audit_service.changes(line, data)
    if diff:
        audit_service.record(actor, "contract.line_update", line.contract, {"line_id": line.id, **diff})
    return line


def end_contract(actor: Actor, contract_id: uuid.UUID, *, status: ContractStatus, reason: str,
                 ended_on: date | None = None) -> SalesContract:
    """End (on `ended_on`, default today) or cancel a contract. Its contract maintenance plans follow in the
    same transaction: ended, they stop after that day; cancelled, they are cancelled; open occurrences past
    the end are cancelled with their visits and work orders (no stale statuses)."""
    if status is ContractStatus.ACTIVE:
        raise ValidationFailed("status must be ended or cancelled", errors={"json": {"status": ["ended or cancelled"]}})
    contract = get_contract(actor, contract_id)
    if contract.status is not ContractStatus.ACTIVE:
        raise InvalidTransition(f"the contract is already {contract.status.value}",
                                current_status=contract.status.value)
    day = ended_on or utcnow().date()
    if day < contract.signed_on:
        raise ValidationFailed("ended_on is before the contract was signed",
                               errors={"json": {"ended_on": ["before signed_on"]}})
    contract.status, contract.ended_on, contract.end_reason = status, day, reason
    db.session.flush()
    cancelled = maintenance.end_contract_plans(actor, contract)
    audit_service.record(actor, "contract.end", contract, {"status": status.value, "ended_on": day.isoformat(),
                                                           "reason": reason, "occurrences_cancelled": cancelled})
    return contract
