"""R-KPI-1 repair success rate (维修成功率): repair work orders signed in the range that were never sent back
to rework and had no new repair on the same asset within 30 days, over all repair work orders signed in
the range; per technician by the visit that last completed the work. Expected values are worked out in
the comments; the facts (`signed_at`, `rework_count`) are set by the real sign-off path in the last tests."""
from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.kpi import service as kpi
from fieldservice.lifecycle.guard import historical_import
from fieldservice.visits.models import Visit, VisitStatus
from fieldservice.workorders.models import WorkOrder, WorkOrderStatus
from tests.factories import Factory
from tests.records.conftest import ACCEPTED, create_record, finish_visit, sign


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


RANGE = (date(2026, 11, 1), date(2026, 11, 30))


class Shop:
    """One customer, site and product; technicians A and B certified for it; assets made on demand."""

    def __init__(self, app: Flask, make: Factory) -> None:
        self.app, self.make = app, make
        self.line = make.product_line()
        self.product = make.product(self.line.id)
        self.customer = make.customer()
        self.site = make.site(self.customer.id)
        self.a = make.technician(name="技师甲 A", certified_for=[self.line.id])
        self.b = make.technician(name="技师乙 B", certified_for=[self.line.id])

    def asset(self) -> SimpleNamespace:
        return self.make.asset(self.customer.id, self.site.id, self.product.id)

    def order(self, asset: SimpleNamespace | None, *, created: datetime, kind: str = "repair",
              status: WorkOrderStatus = WorkOrderStatus.CLOSED, signed: datetime | None = None, rework: int = 0,
              visits: tuple[tuple[SimpleNamespace, datetime, bool], ...] = ()) -> uuid.UUID:
        """A work order with its facts as the sign-off path leaves them, and its attended visits
        (technician, departure, work complete)."""
        order = self.make.work_order(kind=kind, customer_id=self.customer.id, site_id=self.site.id,
                                     product_id=self.product.id, asset_id=asset.id if asset else None)
        made = [(self.make.visit(order.id, start=departed - timedelta(hours=2), technician_id=tech.id).id,
                 departed, complete) for tech, departed, complete in visits]
        with self.app.app_context(), unit_of_work(), historical_import(db.session):
            row = db.session.get(WorkOrder, order.id)
            row.created_at, row.status, row.signed_at, row.rework_count = created, status, signed, rework
            for visit_id, departed, complete in made:
                visit = db.session.get(Visit, visit_id)
                visit.status, visit.arrived_at, visit.departed_at = VisitStatus.COMPLETED, departed - timedelta(hours=1), departed
                visit.work_complete = complete
            # as the sign-off records it: the technician of the visit that last completed the work
            completing = [(departed, tech.id) for tech, departed, complete in visits if complete]
            row.signed_technician_id = max(completing)[1] if signed and completing else None
        return order.id


@pytest.fixture
def shop(app: Flask, make: Factory) -> Shop:
    s = Shop(app, make)
    a, b = s.a, s.b
    x, y, z, w, v, u = (s.asset() for _ in range(6))
    # A: WO1 signed 11-10, nothing after                                        -> success
    s.order(x, created=at(9), signed=at(10), visits=((a, at(10, 9), True),))
    # A: WO2 sent back to rework once, then signed                               -> failure
    s.order(y, created=at(9), signed=at(12), rework=1, visits=((a, at(11), True), (a, at(12, 9), True)))
    # A: WO3 signed 11-14; a new repair on the same asset 26 days later (open)   -> failure
    s.order(z, created=at(13), signed=at(14), visits=((a, at(14, 9), True),))
    s.order(z, created=at(10, month=12), status=WorkOrderStatus.NEW)
    # A: WO5 signed 11-15 10:00; the next repair on its asset 31 days later      -> success
    s.order(w, created=at(14), signed=at(15), visits=((a, at(15, 9), True),))
    s.order(w, created=at(16, 11, month=12), status=WorkOrderStatus.NEW)
    # A: WO7 signed 11-16; a repair on its asset 4 days later, but cancelled     -> success
    s.order(v, created=at(15), signed=at(16), visits=((a, at(16, 9), True),))
    s.order(v, created=at(20), status=WorkOrderStatus.CANCELLED)
    # A: WO10 signed 11-18; a maintenance job on its asset the next day          -> success
    s.order(u, created=at(17), signed=at(18), visits=((a, at(18, 9), True),))
    s.order(u, created=at(19), kind="maintenance", status=WorkOrderStatus.NEW)
    # A: WO12 without an asset, signed 11-20                                     -> success
    s.order(None, created=at(19), signed=at(20), visits=((a, at(20, 9), True),))
    # not counted: a maintenance job signed in range, a repair signed in October, an unsigned repair
    s.order(s.asset(), created=at(16), kind="maintenance", signed=at(17), visits=((a, at(17, 9), True),))
    s.order(s.asset(), created=at(30, month=10), signed=at(31, 23, month=10), visits=((a, at(31, 22, month=10), True),))
    s.order(s.asset(), created=at(20), status=WorkOrderStatus.WORK_COMPLETE, visits=((a, at(21), True),))
    # B: WO13 first completed by A, rejected, completed again by B and signed    -> failure, B's
    s.order(s.asset(), created=at(18), signed=at(21), rework=1, visits=((a, at(19), True), (b, at(21, 9), True)))
    # B: WO14 signed 11-22                                                       -> success
    s.order(s.asset(), created=at(21), signed=at(22), visits=((b, at(22, 9), True),))
    return s


def test_repair_success_rate_overall_and_per_technician(app: Flask, shop: Shop) -> None:
    with app.app_context():
        report = kpi.compute_kpis(*RANGE, tz="UTC")
    by_tech = {t["technician_id"]: t["kpis"]["repair_success_rate"] for t in report["technicians"]}
    a, b, overall = by_tech[shop.a.id], by_tech[shop.b.id], report["overall"]["repair_success_rate"]
    # A: WO1, WO5, WO7, WO10, WO12 of WO1, WO2, WO3, WO5, WO7, WO10, WO12 = 5/7; B: WO14 of WO13, WO14 = 1/2
    assert (a["numerator"], a["denominator"]) == (5, 7) and a["value"] == round(5 / 7, 4)
    assert (b["numerator"], b["denominator"]) == (1, 2) and b["value"] == 0.5
    assert (overall["numerator"], overall["denominator"]) == (6, 9) and overall["value"] == round(6 / 9, 4)
    # DOMAIN.md R-KPI-1 names no target for this figure: none is shown
    assert overall["target"] is None and overall["meets_target"] is None
    assert "repair_success_rate" not in report["targets"] and "返修" in report["definitions"]["repair_success_rate"]


def test_range_edges_and_technician_filter(app: Flask, shop: Shop) -> None:
    with app.app_context():
        october = kpi.compute_kpis(date(2026, 10, 1), date(2026, 10, 31), tz="UTC")
        # in Shanghai time the October 31 23:00 UTC signing falls on November 1
        shanghai = kpi.compute_kpis(*RANGE, tz="Asia/Shanghai")
        only_b = kpi.compute_kpis(*RANGE, technician_id=shop.b.id, tz="UTC")
        statement = kpi.repair_success_query(kpi.day_range(*RANGE, "UTC"), shop.b.id)
        rows = db.session.execute(statement).all()
    assert (october["overall"]["repair_success_rate"]["numerator"],
            october["overall"]["repair_success_rate"]["denominator"]) == (1, 1)
    assert shanghai["overall"]["repair_success_rate"]["denominator"] == 10
    assert [t["technician_id"] for t in only_b["technicians"]] == [shop.b.id]
    assert only_b["technicians"][0]["kpis"]["repair_success_rate"]["value"] == 0.5
    assert [(r.technician_id, r.denominator, r.numerator) for r in rows] == [(shop.b.id, 2, 1)]


def test_endpoint_and_office_page_show_it(client: FlaskClient, shop: Shop, headers) -> None:  # type: ignore[no-untyped-def]
    office = headers(role="office")
    body = client.get("/api/v1/kpis?from=2026-11-01&to=2026-11-30&tz=UTC", headers=office).get_json()
    assert body["overall"]["repair_success_rate"]["value"] == round(6 / 9, 4)
    assert "repair_success_rate" in body["definitions"]
    page = client.get("/office/kpis?from=2026-11-01&to=2026-11-30", headers=office)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "维修成功率" in html
    assert client.get("/api/v1/kpis?from=2026-11-01&to=2026-11-30", headers=headers(role="technician")).status_code == 403


# ---- the facts, set by the real sign-off path (R-REP-7) ---------------------------------------------

def repair_job(make: Factory) -> SimpleNamespace:
    """A repair work order with one visit assigned to a certified technician who has a login (as in
    tests/records/conftest.py)."""
    line = make.product_line()
    product = make.product(line.id)
    tech = make.technician(certified_for=[line.id])
    order = make.work_order(kind="repair", product_id=product.id)
    visit = make.visit(order.id, technician_id=tech.id)
    return SimpleNamespace(order=order, visit=visit, technician=tech,
                           auth={"Authorization": f"Bearer {make.token(tech.user_id)}"})


def test_sign_off_sets_the_facts_and_the_figure_follows(app: Flask, client: FlaskClient, make: Factory) -> None:
    accepted, rejected = repair_job(make), repair_job(make)
    record = create_record(client, accepted, "work_order_acceptance", ACCEPTED)
    repair_record = finish_visit(client, accepted)
    assert repair_record is not None and sign(client, accepted, repair_record["id"]).status_code == 201  # R-REP-5
    assert sign(client, accepted, record["id"]).status_code == 201
    record = create_record(client, rejected, "work_order_acceptance",
                           {"outcome": "rejected", "rejection_reason": "还是漏水 still leaking"})
    finish_visit(client, rejected)
    assert sign(client, rejected, record["id"]).status_code == 201

    with app.app_context():
        facts = {o.id: (o.status, o.signed_at is not None, o.rework_count, o.signed_technician_id) for o in db.session.scalars(
            sa.select(WorkOrder).where(WorkOrder.id.in_([accepted.order.id, rejected.order.id])))}
        today = datetime.now(UTC).date()
        report = kpi.compute_kpis(today - timedelta(days=1), today + timedelta(days=1), tz="UTC")
    assert facts[accepted.order.id] == (WorkOrderStatus.SIGNED, True, 0, accepted.technician.id)
    assert facts[rejected.order.id] == (WorkOrderStatus.REWORK, False, 1, None)
    # only the signed one counts, and it succeeded (no rework, no repeat) for its technician
    figure = report["overall"]["repair_success_rate"]
    assert (figure["numerator"], figure["denominator"]) == (1, 1)
    [tech] = [t for t in report["technicians"] if t["kpis"]["repair_success_rate"]["denominator"]]
    assert tech["technician_id"] == accepted.technician.id


def test_repeat_repair_fact_follows_new_and_cancelled_repairs(app: Flask, make: Factory) -> None:
    """kpi/facts.py: opening a repair on the asset within 30 days marks the signed one as repeated;
    cancelling that repair clears the mark again (through the real work-order services)."""
    from fieldservice.auth.service import SYSTEM
    from fieldservice.workorders import service as workorders
    from fieldservice.workorders.models import WorkOrderKind

    s = Shop(app, make)
    asset = s.asset()
    now = datetime.now(UTC)
    signed_id = s.order(asset, created=now - timedelta(days=11), signed=now - timedelta(days=10),
                        visits=((s.a, now - timedelta(days=10, hours=1), True),))

    def fact() -> datetime | None:
        with app.app_context():
            return db.session.get(WorkOrder, signed_id).repeat_repair_at

    assert fact() is None
    maintenance = make.work_order(kind="maintenance", customer_id=s.customer.id, site_id=s.site.id,
                                  product_id=s.product.id, asset_id=asset.id)
    assert fact() is None                                      # a maintenance job is not a repeat repair
    with app.app_context(), unit_of_work():
        again = workorders.create_work_order(SYSTEM, {
            "kind": WorkOrderKind.REPAIR, "customer_id": s.customer.id, "site_id": s.site.id,
            "product_id": s.product.id, "asset_id": asset.id, "summary": "又坏了 broken again"})
        again_id, again_created = again.id, again.created_at
    assert fact() == again_created
    with app.app_context(), unit_of_work():
        workorders.change_status(SYSTEM, again_id, WorkOrderStatus.CANCELLED, reason="重复报修 duplicate")
    assert fact() is None
    with app.app_context():
        report = kpi.compute_kpis((now - timedelta(days=11)).date(), now.date(), tz="UTC")
    figure = report["overall"]["repair_success_rate"]
    assert (figure["numerator"], figure["denominator"]) == (1, 1) and maintenance.id
