"""R-ARC-3: every read of a customer's record content through the JSON API is in the archive read log with
who and when: the canonical text (`record_canonical`), photo downloads (`photo`), the record PDF
(`service_record`) and the work order's report (`work_order_report`). Refused reads log nothing."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from flask.testing import FlaskClient

from tests.archive.test_archive_api import _reads
from tests.factories import Factory
from tests.records.test_records_api import problem
from tests.signing.conftest import upload_photo

Archived = Callable[..., SimpleNamespace]


def _customer_login(make: Factory, customer_id: Any) -> tuple[SimpleNamespace, dict[str, str]]:
    login = make.user("customer", customer_id=customer_id, display_name="客户 张经理")
    return login, {"Authorization": f"Bearer {make.token(login.id)}"}


def _between(row: dict[str, Any], start: datetime, end: datetime) -> bool:
    return start <= datetime.fromisoformat(row["at"]) <= end


def test_r_arc_3_canonical_text_read_is_logged_with_who_and_when(client: FlaskClient, archived: Archived,
                                                                  make: Factory, headers: Any) -> None:
    a = archived()
    other = archived(name="别家公司", phone="2", serial="S-3", model="M-3")
    admin = headers(role="admin")
    login, customer = _customer_login(make, a.customer.id)
    before = len(_reads(client, admin))

    start = datetime.now(UTC)
    r = client.get(f"/api/v1/records/{a.record['id']}/canonical", headers=customer)
    end = datetime.now(UTC)
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["content_sha256"] == a.signoff["content_sha256"]
    latest = _reads(client, admin)[0]
    assert (latest["entity_type"], latest["entity_id"], latest["via"]) == ("record_canonical", a.record["id"], "api")
    assert latest["actor_user_id"] == str(login.id) and latest["actor_name"] == "客户 张经理"
    assert latest["actor_role"] == "customer" and _between(latest, start, end)

    # another customer's record: 404, and nothing was read, so nothing is logged
    problem(client.get(f"/api/v1/records/{other.record['id']}/canonical", headers=customer), 404, "not_found")
    assert len(_reads(client, admin)) == before + 1
    # the log can be filtered by the new entity type
    own = _reads(client, admin, entity_type="record_canonical", actor_user_id=str(login.id))
    assert [r["entity_id"] for r in own] == [a.record["id"]]


def test_r_arc_3_photo_downloads_are_logged_and_refusals_are_not(client: FlaskClient, archived: Archived,
                                                                  make: Factory, headers: Any) -> None:
    a = archived()
    photo = upload_photo(client, a.job)
    admin = headers(role="admin")
    office_user = make.user("office", display_name="档案员 王")
    office = headers(office_user.id)
    login, customer = _customer_login(make, a.customer.id)
    stranger_login, stranger = _customer_login(make, make.customer("路人公司").id)

    start = datetime.now(UTC)
    display = client.get(f"/api/v1/photos/{photo['id']}/content", headers=customer)
    end = datetime.now(UTC)
    assert display.status_code == 200 and display.mimetype == "image/jpeg" and display.data[:2] == b"\xff\xd8"
    latest = _reads(client, admin)[0]
    assert (latest["entity_type"], latest["entity_id"], latest["via"]) == ("photo", photo["id"], "api")
    assert latest["actor_user_id"] == str(login.id) and latest["actor_role"] == "customer"
    assert _between(latest, start, end)

    original = client.get(f"/api/v1/photos/{photo['id']}/content?variant=original", headers=office)
    assert original.status_code == 200 and original.mimetype == "image/png"
    latest = _reads(client, admin)[0]
    assert (latest["entity_type"], latest["actor_user_id"]) == ("photo", str(office_user.id))

    logged = len(_reads(client, admin, entity_type="photo"))
    assert logged == 2
    # refused: the original to a customer (403), another customer's photo (404): nothing read, nothing logged
    problem(client.get(f"/api/v1/photos/{photo['id']}/content?variant=original", headers=customer), 403,
            "forbidden")
    problem(client.get(f"/api/v1/photos/{photo['id']}/content", headers=stranger), 404, "not_found")
    assert len(_reads(client, admin, entity_type="photo")) == logged
    assert _reads(client, admin, actor_user_id=str(stranger_login.id)) == []


def test_r_arc_3_pdf_downloads_are_logged(client: FlaskClient, archived: Archived, make: Factory,
                                          headers: Any) -> None:
    a = archived()
    admin = headers(role="admin")
    login, customer = _customer_login(make, a.customer.id)
    pdf = client.get(f"/api/v1/records/{a.record['id']}/pdf?lang=en", headers=customer)
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    latest = _reads(client, admin)[0]
    assert (latest["entity_type"], latest["entity_id"], latest["actor_user_id"], latest["via"]) == (
        "service_record", a.record["id"], str(login.id), "api")

    report = client.get(f"/api/v1/work-orders/{a.job.order.id}/report.pdf", headers=customer)
    assert report.status_code == 200 and report.data.startswith(b"%PDF")
    rows = _reads(client, admin, entity_type="work_order_report")
    assert [(r["entity_id"], r["actor_user_id"]) for r in rows] == [(str(a.job.order.id), str(login.id))]
