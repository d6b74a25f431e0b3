"""Parts and stock over the API: catalog, ledger, issues to jobs from the van (R-PRT-1, R-REP-6)."""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.extensions import db
from fieldservice.notifications.models import Notification
from tests.factories import Factory

PROBLEM = "application/problem+json"


def issue(client: FlaskClient, auth: dict[str, str], part_id: object, order_id: object, quantity: int = 1,
          **extra: object):
    return client.post("/api/v1/stock-movements/issues", headers=auth, json={
        "part_id": str(part_id), "work_order_id": str(order_id), "quantity": quantity, **extra})


def test_catalog_part_number_unique_and_chinese_name(client: FlaskClient, headers) -> None:  # type: ignore[no-untyped-def]
    auth = headers(role="parts_keeper")
    body = {"part_number": "PN-001", "name": "压缩机 compressor", "unit_cost_minor": 125000, "currency": "CNY",
            "safety_stock": 2, "serial_tracked": True}
    created = client.post("/api/v1/parts", json=body, headers=auth)
    assert created.status_code == 201
    assert created.get_json()["name"] == "压缩机 compressor" and created.get_json()["is_approved"] is True
    again = client.post("/api/v1/parts", json=body, headers=auth)
    assert again.status_code == 409 and again.mimetype == PROBLEM
    listed = client.get("/api/v1/parts?q=压缩机", headers=auth).get_json()
    assert [p["part_number"] for p in listed["items"]] == ["PN-001"]
    # negative money or a misspelt currency is a 422, not a 500
    bad = client.post("/api/v1/parts", json={**body, "part_number": "PN-2", "unit_cost_minor": -1}, headers=auth)
    assert bad.status_code == 422 and bad.mimetype == PROBLEM
    assert client.post("/api/v1/parts", json={**body, "part_number": "X"}, headers=headers(role="technician")
                       ).status_code == 403


def test_receive_transfer_issue_keeps_balance_equal_to_ledger(client: FlaskClient, make: Factory, stock, van_job,  # type: ignore[no-untyped-def]
                                                                headers) -> None:
    part = stock.part()
    keeper = headers(role="parts_keeper")
    received = client.post("/api/v1/stock-movements/receipts", headers=keeper, json={
        "part_id": str(part.id), "location_id": str(van_job.warehouse.id), "quantity": 10})
    assert received.status_code == 201
    moved = client.post("/api/v1/stock-movements/transfers", headers=keeper, json={
        "part_id": str(part.id), "from_location_id": str(van_job.warehouse.id),
        "to_location_id": str(van_job.van.id), "quantity": 4})
    assert moved.status_code == 201
    legs = moved.get_json()
    assert [leg["quantity"] for leg in legs] == [-4, 4] and legs[0]["group_id"] == legs[1]["group_id"]

    used = issue(client, van_job.auth, part.id, van_job.job.order.id, 3, visit_id=str(van_job.job.visit.id))
    assert used.status_code == 201, used.get_json()
    assert used.get_json()["location_id"] == str(van_job.van.id) and used.get_json()["quantity"] == -3

    assert stock.on_hand(part.id, van_job.warehouse.id) == (6, 6)
    assert stock.on_hand(part.id, van_job.van.id) == (1, 1)
    # the technician reads their van's balance and ledger, nothing else
    balances = client.get("/api/v1/stock-balances", headers=van_job.auth).get_json()["items"]
    assert [(b["location_id"], b["on_hand"]) for b in balances] == [(str(van_job.van.id), 1)]
    lines = client.get("/api/v1/stock-movements", headers=van_job.auth).get_json()["items"]
    assert {line["location_id"] for line in lines} == {str(van_job.van.id)}
    assert client.get(f"/api/v1/stock-locations/{van_job.warehouse.id}", headers=van_job.auth).status_code == 404


def test_stock_going_negative_is_refused_and_nothing_written(client: FlaskClient, stock, van_job, count_rows,  # type: ignore[no-untyped-def]
                                                             headers) -> None:
    """R-PRT-1: on-hand never negative: issuing more than the van holds is a 409 problem, nothing written."""
    part = stock.part()
    stock.receive(part.id, van_job.van.id, 2)
    keeper = headers(role="parts_keeper")
    before = count_rows()
    refused = issue(client, van_job.auth, part.id, van_job.job.order.id, 3)
    assert refused.status_code == 409 and refused.mimetype == PROBLEM
    body = refused.get_json()
    assert body["type"] == "/problems/insufficient_stock" and body["on_hand"] == 2 and body["requested"] == 3
    assert count_rows() == before
    assert stock.on_hand(part.id, van_job.van.id) == (2, 2)
    # a negative adjustment below zero is refused the same way
    adjust = client.post("/api/v1/stock-movements/adjustments", headers=keeper, json={
        "part_id": str(part.id), "location_id": str(van_job.van.id), "quantity": -5, "reason": "盘亏 loss"})
    assert adjust.status_code == 409 and count_rows() == before


def test_unapproved_part_is_not_issued(client: FlaskClient, stock, van_job, count_rows) -> None:  # type: ignore[no-untyped-def]
    """R-REP-6: only genuine or company-approved parts are used on jobs."""
    part = stock.part(is_approved=False)
    stock.receive(part.id, van_job.van.id, 5)
    before = count_rows()
    refused = issue(client, van_job.auth, part.id, van_job.job.order.id)
    assert refused.status_code == 422 and refused.get_json()["type"] == "/problems/part_not_approved"
    assert count_rows() == before


def test_parts_are_issued_only_from_the_technicians_own_van_and_job(client: FlaskClient, make: Factory, stock,  # type: ignore[no-untyped-def]
                                                                   van_job, headers) -> None:
    part = stock.part()
    other = make.dispatched_job()
    other_van = stock.location("van", technician_id=other.technician.id)
    stock.receive(part.id, other_van.id, 5)
    stock.receive(part.id, van_job.van.id, 5)
    # not from another technician's van
    assert issue(client, van_job.auth, part.id, van_job.job.order.id, location_id=str(other_van.id)
                 ).status_code == 403
    # not to a job that is not theirs (404: the job is invisible to them)
    assert issue(client, van_job.auth, part.id, other.order.id).status_code == 404
    # a parts keeper may issue on the technician's behalf, but only from the van of a technician on the job
    keeper = headers(role="parts_keeper")
    wrong = issue(client, keeper, part.id, van_job.job.order.id, location_id=str(other_van.id))
    assert wrong.status_code == 422
    warehouse = issue(client, keeper, part.id, van_job.job.order.id, location_id=str(van_job.warehouse.id))
    assert warehouse.status_code == 422
    assert issue(client, keeper, part.id, van_job.job.order.id, location_id=str(van_job.van.id)).status_code == 201
    assert stock.on_hand(part.id, other_van.id) == (5, 5)


def test_serial_tracked_parts_move_with_their_serials(client: FlaskClient, stock, van_job) -> None:  # type: ignore[no-untyped-def]
    part = stock.part(serial_tracked=True)
    stock.receive(part.id, van_job.warehouse.id, 2, ["SN-A", "SN-B"])
    stock.transfer(part.id, van_job.warehouse.id, van_job.van.id, 1, ["SN-A"])
    order = van_job.job.order.id
    assert issue(client, van_job.auth, part.id, order).status_code == 422              # no serial given
    assert issue(client, van_job.auth, part.id, order, serial_numbers=["SN-B"]).status_code == 422  # not in van
    ok = issue(client, van_job.auth, part.id, order, serial_numbers=["SN-A"])
    assert ok.status_code == 201 and ok.get_json()["serial_numbers"] == ["SN-A"]
    # the same unit cannot be issued twice
    stock.receive(part.id, van_job.van.id, 1, ["SN-C"])
    assert issue(client, van_job.auth, part.id, order, serial_numbers=["SN-A"]).status_code == 422


def test_return_from_job_is_limited_to_what_the_job_holds(client: FlaskClient, stock, van_job) -> None:  # type: ignore[no-untyped-def]
    part = stock.part()
    stock.receive(part.id, van_job.van.id, 3)
    assert issue(client, van_job.auth, part.id, van_job.job.order.id, 2).status_code == 201
    body = {"part_id": str(part.id), "work_order_id": str(van_job.job.order.id), "location_id": str(van_job.van.id)}
    too_many = client.post("/api/v1/stock-movements/returns", headers=van_job.auth, json={**body, "quantity": 3})
    assert too_many.status_code == 409
    back = client.post("/api/v1/stock-movements/returns", headers=van_job.auth, json={**body, "quantity": 1})
    assert back.status_code == 201
    assert stock.on_hand(part.id, van_job.van.id) == (2, 2)


def test_safety_stock_breach_raises_one_reorder_per_breach(app: Flask, client: FlaskClient, stock, van_job,  # type: ignore[no-untyped-def]
                                                           headers) -> None:
    """R-PRT-1: falling below safety stock at a warehouse enqueues one reorder notification per breach."""
    part = stock.part(safety_stock=5)
    stock.receive(part.id, van_job.warehouse.id, 8)

    def reorders() -> list[dict]:
        with app.app_context():
            return [n.payload for n in db.session.scalars(
                sa.select(Notification).where(Notification.kind == "parts.reorder").order_by(Notification.created_at))]

    assert reorders() == []
    stock.transfer(part.id, van_job.warehouse.id, van_job.van.id, 4)      # 8 -> 4: breach 1
    stock.transfer(part.id, van_job.warehouse.id, van_job.van.id, 1)      # 4 -> 3: same breach, no new message
    assert [(r["on_hand"], r["breach_no"]) for r in reorders()] == [(4, 1)]
    stock.receive(part.id, van_job.warehouse.id, 10)                      # 13: breach over
    stock.transfer(part.id, van_job.warehouse.id, van_job.van.id, 10)     # 3: breach 2
    assert [(r["on_hand"], r["breach_no"]) for r in reorders()] == [(4, 1), (3, 2)]
    below = client.get("/api/v1/stock-balances?below_safety=true", headers=headers(role="parts_keeper")).get_json()
    assert [(b["location_id"], b["on_hand"]) for b in below["items"]] == [(str(van_job.warehouse.id), 3)]


def test_stocktake_posts_adjustments_and_keeps_the_sheet(client: FlaskClient, stock, van_job, headers) -> None:  # type: ignore[no-untyped-def]
    a, b, c = stock.part(), stock.part(), stock.part()
    stock.receive(a.id, van_job.warehouse.id, 10)
    stock.receive(b.id, van_job.warehouse.id, 4)
    keeper = headers(role="parts_keeper")
    sheet = client.post("/api/v1/stock-counts", headers=keeper, json={
        "location_id": str(van_job.warehouse.id), "note": "月末盘点",
        "lines": [{"part_id": str(a.id), "counted": 8}, {"part_id": str(b.id), "counted": 4},
                  {"part_id": str(c.id), "counted": 1}]})
    assert sheet.status_code == 201 and sheet.get_json()["status"] == "recorded"
    assert stock.on_hand(a.id, van_job.warehouse.id) == (10, 10)  # nothing moves before posting
    count_id = sheet.get_json()["id"]
    posted = client.post(f"/api/v1/stock-counts/{count_id}/post", headers=keeper)
    assert posted.status_code == 200
    lines = {line["part_id"]: line for line in posted.get_json()["lines"]}
    assert (lines[str(a.id)]["ledger_on_hand"], lines[str(a.id)]["difference"]) == (10, -2)
    assert lines[str(b.id)]["difference"] == 0 and lines[str(c.id)]["difference"] == 1
    assert stock.on_hand(a.id, van_job.warehouse.id) == (8, 8)
    assert stock.on_hand(c.id, van_job.warehouse.id) == (1, 1)
    adjustments = client.get(f"/api/v1/stock-movements?kind=adjust&location_id={van_job.warehouse.id}",
                             headers=keeper).get_json()["items"]
    assert sorted(m["quantity"] for m in adjustments) == [-2, 1]
    assert all(m["stock_count_id"] == count_id for m in adjustments)
    again = client.post(f"/api/v1/stock-counts/{count_id}/post", headers=keeper)
    assert again.status_code == 409 and again.mimetype == PROBLEM
    assert stock.on_hand(a.id, van_job.warehouse.id) == (8, 8)


def test_van_needs_a_technician_and_one_each(client: FlaskClient, make: Factory, headers) -> None:  # type: ignore[no-untyped-def]
    keeper = headers(role="parts_keeper")
    tech = make.technician()
    assert client.post("/api/v1/stock-locations", headers=keeper, json={
        "code": "VAN-X", "name": "车", "kind": "van"}).status_code == 422
    assert client.post("/api/v1/stock-locations", headers=keeper, json={
        "code": "VAN-1", "name": "一号车", "kind": "van", "technician_id": str(tech.id)}).status_code == 201
    assert client.post("/api/v1/stock-locations", headers=keeper, json={
        "code": "VAN-2", "name": "二号车", "kind": "van", "technician_id": str(tech.id)}).status_code == 409
    assert client.post("/api/v1/stock-locations", headers=keeper, json={
        "code": "VAN-3", "name": "车", "kind": "van", "technician_id": str(uuid.uuid4())}).status_code == 422
