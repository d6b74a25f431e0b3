"""R-REP-4 on the stock path: parts issued from the van to a chargeable repair job need an accepted quote
covering them (API and sync push); free warranty repairs and non-repair jobs do not."""
from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import Flask

from fieldservice.extensions import db
from fieldservice.parts.models import StockBalance, StockMovement
from sync.models import SyncRejection
from tests.commerce.conftest import PART, line
from tests.factories import Factory


def on_hand(app: Flask, stock: SimpleNamespace) -> tuple[int, int]:
    """(balance row, issues in the ledger) for the van's part."""
    with app.app_context():
        balance = db.session.scalar(sa.select(StockBalance.on_hand).where(
            StockBalance.part_id == stock.part_id, StockBalance.location_id == stock.van_id))
        issues = db.session.scalar(sa.select(sa.func.count()).select_from(StockMovement).where(
            StockMovement.kind == "issue"))
        return int(balance or 0), int(issues or 0)


def issue(api: Callable[..., Any], job: SimpleNamespace, stock: SimpleNamespace, quantity: int) -> tuple[int, Any]:
    return api("post", "/api/v1/stock-movements/issues", job.tech_auth, json={
        "part_id": str(stock.part_id), "work_order_id": str(job.order.id), "visit_id": str(job.visit.id),
        "quantity": quantity})


def test_parts_on_a_chargeable_repair_need_an_accepted_quote(app: Flask, api, job, stock_van, quote_for, consent) -> None:  # type: ignore[no-untyped-def]
    stock = stock_van(job.technician.id, boards=())
    status, body = issue(api, job, stock, 1)
    assert status == 409 and body["type"].endswith("consent_required") and body["reason"] == "parts_not_quoted"
    assert PART in body["detail"] and "R-REP-4" in body["detail"]
    assert on_hand(app, stock) == (5, 0)                       # nothing left the van, nothing in the ledger
    quote = quote_for(job, [line("part", PART, 2)])
    status, body = issue(api, job, stock, 1)                   # presented, not yet accepted: still refused
    assert status == 409 and body["reason"] == "parts_not_quoted"
    assert consent(job, quote)[0] == 201
    assert issue(api, job, stock, 2)[0] == 201                 # the two quoted bearings
    status, body = issue(api, job, stock, 1)                   # a third one is more than the customer agreed to
    assert status == 409 and "2 already issued" in body["detail"]
    assert on_hand(app, stock) == (3, 1)


def test_a_declined_quote_covers_nothing(app: Flask, api, job, stock_van, quote_for, consent) -> None:  # type: ignore[no-untyped-def]
    stock = stock_van(job.technician.id, boards=())
    quote = quote_for(job, [line("part", PART, 1)])
    assert consent(job, quote, "declined")[0] == 201
    assert issue(api, job, stock, 1)[0] == 409
    assert on_hand(app, stock) == (5, 0)


def test_free_warranty_repairs_and_maintenance_jobs_need_no_quote(app: Flask, api, job, stock_van, make: Factory,  # type: ignore[no-untyped-def]
                                                                  headers) -> None:
    stock = stock_van(job.technician.id, boards=())
    make.warranty_repair(job.order.id)
    assert issue(api, job, stock, 1)[0] == 201
    maintenance = make.work_order(customer_id=job.customer.id, site_id=job.site.id, product_id=job.product.id,
                                  kind="maintenance")
    visit = make.visit(maintenance.id, technician_id=job.technician.id,
                       start=job.visit.scheduled_end + (job.visit.scheduled_end - job.visit.scheduled_start))
    routine = SimpleNamespace(order=maintenance, visit=visit, tech_auth=job.tech_auth)
    assert issue(api, routine, stock, 1)[0] == 201
    assert on_hand(app, stock) == (3, 2)


def test_sync_push_of_unquoted_parts_is_quarantined(app: Flask, job, stock_van, phone_for, quote_for, consent) -> None:  # type: ignore[no-untyped-def]
    stock = stock_van(job.technician.id, boards=())
    phone = phone_for(job.technician)
    phone.sync()
    base = {"part_id": str(stock.part_id), "work_order_id": str(job.order.id), "visit_id": str(job.visit.id)}
    unquoted = phone.create("stock_movements", quantity=-1, **base)
    result = phone.sync()
    assert result["rejected"] == 1, result
    with app.app_context():
        [rejection] = db.session.scalars(sa.select(SyncRejection)).all()
        assert (str(rejection.record_id), rejection.reason_code) == (unquoted, "consent_required")
        assert "R-REP-4" in rejection.reason
    assert on_hand(app, stock) == (5, 0)
    phone.sync()
    assert phone.get("stock_movements", unquoted)["sync_status"] == "rejected"
    # once the customer has accepted a quote for the part, the same use pushed again is taken
    assert consent(job, quote_for(job, [line("part", PART, 1)]))[0] == 201
    phone.sync()
    again = phone.create("stock_movements", quantity=-1, **base)
    assert phone.sync()["accepted"] >= 1
    assert on_hand(app, stock) == (4, 1)
    phone.sync()
    assert phone.get("stock_movements", again)["sync_status"] == "synced"
