"""Pull: WatermelonDB-shaped results, the technician's scope and nothing else, cursors and paging."""
from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.visits import service as visits
from sync.schema import TABLES
from tests.factories import Factory, tomorrow_at

JSON_TYPES = {"string": str, "number": (int, float), "boolean": bool}


def test_first_pull_has_every_table_and_typed_columns(make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = make.dispatched_job()
    phone = phone_for(job.technician)
    merged, cursor = phone.pull_all()
    assert set(merged) == set(TABLES)
    assert cursor > 0
    for name, lists in merged.items():
        for record in lists["updated"].values():
            columns = TABLES[name].column_map
            assert set(record) == {"id", *columns}
            for column_name, value in record.items():
                if column_name != "id" and value is not None:
                    expected = JSON_TYPES[columns[column_name].kind]
                    assert isinstance(value, expected) and not (
                        expected is not bool and isinstance(value, bool)), (name, column_name, value)
    assert set(merged["visits"]["updated"]) == {str(job.visit.id)}
    assert set(merged["work_orders"]["updated"]) == {str(job.order.id)}
    visit = merged["visits"]["updated"][str(job.visit.id)]
    assert visit["scheduled_start"] == int(job.visit.scheduled_start.timestamp() * 1000)
    assert visit["is_read_only"] is False and visit["sync_status"] == "synced"


def test_nothing_outside_the_scope_is_sent(make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    mine = make.dispatched_job(start=tomorrow_at(9))
    theirs = make.dispatched_job(start=tomorrow_at(9))
    far_future = make.visit(make.work_order(product_id=mine.product.id).id, start=tomorrow_at(9, days=60),
                            technician_id=mine.technician.id)
    unassigned = make.visit(make.work_order().id, start=tomorrow_at(13))
    phone = phone_for(mine.technician)
    phone.sync()
    assert phone.ids("visits") == {str(mine.visit.id)}
    assert phone.ids("work_orders") == {str(mine.order.id)}
    assert phone.ids("customers") == {str(mine.order.customer_id)}
    assert phone.ids("sites") == {str(mine.order.site_id)}
    assert phone.ids("products") == {str(mine.product.id)}
    assert phone.ids("product_lines") == {str(mine.line.id)}
    everything = {i for name in TABLES for i in phone.ids(name)}
    for foreign in (theirs.visit.id, theirs.order.id, theirs.order.customer_id, theirs.order.site_id,
                    theirs.product.id, far_future.id, unassigned.id):
        assert str(foreign) not in everything


def test_incremental_pull_sends_only_changes(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = make.dispatched_job()
    phone = phone_for(job.technician)
    phone.sync()
    merged, _ = phone.pull_all()
    assert all(not v["updated"] and not v["deleted"] for v in merged.values())
    with app.app_context(), unit_of_work():
        visits.confirm_with_customer(SYSTEM, job.visit.id, note="张伟 by phone")
    merged, _ = phone.pull_all()
    assert set(merged["visits"]["updated"]) == {str(job.visit.id)}
    assert merged["visits"]["updated"][str(job.visit.id)]["customer_confirmed"] is True
    assert sum(len(v["updated"]) for v in merged.values()) == 1


def test_newly_assigned_visit_arrives_with_what_it_needs(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = make.dispatched_job(start=tomorrow_at(8))
    phone = phone_for(job.technician)
    phone.sync()
    order = make.work_order(product_id=job.product.id)
    extra = make.visit(order.id, start=tomorrow_at(13))
    with app.app_context(), unit_of_work():
        visits.assign_technician(SYSTEM, extra.id, job.technician.id)
    phone.sync()
    assert str(extra.id) in phone.ids("visits")
    assert str(order.id) in phone.ids("work_orders")
    assert str(order.customer_id) in phone.ids("customers")


def test_paging_delivers_every_record_once(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = make.dispatched_job()  # under way now: the technician may arrive (R-REP-2)
    with app.app_context(), unit_of_work():
        visits.record_arrival(SYSTEM, job.visit.id)
        for i in range(37):
            visits.add_work_log(SYSTEM, job.visit.id, {"started_at": tomorrow_at(7, i % 59), "description": f"步骤 {i}"})
    paged = phone_for(job.technician, page_size=5)
    seen: dict[str, list[str]] = {}
    cursor = None
    while True:
        query = {"last_pulled_at": "null" if cursor is None else cursor, "page_size": 5}
        body = paged.client.get("/api/v1/sync/pull", query_string=query, headers=paged.auth).get_json()
        for name, lists in body["changes"].items():
            for record in lists["created"] + lists["updated"]:  # a first pull: all new to the phone
                seen.setdefault(name, []).append(record["id"])
        assert cursor is None or body["timestamp"] >= cursor
        cursor = body["timestamp"]
        if not body["has_more"]:
            break
    assert len(seen["work_logs"]) == len(set(seen["work_logs"])) == 37
    whole = phone_for(job.technician)
    merged, _ = whole.pull_all()
    assert {k: sorted(v) for k, v in seen.items()} == {
        k: sorted(v["updated"]) for k, v in merged.items() if v["updated"]}


def test_cursor_from_the_future_is_refused(client: FlaskClient, make: Factory) -> None:
    job = make.dispatched_job()
    auth = {"Authorization": f"Bearer {make.token(job.technician.user_id)}"}
    response = client.get("/api/v1/sync/pull?last_pulled_at=999999999", headers=auth)
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "/problems/cursor_from_the_future"
    for bad in ("abc", "-5", "1.5", str(2**60)):
        response = client.get(f"/api/v1/sync/pull?last_pulled_at={bad}", headers=auth)
        assert response.status_code == 422, bad


def test_only_technicians_sync(client: FlaskClient, headers) -> None:  # type: ignore[no-untyped-def]
    for role in ("dispatcher", "office", "admin", "parts_keeper"):
        auth = headers(role=role)
        assert client.get("/api/v1/sync/pull", headers=auth).status_code == 403
        assert client.post("/api/v1/sync/push", headers=auth, json={}).status_code == 403
