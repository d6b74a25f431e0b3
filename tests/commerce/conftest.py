"""Commerce fixtures: a published price list, a repair job on an asset, and HTTP helpers."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from tests.factories import Factory, snapshot
from tests.sync.conftest import phone_for  # noqa: F401  (a phone for the technician)

PART, LABOUR, FEE = "P-100", "LAB-STD", "FEE-ONSITE"
BOARD = "P-200"          # serial-tracked in the catalog (the `van` fixture)
ITEMS = [
    {"kind": "part", "code": PART, "name": "主轴轴承 spindle bearing", "unit": "each", "unit_price_minor": 10_000},
    {"kind": "part", "code": "P-200", "name": "控制板 control board", "unit": "each", "unit_price_minor": 50_000},
    {"kind": "labour", "code": LABOUR, "name": "人工 labour per hour", "unit": "hour", "unit_price_minor": 20_000},
    {"kind": "fee", "code": FEE, "name": "上门费 on-site fee", "unit": "visit", "unit_price_minor": 15_000},
]


@pytest.fixture
def price_list(app: Flask) -> SimpleNamespace:
    """A published price list (CNY, minor units = fen)."""
    from fieldservice.commerce import prices

    with app.app_context(), unit_of_work():
        draft = prices.create_price_list(SYSTEM, {"name": "2026 价目表", "currency": "CNY", "items": [dict(i) for i in ITEMS]})
        return snapshot(prices.publish(SYSTEM, draft.id))


@pytest.fixture
def job(make: Factory, price_list: SimpleNamespace) -> SimpleNamespace:
    """A dispatched repair job on an installed asset whose warranty ran out (out of warranty by default)."""
    line = make.product_line()
    product = make.product(line.id)
    tech = make.technician(certified_for=[line.id])
    customer = make.customer("上海精密机械有限公司", email="service@example.cn")
    site = make.site(customer.id)
    asset = make.asset(customer.id, site.id, product.id, install_date=date(2023, 1, 10),
                       warranty_start=date(2023, 1, 10), warranty_end=date(2024, 1, 9))
    order = make.work_order(customer_id=customer.id, site_id=site.id, product_id=product.id, asset_id=asset.id)
    visit = make.visit(order.id, technician_id=tech.id)
    return SimpleNamespace(order=order, visit=visit, technician=tech, product=product, customer=customer,
                           site=site, asset=asset, line=line,
                           tech_auth={"Authorization": f"Bearer {make.token(tech.user_id)}"})


@pytest.fixture
def stock_van(app: Flask) -> Callable[..., SimpleNamespace]:
    """`stock_van(technician_id, bearings=5, boards=("CB-1", "CB-2"))`: the price list's parts as catalog parts
    (R-REP-6: P-100 a bearing, P-200 a serial-tracked control board) in the technician's van. Returns the
    part and van ids (`part_id` is the bearing's)."""
    from fieldservice.parts import service as parts
    from fieldservice.parts.models import LocationKind, Part

    def build(technician_id: Any, bearings: int = 5, boards: tuple[str, ...] = ("CB-1", "CB-2")) -> SimpleNamespace:
        with app.app_context(), unit_of_work():
            ids = {}
            for number, name, tracked in ((PART, "主轴轴承 spindle bearing", False), (BOARD, "控制板 control board", True)):
                ids[number] = db.session.scalar(sa.select(Part.id).where(Part.part_number == number)) or parts.create_part(SYSTEM, {
                    "part_number": number, "name": name, "is_approved": True, "unit_cost_minor": 6000,
                    "currency": "CNY", "safety_stock": 0, "serial_tracked": tracked}).id
            van = parts.create_location(SYSTEM, {"code": f"VAN-{uuid.uuid4().hex[:6]}", "name": "王师傅的车",
                                                 "kind": LocationKind.VAN, "technician_id": technician_id})
            if bearings:
                parts.receive_stock(SYSTEM, {"part_id": ids[PART], "location_id": van.id, "quantity": bearings})
            if boards:
                parts.receive_stock(SYSTEM, {"part_id": ids[BOARD], "location_id": van.id, "quantity": len(boards),
                                             "serial_numbers": list(boards)})
            return SimpleNamespace(part_id=ids[PART], board_id=ids[BOARD], van_id=van.id)

    return build


@pytest.fixture
def van(job: SimpleNamespace, stock_van: Callable[..., SimpleNamespace]) -> SimpleNamespace:
    """The job technician's van: 5 bearings (P-100) and the control boards CB-1, CB-2 (P-200)."""
    return stock_van(job.technician.id)


@pytest.fixture
def api(client: FlaskClient) -> Callable[..., Any]:
    """`api(method, url, auth, json=...)` -> (status, body); asserts problem+json on any 4xx."""

    def call(method: str, url: str, auth: dict[str, str] | None = None, **kwargs: Any) -> tuple[int, Any]:
        response = client.open(url, method=method.upper(), headers=auth or {}, **kwargs)
        if response.status_code >= 400:
            assert response.mimetype == "application/problem+json", response.get_data(as_text=True)
            assert response.status_code < 500, response.get_data(as_text=True)
        return response.status_code, response.get_json(silent=True)

    return call


def line(kind: str, code: str, quantity: float | str = 1, unit_price_minor: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": kind, "code": code, "quantity": quantity}
    if unit_price_minor is not None:
        data["unit_price_minor"] = unit_price_minor
    return data


@pytest.fixture
def quote_for(api: Callable[..., Any], headers: Callable[..., dict[str, str]]) -> Callable[..., dict[str, Any]]:
    """Create (and by default present) a quote for a job as the job's technician; returns the quote JSON."""

    def build(job: SimpleNamespace, lines: list[dict[str, Any]], *, present: bool = True,
              **extra: Any) -> dict[str, Any]:
        status, body = api("post", "/api/v1/quotes", job.tech_auth,
                           json={"work_order_id": str(job.order.id), "lines": lines, **extra})
        assert status == 201, body
        if present:
            status, body = api("post", f"/api/v1/quotes/{body['id']}/present", job.tech_auth)
            assert status == 200, body
        return body

    return build


@pytest.fixture
def consent(api: Callable[..., Any]) -> Callable[..., tuple[int, Any]]:
    """The customer decides on the technician's device, with the hash the server's canonical JSON has."""

    def decide(job: SimpleNamespace, quote: dict[str, Any], decision: str = "accepted",
               sha: str | None = None) -> tuple[int, Any]:
        status, canon = api("get", f"/api/v1/quotes/{quote['id']}/canonical", job.tech_auth)
        assert status == 200
        return api("post", f"/api/v1/quotes/{quote['id']}/consent", job.tech_auth, json={
            "decision": decision, "content_sha256": sha or canon["content_sha256"], "signer_name": "王经理",
            "visit_id": str(job.visit.id), "device_id": "phone-7", "device_time": "2026-11-23T09:30:00+08:00"})

    return decide


def charge(job: SimpleNamespace, kind: str, code: str, quantity: float = 1, **extra: Any) -> dict[str, Any]:
    return {"id": str(uuid.uuid4()), "visit_id": str(job.visit.id), "kind": kind, "code": code,
            "quantity": quantity, **extra}


# ---- returned units (R-RET-1/2/3): shared by the API tests and the office-page tests ----------------

DELIVERED = date(2026, 11, 2)   # the unit's warranty start (installation); 12 months of warranty
# R-RET-1: the tests' report days lie before the job's creation (today), so the office gives evidence
COURIER_RECEIPT = {"kind": "courier_receipt", "reference": "SF1402938475"}


@pytest.fixture
def unit(make: Factory) -> Callable[..., SimpleNamespace]:
    """A customer's unit delivered on DELIVERED, a return job for it with a visit (for photos)."""

    def build(customer_name: str = "杭州精工科技有限公司") -> SimpleNamespace:
        line = make.product_line()
        product = make.product(line.id, name="高速冷冻离心机")
        tech = make.technician(certified_for=[line.id])
        customer = make.customer(customer_name)
        site = make.site(customer.id)
        asset = make.asset(customer.id, site.id, product.id, install_date=DELIVERED, warranty_start=DELIVERED,
                           warranty_end=date(2027, 11, 1))
        order = make.work_order(customer_id=customer.id, site_id=site.id, product_id=product.id, asset_id=asset.id)
        visit = make.visit(order.id, technician_id=tech.id)
        return SimpleNamespace(order=order, visit=visit, asset=asset, customer=customer, product=product,
                               auth={"Authorization": f"Bearer {make.token(tech.user_id)}"})

    return build


@pytest.fixture
def office(headers: Callable[..., dict[str, str]]) -> dict[str, str]:
    return headers(role="office")
