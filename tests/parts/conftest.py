"""Parts fixtures: a warehouse, a technician with a van and a job, catalog parts (through the services)."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.parts import service
from fieldservice.parts.models import LocationKind
from tests.factories import Factory, snapshot


class Stock:
    def __init__(self, app: Flask, make: Factory) -> None:
        self.app, self.make = app, make
        self._n = 0

    def _run(self, fn: Any) -> SimpleNamespace:
        with self.app.app_context(), unit_of_work():
            result = fn()
            return [snapshot(x) for x in result] if isinstance(result, list) else snapshot(result)

    def part(self, **extra: Any) -> SimpleNamespace:
        self._n += 1
        data = {"part_number": f"P-{self._n:04d}", "name": f"密封圈 seal {self._n}", "is_approved": True,
                "unit_cost_minor": 1000, "currency": "CNY", "safety_stock": 0, "serial_tracked": False, **extra}
        return self._run(lambda: service.create_part(SYSTEM, data))

    def location(self, kind: str = "warehouse", technician_id: Any = None, **extra: Any) -> SimpleNamespace:
        self._n += 1
        data = {"code": f"L-{self._n:04d}", "name": f"仓库 {self._n}", "kind": LocationKind(kind),
                "technician_id": technician_id, **extra}
        return self._run(lambda: service.create_location(SYSTEM, data))

    def receive(self, part_id: Any, location_id: Any, quantity: int, serials: list[str] | None = None) -> Any:
        return self._run(lambda: service.receive_stock(SYSTEM, {"part_id": part_id, "location_id": location_id,
                                                                "quantity": quantity, "serial_numbers": serials}))

    def transfer(self, part_id: Any, src: Any, dst: Any, quantity: int, serials: list[str] | None = None) -> Any:
        return self._run(lambda: service.transfer_stock(SYSTEM, {
            "part_id": part_id, "from_location_id": src, "to_location_id": dst, "quantity": quantity,
            "serial_numbers": serials}))

    def on_hand(self, part_id: Any, location_id: Any) -> tuple[int, int]:
        """(balance row, ledger sum): the two must always agree."""
        import sqlalchemy as sa

        from fieldservice.extensions import db
        from fieldservice.parts.models import StockBalance

        with self.app.app_context():
            balance = db.session.scalar(sa.select(StockBalance.on_hand).where(
                StockBalance.part_id == part_id, StockBalance.location_id == location_id)) or 0
            return balance, service.ledger_on_hand(part_id, location_id)


@pytest.fixture
def stock(app: Flask, make: Factory) -> Stock:
    return Stock(app, make)


@pytest.fixture
def van_job(make: Factory, stock: Stock) -> SimpleNamespace:
    """A dispatched warranty repair job whose technician has a van; a warehouse; the technician's bearer header."""
    job = make.dispatched_job()
    make.warranty_repair(job.order.id)   # free warranty repair: no quote needed for its parts (R-REP-4/8)
    van = stock.location("van", technician_id=job.technician.id)
    warehouse = stock.location("warehouse")
    auth = {"Authorization": f"Bearer {make.token(job.technician.user_id)}"}
    return SimpleNamespace(job=job, van=van, warehouse=warehouse, auth=auth, technician=job.technician)
