"""End to end in headless Chromium over real HTTP: a customer opens the signing link, switches zh/en, draws a
signature with the mouse, signs, and downloads the PDF (R-SIG-1: the sign-off carries strokes, a PNG and the
hash shown on the page). Also: a used link and an expired link are refused, and a link for work that is not
complete shows the R-SIG-2 refusal instead of the canvas. Screenshots go to the test-artefact folder."""
from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
import time_machine
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from pypdf import PdfReader

from fieldservice.extensions import db
from fieldservice.records.models import ServiceRecord, Signoff
from tests.records.conftest import finish_visit
from tests.signing.conftest import CUSTOMER_NAME, create_link, repair_record, upload_photo

Job = Callable[..., SimpleNamespace]


def draw(page: Any, selector: str, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw with the mouse: each stroke is points relative to the canvas's top-left corner (CSS pixels)."""
    box = page.locator(selector).bounding_box()
    assert box is not None
    for stroke in strokes:
        x0, y0 = stroke[0]
        page.mouse.move(box["x"] + x0, box["y"] + y0)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x, box["y"] + y, steps=4)
        page.mouse.up()


def test_customer_signs_in_chromium_and_downloads_the_pdf(app: Flask, client: FlaskClient, live_url: str,
                                                          page: Any, chinese_job: Job,
                                                          browser_artifacts: Path) -> None:
    job = chinese_job()
    photo = upload_photo(client, job)
    record = repair_record(client, job, photo_ids=[photo["id"]])
    finish_visit(client, job)
    link = create_link(client, record["id"], job.auth)

    response = page.goto(live_url + link["path"])
    assert response is not None and response.status == 200
    assert page.locator("#record-title").inner_text() == "维修记录"
    assert page.locator("#customer-name").inner_text() == CUSTOMER_NAME
    assert page.locator("text=报修故障").count() == 1
    shown_hash = page.locator("#content-hash").inner_text().strip()
    # the photo thumbnail loads through the link
    assert page.locator("img.thumb").evaluate("img => img.complete && img.naturalWidth > 0")

    page.click("#lang-switch")
    page.wait_for_url("**lang=en")
    assert page.locator("#record-title").inner_text() == "Repair record"
    assert page.locator("text=Reported fault").count() == 1
    page.click("#lang-switch")
    page.wait_for_url("**lang=zh")
    assert page.locator("#record-title").inner_text() == "维修记录"

    # signing without a name or a signature is stopped on the page
    page.click("#submit")
    assert page.locator("#form-error").inner_text() == "请填写姓名"
    page.fill("#signer-name", "张经理")
    page.click("#submit")
    assert page.locator("#form-error").inner_text() == "请先签字"

    draw(page, "#signature-pad", [[(40, 150), (90, 60), (140, 150), (190, 70)], [(230, 120), (330, 110), (420, 140)]])
    page.screenshot(path=str(browser_artifacts / "signing-page.png"), full_page=True)
    page.click("#submit")
    page.wait_for_url("**/done**")
    assert page.locator("#signed-ok").inner_text() == "签字成功，谢谢！"
    page.screenshot(path=str(browser_artifacts / "signing-done.png"), full_page=True)
    assert (browser_artifacts / "signing-page.png").stat().st_size > 1000
    assert (browser_artifacts / "signing-done.png").stat().st_size > 1000

    with app.app_context():
        stored = db.session.get(ServiceRecord, uuid.UUID(record["id"]))
        assert stored is not None and stored.is_signed and stored.content_sha256 == shown_hash
        signoff = db.session.scalars(sa.select(Signoff).where(Signoff.record_id == stored.id)).one()
        assert signoff.content_sha256 == shown_hash and signoff.signer_name == "张经理"
        assert signoff.device_id == f"signing-link/{link['id']}"
        assert len(signoff.strokes) == 2 and all(len(s) >= 4 for s in signoff.strokes)
        assert all({"x", "y", "t"} <= set(p) for s in signoff.strokes for p in s)
        png = base64.b64decode(signoff.signature_png)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.size == (600, 220)
        dark = sum(image.convert("L").histogram()[:128])
    assert dark > 200            # the drawn lines are in the PNG

    with page.expect_download() as download_info:
        page.click("#pdf-link")
    saved = browser_artifacts / "signed-record.pdf"
    download_info.value.save_as(str(saved))
    text = "".join((p.extract_text() or "") for p in PdfReader(str(saved)).pages).replace(" ", "").replace("\n", "")
    assert CUSTOMER_NAME in text and "签字人:张经理" in text and shown_hash in text

    # the link is used up: the page refuses it
    again = page.goto(live_url + link["path"])
    assert again is not None and again.status == 410
    assert "此签字链接已使用" in page.locator("#error-message").inner_text()


def test_expired_link_is_refused_in_the_browser(client: FlaskClient, live_url: str, page: Any,
                                                chinese_job: Job, browser_artifacts: Path) -> None:
    job = chinese_job()
    record = repair_record(client, job)
    finish_visit(client, job)
    link = create_link(client, record["id"], job.auth, expires_in_hours=1, language="en")
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=2), tick=True):
        response = page.goto(live_url + link["path"] + "?lang=en")
        assert response is not None and response.status == 410
        assert "expired" in page.locator("#error-message").inner_text()
    page.screenshot(path=str(browser_artifacts / "signing-expired.png"))


def test_work_not_complete_shows_the_r_sig_2_refusal(app: Flask, client: FlaskClient, live_url: str, page: Any,
                                                     chinese_job: Job, browser_artifacts: Path) -> None:
    job = chinese_job()
    record = repair_record(client, job)
    link = create_link(client, record["id"], job.auth)
    response = page.goto(live_url + link["path"])
    assert response is not None and response.status == 200
    assert page.locator("#refusal").inner_text() == "服务尚未完成，暂不能签字。"
    assert page.locator("#signature-pad").count() == 0
    page.screenshot(path=str(browser_artifacts / "signing-not-complete.png"))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Signoff)) == 0
