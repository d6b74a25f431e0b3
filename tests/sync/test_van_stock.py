"""Van stock on the phone (R-PRT-1, R-REP-6): the van's stock pulls to the technician's phone, parts used
offline are pushed as issues through the same service rules, a refused issue is quarantined with its reason."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.parts import service as parts
from fieldservice.parts.models import LocationKind, StockBalance, StockMovement
from sync.models import SyncRejection
from tests.factories import Factory


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def _van(app: Flask, technician_id: uuid.UUID, **part_extra: object):  # type: ignore[no-untyped-def]
    with app.app_context(), unit_of_work():
        van = parts.create_location(SYSTEM, {"code": f"VAN-{uuid.uuid4().hex[:6]}", "name": "车",
                                             "kind": LocationKind.VAN, "technician_id": technician_id})
        good = parts.create_part(SYSTEM, {"part_number": f"G-{uuid.uuid4().hex[:6]}", "name": "原厂滤芯 filter"})
        fake = parts.create_part(SYSTEM, {"part_number": f"F-{uuid.uuid4().hex[:6]}", "name": "副厂 filter",
                                          "is_approved": False})
        tracked = parts.create_part(SYSTEM, {"part_number": f"S-{uuid.uuid4().hex[:6]}", "name": "主板",
                                             "serial_tracked": True})
        parts.receive_stock(SYSTEM, {"part_id": good.id, "location_id": van.id, "quantity": 2})
        parts.receive_stock(SYSTEM, {"part_id": fake.id, "location_id": van.id, "quantity": 2})
        parts.receive_stock(SYSTEM, {"part_id": tracked.id, "location_id": van.id, "quantity": 1,
                                     "serial_numbers": ["MB-1"]})
        return van.id, good.id, fake.id, tracked.id


def test_van_stock_pulls_and_offline_issues_push_through_the_rules(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = make.dispatched_job(start=datetime.now(UTC) + timedelta(hours=1))
    other = make.dispatched_job(start=datetime.now(UTC) + timedelta(hours=1))
    make.warranty_repair(job.order.id)                   # free repair: its parts need no quote (R-REP-4)
    _van(app, other.technician.id)                       # someone else's van never reaches this phone
    van, good, fake, tracked = _van(app, job.technician.id)
    phone = phone_for(job.technician)
    phone.sync()
    assert phone.ids("stock_locations") == {str(van)}
    assert phone.ids("parts") == {str(good), str(fake), str(tracked)}
    on_hand = {r.data["part_id"]: r.data["on_hand"] for r in phone.tables["stock_balances"].values()}
    assert on_hand == {str(good): 2, str(fake): 2, str(tracked): 1}

    used_at = datetime.now(UTC).replace(microsecond=0)
    base = {"work_order_id": str(job.order.id), "visit_id": str(job.visit.id), "occurred_at": ms(used_at)}
    ok = phone.create("stock_movements", part_id=str(good), quantity=-2, **base)
    not_approved = phone.create("stock_movements", part_id=str(fake), quantity=-1, **base)
    too_many = phone.create("stock_movements", part_id=str(good), quantity=-1, **base)   # the van is empty by then
    with_serial = phone.create("stock_movements", part_id=str(tracked), quantity=-1,
                               serial_numbers=json.dumps(["MB-1"]), **base)
    result = phone.sync()
    assert result["accepted"] == 2 and result["rejected"] == 2, result
    with app.app_context():
        issued = {str(m.id): m for m in db.session.scalars(sa.select(StockMovement).where(StockMovement.kind == "issue"))}
        assert set(issued) == {ok, with_serial}
        assert issued[ok].quantity == -2 and issued[ok].occurred_at == used_at and issued[ok].device_time is not None
        assert issued[with_serial].serial_numbers == ["MB-1"]
        reasons = {r.record_id: r.reason_code for r in db.session.scalars(sa.select(SyncRejection))}
        assert reasons == {not_approved: "part_not_approved", too_many: "insufficient_stock"}
        balances = {b.part_id: b.on_hand for b in db.session.scalars(
            sa.select(StockBalance).where(StockBalance.location_id == van))}
        assert balances == {good: 0, fake: 2, tracked: 0}
    # the phone learns the outcome on its next pull, and the van's new balances
    phone.sync()
    assert phone.get("stock_movements", too_many)["sync_status"] == "rejected"
    assert phone.get("stock_movements", ok)["sync_status"] == "synced"
    on_hand = {r.data["part_id"]: r.data["on_hand"] for r in phone.tables["stock_balances"].values()}
    assert on_hand[str(good)] == 0


def test_a_replayed_issue_changes_nothing_and_ledger_lines_are_never_deleted(app: Flask, make: Factory,  # type: ignore[no-untyped-def]
                                                                           phone_for) -> None:
    job = make.dispatched_job(start=datetime.now(UTC) + timedelta(hours=1))
    make.warranty_repair(job.order.id)
    van, good, _, _ = _van(app, job.technician.id)
    phone = phone_for(job.technician)
    phone.sync()
    line = phone.create("stock_movements", part_id=str(good), quantity=-1, work_order_id=str(job.order.id))
    record = dict(phone.get("stock_movements", line))
    phone.sync()
    # the answer was lost: the phone sends the same record again under a new key
    phone.tables["stock_movements"][line].status = "created"
    phone.tables["stock_movements"][line].data = record
    assert phone.sync()["rejected"] == 0
    phone.destroy("stock_movements", line)
    assert phone.sync()["rejected"] == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StockMovement).where(
            StockMovement.kind == "issue")) == 1
        assert parts.ledger_on_hand(good, van) == 1
