"""Two technicians' requests issue the last unit at once: exactly one succeeds (PostgreSQL, real HTTP)."""
from __future__ import annotations

import threading

import pytest
import requests
import sqlalchemy as sa
from flask import Flask

from fieldservice.extensions import db
from fieldservice.parts.models import StockBalance, StockMovement
from tests.factories import Factory


@pytest.mark.postgres
def test_concurrent_issue_of_the_last_unit(app: Flask, make: Factory, stock, van_job, live_url: str) -> None:  # type: ignore[no-untyped-def]
    part = stock.part()
    stock.receive(part.id, van_job.van.id, 1)
    # a second job for the same technician, so the two requests are independent work orders
    second = make.work_order(product_id=van_job.job.product.id)
    make.warranty_repair(second.id)
    make.visit(second.id, technician_id=van_job.technician.id,
               start=van_job.job.visit.scheduled_start + (van_job.job.visit.scheduled_end
                                                          - van_job.job.visit.scheduled_start) * 2)
    barrier = threading.Barrier(2)
    results: list[requests.Response] = []

    def worker(order_id: object) -> None:
        barrier.wait()
        results.append(requests.post(f"{live_url}/api/v1/stock-movements/issues", headers=van_job.auth, timeout=30,
                                     json={"part_id": str(part.id), "work_order_id": str(order_id), "quantity": 1}))

    threads = [threading.Thread(target=worker, args=(o,)) for o in (van_job.job.order.id, second.id)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201, 409], [r.text for r in results]
    refused = next(r for r in results if r.status_code == 409)
    assert refused.headers["Content-Type"].startswith("application/problem+json")
    assert refused.json()["type"] == "/problems/insufficient_stock"
    assert stock.on_hand(part.id, van_job.van.id) == (0, 0)
    with app.app_context():
        issues = db.session.scalars(sa.select(StockMovement).where(StockMovement.kind == "issue")).all()
        assert len(issues) == 1 and issues[0].quantity == -1


@pytest.mark.postgres
def test_balance_check_constraint_backs_the_rule(app: Flask, stock, van_job) -> None:  # type: ignore[no-untyped-def]
    """Even a path that skipped the service check cannot store a negative balance."""
    part = stock.part()
    stock.receive(part.id, van_job.van.id, 1)
    with app.app_context():
        with pytest.raises(sa.exc.IntegrityError):
            db.session.execute(sa.update(StockBalance).where(StockBalance.part_id == part.id)
                               .values(on_hand=-1))
            db.session.flush()
        db.session.rollback()
