"""The archive over the JSON API (R-ARC-1..3): search, per customer / asset / serial / record, who may
read, and the read log."""
from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from flask.testing import FlaskClient

from tests.archive.conftest import CUSTOMER_NAME
from tests.factories import Factory
from tests.records.test_records_api import problem

Archived = Callable[..., SimpleNamespace]


def _reads(client: FlaskClient, office: dict[str, str], **filters: str) -> list[dict[str, Any]]:
    r = client.get("/api/v1/archive/reads", headers=office, query_string={"page_size": 200, **filters})
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["items"]  # type: ignore[no-any-return]


def test_r_arc_2_office_searches_by_chinese_name_phone_serial_and_model(client: FlaskClient, archived: Archived,
                                                                         headers: Any) -> None:
    a = archived()
    archived(name="上海冷链物流", phone="13800000000", serial="OTHER-9", model="YZ-1")
    office = headers(role="office")
    for q in ("华东精密", "精密机械", "5555 0101", "sn-abc", "SN-ABC-001", "xr-200"):
        r = client.get("/api/v1/archive/search", headers=office, query_string={"q": q})
        assert r.status_code == 200, r.get_data(as_text=True)
        hits = r.get_json()["items"]
        assert [h["customer_name"] for h in hits] == [CUSTOMER_NAME], q
        assert hits[0]["serial_number"] == "SN-ABC-001" and hits[0]["model_code"] == "XR-200"
        assert hits[0]["asset_id"] == str(a.asset.id)
    assert client.get("/api/v1/archive/search", headers=office, query_string={"q": "不存在"}).get_json()["items"] == []
    # LIKE wildcards are matched literally
    assert client.get("/api/v1/archive/search", headers=office, query_string={"q": "%"}).get_json()["items"] == []
    problem(client.get("/api/v1/archive/search", headers=office, query_string={"q": ""}), 422, "validation_failed")
    # technicians and customers do not search the whole archive
    problem(client.get("/api/v1/archive/search", headers=a.job.auth, query_string={"q": "华东"}), 403, "forbidden")
    problem(client.get("/api/v1/archive/search", headers=headers(role="dispatcher"), query_string={"q": "x"}), 403,
            "forbidden")


def test_r_arc_1_customer_archive_holds_assets_contracts_visits_records_photos_signatures(
        client: FlaskClient, archived: Archived, headers: Any) -> None:
    a = archived()
    office = headers(role="office")
    r = client.get(f"/api/v1/archive/customers/{a.customer.id}", headers=office)
    assert r.status_code == 200, r.get_data(as_text=True)
    body = r.get_json()
    assert body["customer"]["name"] == CUSTOMER_NAME
    assert [x["serial_number"] for x in body["assets"]] == ["SN-ABC-001"]
    assert body["contracts"][0]["lines"][0]["serial_number"] == "SN-ABC-001"
    assert body["contracts"][0]["lines"][0]["unit_price_minor"] == 8800000
    assert [v["id"] for v in body["visits"]] == [str(a.job.visit.id)]
    records = body["records"]
    assert records["meta"]["total"] == 1
    entry = records["items"][0]
    assert entry["id"] == a.record["id"] and entry["status"] == "signed"
    assert entry["signoff"]["signer_name"] == "张客户" and "signature_png" not in entry["signoff"]
    assert entry["parts_replaced"] == [{"part": "relay", "quantity": 1, "serial_in": "R-NEW-1", "serial_out": "R-OLD-9"}]
    assert entry["technician"]["id"] == str(a.job.technician.id)
    # per asset and per serial number: the same record
    for url in (f"/api/v1/archive/assets/{a.asset.id}", "/api/v1/archive/serials/sn-abc-001"):
        r = client.get(url, headers=office)
        assert r.status_code == 200, r.get_data(as_text=True)
        assert [x["id"] for x in r.get_json()["records"]["items"]] == [a.record["id"]], url
        assert r.get_json()["contracts"][0]["number"] == "HT-SN-ABC-001"
    problem(client.get("/api/v1/archive/serials/NOPE", headers=office), 404, "not_found")
    # one record with its signature image
    view = client.get(f"/api/v1/archive/records/{a.record['id']}", headers=office).get_json()
    assert view["signoff"]["signature_png"] and view["customer"]["name"] == CUSTOMER_NAME
    assert [v["version_no"] for v in view["versions"]] == [1]


def test_r_arc_3_technician_reads_only_own_records(client: FlaskClient, archived: Archived) -> None:
    mine, theirs = archived(), archived(name="另一家公司", phone="1", serial="S-2", model="M-2")
    own = client.get(f"/api/v1/archive/records/{mine.record['id']}", headers=mine.job.auth)
    assert own.status_code == 200
    problem(client.get(f"/api/v1/archive/records/{theirs.record['id']}", headers=mine.job.auth), 404, "not_found")
    problem(client.get(f"/api/v1/records/{theirs.record['id']}", headers=mine.job.auth), 404, "not_found")
    problem(client.get(f"/api/v1/archive/customers/{theirs.customer.id}", headers=mine.job.auth), 404, "not_found")
    problem(client.get(f"/api/v1/archive/assets/{theirs.asset.id}", headers=mine.job.auth), 404, "not_found")
    problem(client.get("/api/v1/archive/serials/S-2", headers=mine.job.auth), 404, "not_found")
    # the technician's own customer page shows only their own records and no contracts (sales data)
    body = client.get(f"/api/v1/archive/customers/{mine.customer.id}", headers=mine.job.auth).get_json()
    assert [r["id"] for r in body["records"]["items"]] == [mine.record["id"]] and body["contracts"] == []


def test_r_arc_3_customer_reads_only_own_archive(client: FlaskClient, archived: Archived, make: Factory,
                                                 headers: Any) -> None:
    mine, theirs = archived(), archived(name="另一家公司", phone="1", serial="S-2", model="M-2")
    auth = headers(make.user("customer", customer_id=mine.customer.id).id)
    body = client.get(f"/api/v1/archive/customers/{mine.customer.id}", headers=auth).get_json()
    assert body["customer"]["name"] == CUSTOMER_NAME and body["records"]["meta"]["total"] == 1
    assert client.get(f"/api/v1/archive/records/{mine.record['id']}", headers=auth).status_code == 200
    for url in (f"/api/v1/archive/customers/{theirs.customer.id}", f"/api/v1/archive/assets/{theirs.asset.id}",
                f"/api/v1/archive/records/{theirs.record['id']}", "/api/v1/archive/serials/S-2",
                f"/api/v1/records/{theirs.record['id']}"):
        problem(client.get(url, headers=auth), 404, "not_found")
    # other staff roles are refused outright
    for role in ("dispatcher", "parts_keeper"):
        problem(client.get(f"/api/v1/archive/customers/{mine.customer.id}", headers=headers(role=role)), 403,
                "forbidden")
    problem(client.get("/api/v1/archive/reads", headers=auth), 403, "forbidden")


def test_r_arc_3_every_read_is_logged_with_who_when_what_and_via(client: FlaskClient, archived: Archived,
                                                                 make: Factory, headers: Any) -> None:
    a = archived()
    office_user = make.user("office", display_name="档案员 王")
    office = headers(office_user.id)
    admin = headers(role="admin")
    # setting up signed the record on the technician's device, which read its canonical text: logged too
    setup = _reads(client, admin)
    assert [(r["entity_type"], r["entity_id"], r["actor_role"]) for r in setup] == [
        ("record_canonical", a.record["id"], "technician")]
    calls = [
        ("/api/v1/archive/search?q=华东", "search", "华东"),
        (f"/api/v1/archive/customers/{a.customer.id}", "customer", str(a.customer.id)),
        (f"/api/v1/archive/assets/{a.asset.id}", "asset", str(a.asset.id)),
        ("/api/v1/archive/serials/SN-ABC-001", "serial", "SN-ABC-001"),
        (f"/api/v1/archive/records/{a.record['id']}", "service_record", a.record["id"]),
        (f"/api/v1/records/{a.record['id']}", "service_record", a.record["id"]),
    ]
    for url, entity_type, entity_id in calls:
        assert client.get(url, headers=office).status_code == 200, url
        latest = _reads(client, admin)[0]
        assert (latest["entity_type"], latest["entity_id"], latest["via"]) == (entity_type, entity_id, "api"), url
        assert latest["actor_user_id"] == str(office_user.id) and latest["actor_name"] == "档案员 王"
        assert latest["actor_role"] == "office" and latest["at"]
    assert len(_reads(client, admin)) == len(calls) + len(setup)
    # refused reads leave no row (nothing was read); the record's own technician is logged too
    other = archived(name="别家", phone="2", serial="S-3", model="M-3")
    problem(client.get(f"/api/v1/archive/records/{other.record['id']}", headers=a.job.auth), 404, "not_found")
    assert len(_reads(client, admin)) == len(calls) + 2   # + the canonical reads that signed a's and other's records
    assert client.get(f"/api/v1/records/{a.record['id']}", headers=a.job.auth).status_code == 200
    assert _reads(client, admin, actor_user_id=str(a.job.technician.user_id))[0]["actor_role"] == "technician"
    filtered = _reads(client, admin, entity_type="service_record", entity_id=a.record["id"])
    assert len(filtered) == 3
    assert client.get("/api/v1/records", headers=office, query_string={"visit_id": str(a.job.visit.id)}).status_code == 200
    listed = _reads(client, admin, entity_type="record_list")
    assert [r["entity_id"] for r in listed] == [f"visit:{a.job.visit.id}"]


def test_archive_pages_through_many_records_with_a_fixed_number_of_queries(
        app: Any, client: FlaskClient, archived: Archived, job_of: Any, headers: Any) -> None:
    """No N+1: a page of 1 record and a page of 6 records cost the same number of statements."""
    import sqlalchemy as sa

    from fieldservice.extensions import db
    from tests.records.conftest import create_record, maintenance_content

    a = archived()
    office = headers(role="office")

    def statements() -> int:
        count = 0

        def before(*args: Any) -> None:
            nonlocal count
            count += 1

        with app.app_context():
            engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", before)
        try:
            assert client.get(f"/api/v1/archive/customers/{a.customer.id}", headers=office).status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", before)
        return count

    one = statements()
    for _ in range(5):
        job = job_of("maintenance", customer_id=a.customer.id)
        create_record(client, job, "maintenance_record", maintenance_content())
    assert client.get(f"/api/v1/archive/customers/{a.customer.id}", headers=office).get_json()["records"]["meta"][
        "total"] == 6
    assert statements() == one
