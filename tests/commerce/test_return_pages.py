"""Office pages for returned units (R-RET-1/2/3): the list with its filters, pagination and R-RET-1 windows, the
case with the customer's photos and description, the warranty decision and shipping liability (R-RET-2), and
the inspection (R-RET-3) and outcome forms posting through the same service as the API. Pages are office-only,
cookie posts need the CSRF token, refusals are shown with their 4xx status, and a case page that shows the
customer's photos is an archive read (R-ARC-3)."""
from __future__ import annotations

import re
import uuid
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.archive.models import ArchiveRead
from fieldservice.commerce.models import ReturnCase
from fieldservice.extensions import db
from tests.archive.test_pages import login
from tests.commerce.test_returns import open_case
from tests.factories import Factory
from tests.signing.conftest import upload_photo


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def _status(app: Flask, case_id: str) -> str:
    with app.app_context():
        case = db.session.get(ReturnCase, uuid.UUID(case_id))
        assert case is not None
        return case.status.value


def test_list_and_case_pages_show_the_case_in_chinese_for_office_and_admin(  # type: ignore[no-untyped-def]
        app: Flask, client: FlaskClient, api, unit, office, headers, make: Factory) -> None:
    """R-RET-1 windows on the list, R-RET-2 liability and the customer's photos on the case, R-ARC-3 read log."""
    job = unit()
    photo = upload_photo(client, job)
    status, case = open_case(api, office, job, reason="no_reason", reported_on="2026-11-08", photo_ids=[photo["id"]])
    assert status == 201, case
    for auth in (office, headers(role="admin")):
        listing = client.get("/office/returns", headers=auth)
        text = listing.get_data(as_text=True)
        assert listing.status_code == 200 and "退换货" in text
        assert case["number"] in text and "杭州精工科技有限公司" in text
        # R-RET-1: delivered 2026-11-02, so no-reason until 11-08 (requested on it: within), quality until 12-01
        assert "无理由退货至" in text and "11月8日" in text and "质量问题退换至" in text and "12月1日" in text
        assert "期内" in text
    page = client.get(f"/office/returns/{case['id']}", headers=office)
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "开机后异响，显示 E-07 报警" in text and "7天无理由退货" in text
    assert "寄出运费承担方</th><td>客户" in text          # R-RET-2: the customer's fault
    thumb = f"/office/photos/{photo['id']}/thumb-256"
    assert thumb in text and 'id="inspection-form"' in text
    with app.app_context():
        reads = db.session.scalars(sa.select(ArchiveRead).where(ArchiveRead.entity_type == "return_case")).all()
        assert [(r.entity_id, r.via, r.actor_role) for r in reads] == [(case["id"], "page", "office")]
    logged = client.get("/api/v1/archive/reads", query_string={"entity_type": "return_case"}, headers=office)
    assert logged.status_code == 200 and [r["entity_id"] for r in logged.get_json()["items"]] == [case["id"]]
    # in the browser (the session cookie) the thumbnail loads through the archive's photo route
    make.user("office", username="退货专员")
    assert login(client, "退货专员").status_code == 302
    assert thumb in client.get(f"/office/returns/{case['id']}").get_data(as_text=True)
    image = client.get(thumb)
    assert image.status_code == 200 and image.mimetype.startswith("image/")


def test_list_filters_by_status_and_customer_and_is_paginated(  # type: ignore[no-untyped-def]
        client: FlaskClient, api, unit, office, make: Factory) -> None:
    job = unit("苏州恒温设备有限公司")
    numbers = []
    for _ in range(26):      # one open case per job: 26 jobs on the same unit
        order = make.work_order(customer_id=job.customer.id, site_id=job.order.site_id, product_id=job.product.id,
                                asset_id=job.asset.id)
        status, case = open_case(api, office, SimpleNamespace(**{**vars(job), "order": order}), reason="quality",
                                 reported_on="2026-11-20")
        assert status == 201, case
        numbers.append(case["number"])
    other = unit("宁波海洋仪器公司")
    status, lone = open_case(api, office, other, reason="quality", reported_on="2026-11-20")
    assert status == 201
    first = client.get("/office/returns", headers=office).get_data(as_text=True)
    assert "27 个案件" in first and first.count('href="/office/returns/') == 25
    second = client.get("/office/returns?page=2", headers=office).get_data(as_text=True)
    shown = {n for n in numbers + [lone["number"]] if n in first} | {n for n in numbers + [lone["number"]]
                                                                    if n in second}
    assert len(shown) == 27                                  # every case on one of the two pages
    found = client.get("/office/returns", query_string={"q": "宁波"}, headers=office).get_data(as_text=True)
    assert "1 个案件" in found and lone["number"] in found and numbers[0] not in found
    status, body = api("get", "/api/v1/returns?q=宁波", office)            # the same search on the API
    assert status == 200 and [c["number"] for c in body["items"]] == [lone["number"]]
    by_serial = client.get("/office/returns", query_string={"q": job.asset.serial_number}, headers=office)
    assert "26 个案件" in by_serial.get_data(as_text=True)
    none = client.get("/office/returns", query_string={"status": "closed"}, headers=office).get_data(as_text=True)
    assert "0 个案件" in none and "没有退换货案件" in none
    odd = client.get("/office/returns", query_string={"status": "bogus", "q": "%_", "page": "x"}, headers=office)
    assert odd.status_code == 200 and "0 个案件" in odd.get_data(as_text=True)


def test_customer_and_technician_cannot_open_the_pages(  # type: ignore[no-untyped-def]
        app: Flask, client: FlaskClient, api, unit, office, headers, make: Factory) -> None:
    job = unit()
    status, case = open_case(api, office, job, reason="quality", reported_on="2026-11-20")
    assert status == 201
    customer_user = make.user("customer", customer_id=job.customer.id)
    customer = {"Authorization": f"Bearer {make.token(customer_user.id)}"}
    for auth in (customer, job.auth):                         # the customer's own case, the job's technician
        for url in ("/office/returns", f"/office/returns/{case['id']}"):
            assert client.get(url, headers=auth).status_code == 403
        assert client.post(f"/office/returns/{case['id']}/inspection", headers=auth,
                           data={"matches_description": "yes", "findings": "x"}).status_code == 403
    dispatcher = headers(role="dispatcher")                   # reads, but the forms are not theirs
    page = client.get(f"/office/returns/{case['id']}", headers=dispatcher)
    assert page.status_code == 200 and 'id="inspection-form"' not in page.get_data(as_text=True)
    refused = client.post(f"/office/returns/{case['id']}/inspection", headers=dispatcher,
                          data={"matches_description": "yes", "findings": "看过了"})
    assert refused.status_code == 403 and "may not do this" in refused.get_data(as_text=True)
    anonymous = client.get(f"/office/returns/{case['id']}")
    assert anonymous.status_code == 302 and "/office/login" in anonymous.headers["Location"]
    assert _status(app, case["id"]) == "received"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ArchiveRead).where(
            ArchiveRead.entity_type == "return_case")) == 0


def test_inspection_with_the_session_cookie_needs_the_csrf_token_then_runs_to_closed(  # type: ignore[no-untyped-def]
        app: Flask, client: FlaskClient, api, unit, office, make: Factory) -> None:
    """R-RET-3 through the page: inspection (with an inspection photo), outcome among the allowed, close."""
    job = unit()
    photo = upload_photo(client, job)
    extra = upload_photo(client, job, colour=(10, 200, 10))
    status, case = open_case(api, office, job, reason="quality", reported_on="2026-11-20", photo_ids=[photo["id"]])
    assert status == 201
    make.user("office", username="质检员")
    assert login(client, "质检员").status_code == 302
    url = f"/office/returns/{case['id']}"
    html = client.get(url).get_data(as_text=True)
    assert f'value="{extra["id"]}"' in html                  # the job's other photo can be picked
    form = {"matches_description": "yes", "findings": "与客户照片一致：转子不平衡", "photo_ids": extra["id"]}
    # a cross-site form riding on the cookie has no token: refused, nothing recorded
    assert client.post(f"{url}/inspection", data=form).status_code == 400
    assert _status(app, case["id"]) == "received"
    done = client.post(f"{url}/inspection", data={**form, "csrf_token": _csrf(html)})
    assert done.status_code == 303 and done.headers["Location"].endswith(f"{url}?saved=inspection")
    page = client.get(url).get_data(as_text=True)
    assert "转子不平衡" in page and 'id="outcome-form"' in page and "换货" in page
    with app.app_context():
        saved = db.session.get(ReturnCase, uuid.UUID(case["id"]))
        assert saved is not None and saved.inspection_photo_ids == [extra["id"]]
        assert saved.inspector_name == "质检员" and saved.matches_description is True
    token = _csrf(page)
    assert client.post(f"{url}/outcome", data={"outcome": "exchange", "note": "换新机",
                                               "csrf_token": token}).status_code == 303
    assert client.post(f"{url}/close", data={"csrf_token": token}).status_code == 303
    final = client.get(url).get_data(as_text=True)
    assert _status(app, case["id"]) == "closed" and "换货 · 换新机" in final and "已关闭" in final


def test_refusals_are_shown_on_the_page_with_their_4xx_status(  # type: ignore[no-untyped-def]
        app: Flask, client: FlaskClient, api, unit, office) -> None:
    """Missing findings (422), a mismatch without the fault found (422), an outcome before the inspection
    (409 inspection_required), an outcome the warranty does not allow (409), inspecting twice (409)."""
    job = unit()
    status, case = open_case(api, office, job, reason="no_reason", reported_on="2026-11-20")  # after 7 days
    assert status == 201 and case["allowed_outcomes"] == ["repair", "refused"]
    url = f"/office/returns/{case['id']}"

    def post(action: str, data: dict[str, Any]) -> tuple[int, str]:
        response = client.post(f"{url}/{action}", headers=office, data=data)
        assert response.mimetype == "text/html"
        return response.status_code, response.get_data(as_text=True)

    code, text = post("inspection", {"matches_description": "yes", "findings": "  "})
    assert code == 422 and 'id="form-errors"' in text and "findings" in text
    code, text = post("inspection", {"matches_description": "no", "findings": "外壳有摔痕"})
    assert code == 422 and "required when matches_description is false" in text
    assert "外壳有摔痕" in text                               # the typed findings are kept in the form
    code, text = post("outcome", {"outcome": "repair"})
    assert code == 409 and "has not been inspected" in text
    assert _status(app, case["id"]) == "received"
    code, _ = post("inspection", {"matches_description": "yes", "findings": "确认无故障"})
    assert code == 303
    code, text = post("outcome", {"outcome": "refund"})     # a forged choice the page never offers
    assert code == 409 and "refund is not possible" in text
    code, text = post("inspection", {"matches_description": "yes", "findings": "再次检验"})
    assert code == 409 and "it is inspected" in text
    code, text = post("close", {})
    assert code == 409 and 'id="form-errors"' in text
    code, text = post("outcome", {"outcome": "nonsense"})
    assert code == 422
    assert _status(app, case["id"]) == "inspected"
    missing = client.get(f"/office/returns/{uuid.uuid4()}", headers=office)
    assert missing.status_code == 404 and "not found" in missing.get_data(as_text=True)
