"""Fixtures for maintenance plans: an installed asset at a Shanghai site, and service-call helpers."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.maintenance import service
from tests.factories import Factory, snapshot


@pytest.fixture
def equipment(make: Factory) -> SimpleNamespace:
    customer = make.customer()
    site = make.site(customer.id, timezone="Asia/Shanghai")
    line = make.product_line()
    product = make.product(line.id)
    asset = make.asset(customer.id, site.id, product.id)
    return SimpleNamespace(customer=customer, site=site, line=line, product=product, asset=asset)


@pytest.fixture
def new_plan(app: Flask, equipment: SimpleNamespace) -> Callable[..., SimpleNamespace]:
    def build(*, today: date, **data: Any) -> SimpleNamespace:
        values = {"asset_id": equipment.asset.id, "name": "季度保养 quarterly service",
                  "items": [{"task": "Clean filters", "checklist": ["filter A", "filter B"]}], **data}
        with app.app_context(), unit_of_work():
            return snapshot(service.create_plan(SYSTEM, values, today=today))

    return build


@pytest.fixture
def generate(app: Flask) -> Callable[..., dict[str, int]]:
    def run(today: date, horizon_days: int = 30) -> dict[str, int]:
        with app.app_context(), unit_of_work():
            return service.generate_due_occurrences(today, horizon_days).as_dict()

    return run


@pytest.fixture
def occurrences(app: Flask) -> Callable[..., list[SimpleNamespace]]:
    import sqlalchemy as sa

    from fieldservice.extensions import db
    from fieldservice.maintenance.models import MaintenanceOccurrence

    def load(plan_id: Any = None) -> list[SimpleNamespace]:
        with app.app_context():
            stmt = sa.select(MaintenanceOccurrence).order_by(MaintenanceOccurrence.due_on)
            if plan_id:
                stmt = stmt.where(MaintenanceOccurrence.plan_id == plan_id)
            return [snapshot(o) for o in db.session.scalars(stmt)]

    return load


@pytest.fixture
def contract_equipment(make: Factory, equipment: SimpleNamespace) -> SimpleNamespace:
    """A sales contract of the `equipment` customer with three units on it, at two sites (Shanghai, UTC+8, and
    Urumqi, UTC+6), plus the customer's `equipment.asset`, which is not on the contract."""
    from fieldservice.contracts import service as contracts

    contract = make._run(lambda: contracts.create_contract(SYSTEM, {
        "number": f"HT-{equipment.customer.id.hex[:8]}", "customer_id": equipment.customer.id,
        "signed_on": date(2026, 1, 10), "lines": [{"product_id": equipment.product.id, "quantity": 3,
                                                    "unit_price_minor": 12_000_00, "sale_date": date(2026, 1, 10)}]}))
    with make.app.app_context():
        from fieldservice.contracts.models import SalesContractLine
        from fieldservice.extensions import db

        line_id = db.session.scalar(sa.select(SalesContractLine.id).where(SalesContractLine.contract_id == contract.id))
    west = make.site(equipment.customer.id, timezone="Asia/Urumqi")
    units = [make.asset(equipment.customer.id, site.id, equipment.product.id, contract_line_id=line_id)
             for site in (equipment.site, equipment.site, west)]
    return SimpleNamespace(contract=contract, line_id=line_id, units=units, west=west, **vars(equipment))


@pytest.fixture
def new_contract_plan(app: Flask, contract_equipment: SimpleNamespace) -> Callable[..., SimpleNamespace]:
    def build(*, today: date, **data: Any) -> SimpleNamespace:
        values = {"contract_id": contract_equipment.contract.id, "name": "合同保养 contract service",
                  "items": [{"task": "Inspect", "checklist": []}], **data}
        with app.app_context(), unit_of_work():
            return snapshot(service.create_plan(SYSTEM, values, today=today))

    return build
