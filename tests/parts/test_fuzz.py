"""Property test: no body, however odd, makes a parts, complaint or KPI endpoint answer 5xx; refusals are
problems, and the ledger still equals the balances afterwards."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st

from fieldservice.extensions import db
from fieldservice.parts.models import StockBalance, StockMovement
from tests.fuzzing import probe_request, run_probes

scalars = (st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20) | st.uuids().map(str)
           | st.sampled_from(["2026-11-23", "2026-11-23T10:00:00+08:00", "SN-A", "restock", "supplier", "van",
                              "\x00", "压缩机"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=8)
KEYS = ["part_id", "location_id", "from_location_id", "to_location_id", "work_order_id", "visit_id", "quantity",
        "serial_numbers", "reason", "lines", "counted", "responsible_party", "outcome", "restock_location_id",
        "version", "channel", "description", "customer_id", "owner_user_id", "body", "resolution", "feedback"]


def mutate(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.dictionaries(st.sampled_from(KEYS + list(base)), json_values, max_size=3).map(
        lambda extra: {**base, **extra})


def test_parts_and_complaint_endpoints_never_fail_with_5xx(app: Flask, client: FlaskClient, stock, van_job,  # type: ignore[no-untyped-def]
                                                           headers) -> None:
    part = stock.part(serial_tracked=False)
    tracked = stock.part(serial_tracked=True)
    quarantine = stock.location("quarantine")
    stock.receive(part.id, van_job.van.id, 3)
    stock.receive(tracked.id, van_job.warehouse.id, 1, ["SN-A"])
    keeper = headers(role="parts_keeper")
    office = headers(role="office")
    defect = client.post("/api/v1/defective-returns", headers=keeper, json={
        "part_id": str(part.id), "work_order_id": str(van_job.job.order.id), "reason": "坏",
        "quarantine_location_id": str(quarantine.id)}).get_json()
    complaint = client.post("/api/v1/complaints", headers=office, json={
        "customer_id": str(van_job.job.order.customer_id), "channel": "phone", "description": "x"}).get_json()
    ids = {"part_id": str(part.id), "work_order_id": str(van_job.job.order.id)}
    probes: list[tuple[str, str, dict[str, str], st.SearchStrategy[Any]]] = [
        ("post", "/api/v1/stock-movements/issues", van_job.auth, mutate({**ids, "quantity": 1})),
        ("post", "/api/v1/stock-movements/issues", keeper,
         mutate({"part_id": str(tracked.id), "work_order_id": ids["work_order_id"],
                 "location_id": str(van_job.van.id), "quantity": 1, "serial_numbers": ["SN-A"]})),
        ("post", "/api/v1/stock-movements/transfers", keeper,
         mutate({"part_id": str(part.id), "from_location_id": str(van_job.van.id),
                 "to_location_id": str(van_job.warehouse.id), "quantity": 1})),
        ("post", "/api/v1/stock-movements/returns", van_job.auth,
         mutate({**ids, "location_id": str(van_job.van.id), "quantity": 1})),
        ("post", "/api/v1/stock-movements/adjustments", keeper,
         mutate({"part_id": str(part.id), "location_id": str(van_job.van.id), "quantity": -1, "reason": "r"})),
        ("post", "/api/v1/stock-counts", keeper,
         mutate({"location_id": str(van_job.van.id), "lines": [{"part_id": str(part.id), "counted": 2}]})),
        ("post", "/api/v1/parts", keeper, mutate({"part_number": "Z", "name": "z"})),
        ("post", f"/api/v1/defective-returns/{defect['id']}/assessment", keeper,
         mutate({"responsible_party": "supplier", "outcome": "restock"})),
        ("post", f"/api/v1/defective-returns/{defect['id']}/disposal", keeper,
         mutate({"restock_location_id": str(van_job.warehouse.id)})),
        ("post", "/api/v1/complaints", office, mutate({"customer_id": complaint["customer_id"], "channel": "email",
                                                       "description": "d"})),
        ("post", f"/api/v1/complaints/{complaint['id']}/contact-failed", office, mutate({"body": "b"})),
        ("put", f"/api/v1/complaints/{complaint['id']}/owner", office, mutate({"owner_user_id": str(uuid_zero())})),
    ]

    run_probes(client, probes, json_values, examples=250)
    for query in ("from=2026-13-01&to=x", "from=2026-01-01&to=2026-01-02&tz=%00", "technician_id=1"):
        probe_request(client, "get", f"/api/v1/kpis?{query}", None, office)
    with app.app_context():
        ledger = {(p, loc): n for p, loc, n in db.session.execute(sa.select(
            StockMovement.part_id, StockMovement.location_id, sa.func.sum(StockMovement.quantity))
            .group_by(StockMovement.part_id, StockMovement.location_id)).all()}
        balances = {(b.part_id, b.location_id): b.on_hand for b in db.session.scalars(sa.select(StockBalance))}
        assert {k: v for k, v in balances.items() if v} == {k: v for k, v in ledger.items() if v}
        assert all(v >= 0 for v in balances.values())


def uuid_zero() -> str:
    return "00000000-0000-0000-0000-000000000000"
