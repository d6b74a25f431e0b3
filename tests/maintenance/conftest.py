"""Fixtures for maintenance plans: an installed asset at a Shanghai site, and service-call helpers."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
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
