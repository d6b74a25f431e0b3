"""End to end in headless Chromium over real HTTP: the office logs in, opens a return case from the list, sees
the customer's photo and description (R-RET-3) and the shipping liability (R-RET-2), submits the inspection
with the page's CSRF token, and decides an outcome the warranty allows. Screenshots go to the artefact folder."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from fieldservice.commerce.models import ReturnCase
from fieldservice.extensions import db
from tests.archive.test_pages import PASSWORD
from tests.commerce.conftest import COURIER_RECEIPT
from tests.factories import Factory
from tests.signing.conftest import upload_photo


def test_office_inspects_a_returned_unit_in_chromium(app: Flask, client: FlaskClient, live_url: str, page: Any,
                                                     unit: Callable[..., SimpleNamespace], make: Factory,
                                                     browser_artifacts: Path) -> None:
    job = unit()
    photo = upload_photo(client, job)
    office = {"Authorization": f"Bearer {make.token(make.user('office').id)}"}
    response = client.post("/api/v1/returns", headers=office, json={
        "work_order_id": str(job.order.id), "asset_id": str(job.asset.id), "reason": "quality",
        "description": "运行时振动很大，有异响", "photo_ids": [photo["id"]], "reported_on": "2026-11-20",
        "reported_on_evidence": COURIER_RECEIPT})
    assert response.status_code == 201, response.get_data(as_text=True)
    case = response.get_json()
    make.user("office", username="退货质检")

    page.goto(live_url + "/office/returns")                   # no session yet: the login form
    page.fill("input[name=username]", "退货质检")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_url + "/office/returns")
    assert page.locator("#return-cases").inner_text().count(case["number"]) == 1
    page.click(f"text={case['number']}")
    page.wait_for_url(f"{live_url}/office/returns/{case['id']}")
    assert page.locator("#customer-description").inner_text() == "运行时振动很大，有异响"
    assert "公司" in page.locator("#warranty").inner_text()       # R-RET-2: quality, company's cost
    thumb = page.locator(f"img[src$='/office/photos/{photo['id']}/thumb-256']")
    assert thumb.evaluate("img => img.complete && img.naturalWidth > 0")
    page.screenshot(path=str(browser_artifacts / "return-case-received.png"), full_page=True)

    page.check("input[name=matches_description][value=yes]")
    page.fill("textarea[name=findings]", "与客户照片一致：电机轴承损坏")
    page.click("#inspection-form button[type=submit]")
    page.wait_for_selector("#saved")
    assert page.locator("#case-status").inner_text() == "已检验"
    assert "电机轴承损坏" in page.locator("#inspection").inner_text()
    page.check("input[name=outcome][value=exchange]")
    page.click("#outcome-form button[type=submit]")
    page.wait_for_selector("#outcome")
    assert page.locator("#outcome").inner_text().startswith("换货")
    page.screenshot(path=str(browser_artifacts / "return-case-decided.png"), full_page=True)
    with app.app_context():
        saved = db.session.get(ReturnCase, uuid.UUID(case["id"]))
        assert saved is not None and saved.status.value == "decided" and saved.inspector_name
        assert saved.findings == "与客户照片一致：电机轴承损坏" and saved.outcome is not None
