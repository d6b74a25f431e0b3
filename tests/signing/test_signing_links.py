"""Signing links over real requests: create (office or the record's technician), the page in Chinese and
English, signing through records.service.sign_record (R-SIG-1 hash binding, R-SIG-2 refusal), single use,
expiry, the PDF window, photos, audit (who signed via which link), and R-ARC-3 scoping."""
from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.archive.models import ArchiveRead
from fieldservice.audit.models import AuditEvent
from fieldservice.extensions import db
from fieldservice.records.models import ServiceRecord, Signoff
from fieldservice.signing.models import SigningLink
from tests.factories import Factory
from tests.problems import problem
from tests.records.conftest import finish_visit, png_b64
from tests.signing.conftest import CUSTOMER_NAME, create_link, repair_record, upload_photo

Job = Callable[..., SimpleNamespace]
Counts = Callable[[], dict[str, int]]
HTML = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
STROKES = [[{"x": 10, "y": 10, "t": 0}, {"x": 40.5, "y": 30, "t": 16}, {"x": 80, "y": 12, "t": 40}]]


def page_hash(html: str) -> str:
    marker = 'name="content_sha256" value="'
    start = html.index(marker) + len(marker)
    return html[start:start + 64]


def sign_body(content_sha256: str, **overrides: Any) -> dict[str, Any]:
    body = {"content_sha256": content_sha256, "signer_name": "张经理", "signature_png": "data:image/png;base64,"
            + png_b64(), "strokes": STROKES, "device_time": "2026-11-23T10:00:00+08:00", "lang": "zh"}
    body.update(overrides)
    return body


def ready_link(client: FlaskClient, chinese_job: Job, *, complete: bool = True, photo: bool = False,
               **link_args: Any) -> SimpleNamespace:
    job = chinese_job()
    photo_row = upload_photo(client, job) if photo else None
    record = repair_record(client, job, photo_ids=[photo_row["id"]] if photo_row else None)
    if complete:
        finish_visit(client, job)
    link = create_link(client, record["id"], job.auth, **link_args)
    return SimpleNamespace(job=job, record=record, link=link, photo=photo_row)


def test_link_is_created_once_and_only_its_hash_is_stored(app: Flask, client: FlaskClient, chinese_job: Job,
                                                          headers: Callable[..., dict[str, str]]) -> None:
    job = chinese_job()
    record = repair_record(client, job)
    by_tech = create_link(client, record["id"], job.auth)
    by_office = create_link(client, record["id"], headers(role="office"), language="en", expires_in_hours=2)
    assert by_tech["url"].startswith("http://localhost/sign/sl_")
    assert by_tech["language"] == "zh"          # the customer's preferred language (default zh)
    assert by_office["language"] == "en"
    expires = datetime.fromisoformat(by_office["expires_at"]) - datetime.fromisoformat(by_office["created_at"])
    assert expires == timedelta(hours=2)
    with app.app_context():
        rows = db.session.scalars(sa.select(SigningLink)).all()
        assert {r.token_hash for r in rows} == {hashlib.sha256(x["token"].encode()).hexdigest()
                                                for x in (by_tech, by_office)}
        assert all(by_tech["token"] not in (r.token_hash) for r in rows)
        default = next(r for r in rows if r.id == uuid.UUID(by_tech["id"]))
        assert default.expires_at - default.created_at == timedelta(hours=app.config["SIGNING_LINK_TTL_HOURS"])
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "signing_link.create")) == 2


def test_who_may_create_a_link(client: FlaskClient, chinese_job: Job, make: Factory, count_rows: Counts,
                               headers: Callable[..., dict[str, str]]) -> None:
    job = chinese_job()
    record = repair_record(client, job)
    other_tech = make.technician()
    other_auth = {"Authorization": f"Bearer {make.token(other_tech.user_id)}"}
    customer_login = make.user("customer", customer_id=job.customer.id)
    customer_auth = {"Authorization": f"Bearer {make.token(customer_login.id)}"}
    keeper_auth = headers(role="parts_keeper")
    before = count_rows()
    url = f"/api/v1/records/{record['id']}/signing-links"
    problem(client.post(url, json={}, headers=other_auth), 404, "not_found")          # ids do not leak
    problem(client.post(url, json={}, headers=customer_auth), 403, "forbidden")
    problem(client.post(url, json={}, headers=keeper_auth), 403, "forbidden")
    problem(client.post(f"/api/v1/records/{uuid.uuid4()}/signing-links", json={}, headers=job.auth), 404, "not_found")
    problem(client.post(url, json={"language": "fr"}, headers=job.auth), 422, "validation_failed")
    problem(client.post(url, json={"expires_in_hours": 0}, headers=job.auth), 422, "validation_failed")
    problem(client.post(url, json={"expires_in_hours": "x"}, headers=job.auth), 422, "validation_failed")
    assert client.post(url, json={}).status_code == 401
    assert count_rows() == before


def test_page_shows_the_record_in_chinese_and_english(client: FlaskClient, chinese_job: Job) -> None:
    ready = ready_link(client, chinese_job, photo=True)
    zh = client.get(ready.link["path"])
    assert zh.status_code == 200 and zh.headers["Content-Type"] == "text/html; charset=utf-8"
    html = zh.get_data(as_text=True)
    for text in (CUSTOMER_NAME, "高速冷冻离心机", "维修记录", "报修故障", "离心机不启动，显示 E-12", "故障诊断",
                 "更换配件", "试机结果", "请在下方框内签字", '<canvas id="signature-pad"', 'lang="zh-CN"'):
        assert text in html, text
    with client.application.app_context():
        server = client.get(f"/api/v1/records/{ready.record['id']}/canonical", headers=ready.job.auth).get_json()
    assert page_hash(html) == server["content_sha256"]
    assert server["content_sha256"] in html
    assert f"/sign/{ready.link['token']}/photos/{ready.photo['id']}" in html
    en = client.get(ready.link["path"] + "?lang=en").get_data(as_text=True)
    for text in ("Repair record", "Reported fault", "Diagnosis", "Parts replaced", "Please sign in the box below",
                 CUSTOMER_NAME, 'lang="en"'):
        assert text in en, text
    assert "报修故障" not in en
    # no CDN: the script and style come from our own static folder
    assert "https://" not in html and "http://" not in html.replace("http://localhost", "")
    with client.application.app_context():         # R-ARC-3: each view of the page is logged with its link
        views = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "signing_link.viewed")
                                   .order_by(AuditEvent.chain_seq)).all()
        assert [e.details["language"] for e in views] == ["zh", "en"]
        assert {str(e.entity_id) for e in views} == {ready.link["id"]}
    js = client.get("/sign/static/sign.js")
    assert js.status_code == 200 and b"pointerdown" in js.data and b"toDataURL" in js.data


def test_page_security_headers(client: FlaskClient, chinese_job: Job) -> None:
    ready = ready_link(client, chinese_job)
    response = client.get(ready.link["path"])
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_sign_through_the_link_uses_the_shown_hash_and_audits_the_link(
        app: Flask, client: FlaskClient, chinese_job: Job, count_rows: Counts) -> None:
    ready = ready_link(client, chinese_job)
    shown = page_hash(client.get(ready.link["path"]).get_data(as_text=True))
    response = client.post(ready.link["path"], json=sign_body(shown), headers={"Accept": "application/json"})
    assert response.status_code == 201, response.get_data(as_text=True)
    result = response.get_json()
    assert result["content_sha256"] == shown
    with app.app_context():
        signoff = db.session.get(Signoff, uuid.UUID(result["signoff_id"]))
        assert signoff is not None and signoff.content_sha256 == shown and signoff.signer_name == "张经理"
        assert signoff.signer_role.value == "customer" and signoff.strokes == STROKES
        assert signoff.signature_png == png_b64() and signoff.captured_by_user_id is None
        assert signoff.device_id == f"signing-link/{ready.link['id']}"
        record = db.session.get(ServiceRecord, uuid.UUID(ready.record["id"]))
        assert record.is_signed and record.content_sha256 == shown
        link = db.session.get(SigningLink, uuid.UUID(ready.link["id"]))
        assert link.used_at is not None and link.signoff_id == signoff.id and link.pdf_until > link.used_at
        used = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "signing_link.used")).one()
        assert used.entity_id == link.id and used.details["signoff_id"] == str(signoff.id)
        assert used.actor_role == "customer" and used.actor_name == f"signing link {link.id}"
        signed = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "record.sign")).one()
        assert signed.actor_name == f"signing link {link.id}"

    # single use: a second use is refused (HTML page and problem+json) and nothing changes
    before = count_rows()
    problem(client.post(ready.link["path"], json=sign_body(shown)), 410, "signing_link_used")
    again = client.get(ready.link["path"], headers=HTML)
    assert again.status_code == 410 and "此签字链接已使用" in again.get_data(as_text=True)
    assert count_rows() == before
    # the done page offers the PDF
    done = client.get(result["done_url"])
    assert done.status_code == 200 and "签字成功" in done.get_data(as_text=True)
    pdf = client.get(result["pdf_url"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")


def test_html_form_post_without_script(app: Flask, client: FlaskClient, chinese_job: Job) -> None:
    ready = ready_link(client, chinese_job, language="en")
    shown = page_hash(client.get(ready.link["path"]).get_data(as_text=True))
    response = client.post(ready.link["path"], data={"content_sha256": shown, "signer_name": "Li Wei",
                                                     "strokes": json.dumps(STROKES), "lang": "en"}, headers=HTML)
    assert response.status_code == 201 and response.mimetype == "text/html"
    assert "Signed. Thank you!" in response.get_data(as_text=True)
    with app.app_context():
        signoff = db.session.scalars(sa.select(Signoff)).one()
        assert signoff.signature_png is None and signoff.strokes == STROKES


def test_r_sig_2_work_not_complete_is_refused_and_the_link_stays_open(
        app: Flask, client: FlaskClient, chinese_job: Job, count_rows: Counts) -> None:
    ready = ready_link(client, chinese_job, complete=False)
    page = client.get(ready.link["path"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "服务尚未完成，暂不能签字" in html and "signature-pad" not in html
    shown = client.get(f"/api/v1/records/{ready.record['id']}/canonical", headers=ready.job.auth).get_json()
    before = count_rows()
    problem(client.post(ready.link["path"], json=sign_body(shown["content_sha256"])), 409, "work_not_complete")
    form = client.post(ready.link["path"], data={"content_sha256": shown["content_sha256"], "signer_name": "张",
                                                 "strokes": json.dumps(STROKES)}, headers=HTML)
    assert form.status_code == 409 and "服务尚未完成" in form.get_data(as_text=True)
    assert count_rows() == before
    with app.app_context():
        assert db.session.get(SigningLink, uuid.UUID(ready.link["id"])).used_at is None
    # once the work is complete the same link works
    finish_visit(client, ready.job)
    assert client.post(ready.link["path"], json=sign_body(shown["content_sha256"])).status_code == 201


def test_hash_binding_a_changed_draft_is_not_signed_with_the_old_hash(
        client: FlaskClient, chinese_job: Job, count_rows: Counts) -> None:
    ready = ready_link(client, chinese_job)
    shown = page_hash(client.get(ready.link["path"]).get_data(as_text=True))
    # the technician edits the draft after the customer opened the page
    from tests.records.conftest import repair_content
    r = client.patch(f"/api/v1/records/{ready.record['id']}",
                     json={"content": repair_content(work_done="别的"), "lock_version": ready.record["lock_version"]},
                     headers=ready.job.auth)
    assert r.status_code == 200
    before = count_rows()
    problem(client.post(ready.link["path"], json=sign_body(shown)), 409, "content_hash_mismatch")
    assert count_rows() == before
    fresh = page_hash(client.get(ready.link["path"]).get_data(as_text=True))
    assert fresh != shown and "别的" in client.get(ready.link["path"]).get_data(as_text=True)
    assert client.post(ready.link["path"], json=sign_body(fresh)).status_code == 201


def test_bad_bodies_are_problems_and_write_nothing(client: FlaskClient, chinese_job: Job, count_rows: Counts) -> None:
    ready = ready_link(client, chinese_job)
    shown = page_hash(client.get(ready.link["path"]).get_data(as_text=True))
    before = count_rows()
    for body in (sign_body(shown, signer_name=""), sign_body("x" * 64), sign_body(shown, signature_png=None,
                 strokes=None), sign_body(shown, signature_png="data:image/png;base64,AAAA", strokes=None),
                 sign_body(shown, strokes=[[{"x": "a", "y": 1}]]), sign_body(shown, extra=1), [1, 2]):
        body = {k: v for k, v in body.items() if v is not None} if isinstance(body, dict) else body
        response = client.post(ready.link["path"], json=body)
        assert response.status_code == 422, (body, response.get_data(as_text=True))
        assert response.mimetype == "application/problem+json"
    bad_form = client.post(ready.link["path"], data={"content_sha256": shown, "signer_name": "x", "strokes": "{"}, headers=HTML)
    assert bad_form.status_code == 422 and bad_form.mimetype == "text/html"
    assert count_rows() == before


def test_unknown_and_expired_links(app: Flask, client: FlaskClient, chinese_job: Job, count_rows: Counts) -> None:
    unknown = client.get("/sign/sl_nonsense", headers=HTML)
    assert unknown.status_code == 404 and "签字链接无效" in unknown.get_data(as_text=True)
    problem(client.post("/sign/sl_nonsense", json={}), 404, "signing_link_not_found")
    problem(client.get("/sign/sl_nonsense/pdf"), 404, "signing_link_not_found")

    ready = ready_link(client, chinese_job, expires_in_hours=1)
    shown = page_hash(client.get(ready.link["path"]).get_data(as_text=True))
    before = count_rows()
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=1, minutes=1)):
        expired = client.get(ready.link["path"] + "?lang=en", headers=HTML)
        assert expired.status_code == 410 and "This signing link has expired" in expired.get_data(as_text=True)
        problem(client.post(ready.link["path"], json=sign_body(shown)), 410, "signing_link_expired")
    assert count_rows() == before


def test_pdf_through_the_link_only_after_signing_and_for_a_limited_time(
        app: Flask, client: FlaskClient, chinese_job: Job) -> None:
    ready = ready_link(client, chinese_job)
    problem(client.get(ready.link["path"] + "/pdf"), 409, "record_not_signed")
    shown = page_hash(client.get(ready.link["path"]).get_data(as_text=True))
    assert client.post(ready.link["path"], json=sign_body(shown)).status_code == 201
    assert client.get(ready.link["path"] + "/pdf").status_code == 200
    with app.app_context():
        logged = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "record.pdf_downloaded")).all()
        assert [e.details["signing_link_id"] for e in logged] == [ready.link["id"]]
    hours = app.config["SIGNING_LINK_PDF_HOURS"]
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=hours, minutes=1)):
        problem(client.get(ready.link["path"] + "/pdf"), 410, "signing_link_expired")


def test_photos_through_the_link_only_those_of_the_record(app: Flask, client: FlaskClient,
                                                          chinese_job: Job) -> None:
    ready = ready_link(client, chinese_job, photo=True)
    other = upload_photo(client, ready.job, colour=(0, 200, 0))         # same work order, not in the record
    start = datetime.now(UTC)
    thumb = client.get(f"{ready.link['path']}/photos/{ready.photo['id']}")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    problem(client.get(f"{ready.link['path']}/photos/{other['id']}"), 404, "not_found")
    problem(client.get(f"/sign/sl_nonsense/photos/{ready.photo['id']}"), 404, "signing_link_not_found")
    # R-ARC-3: the thumbnail served is an archive read of the customer's photo; the refusals read nothing
    with app.app_context():
        reads = db.session.scalars(sa.select(ArchiveRead).where(ArchiveRead.at >= start,
                                                                ArchiveRead.entity_type == "photo")).all()
        assert [(r.entity_id, r.via, r.actor_role, r.actor_name) for r in reads] == [
            (ready.photo["id"], "page", "customer", f"signing link {ready.link['id']}")]


def test_signed_record_gets_no_new_link(client: FlaskClient, chinese_job: Job, count_rows: Counts) -> None:
    ready = ready_link(client, chinese_job)
    shown = page_hash(client.get(ready.link["path"]).get_data(as_text=True))
    assert client.post(ready.link["path"], json=sign_body(shown)).status_code == 201
    before = count_rows()
    problem(client.post(f"/api/v1/records/{ready.record['id']}/signing-links", json={}, headers=ready.job.auth),
            409, "already_signed")
    assert count_rows() == before


def test_a_second_link_cannot_sign_an_already_signed_version(client: FlaskClient, chinese_job: Job,
                                                             count_rows: Counts) -> None:
    ready = ready_link(client, chinese_job)
    second = create_link(client, ready.record["id"], ready.job.auth)
    shown = page_hash(client.get(ready.link["path"]).get_data(as_text=True))
    assert client.post(ready.link["path"], json=sign_body(shown)).status_code == 201
    page = client.get(second["path"]).get_data(as_text=True)
    assert "此记录已签字" in page and "signature-pad" not in page
    before = count_rows()
    problem(client.post(second["path"], json=sign_body(shown)), 409, "already_signed")
    assert count_rows() == before


def test_an_unused_link_can_be_revoked_and_then_answers_410(app: Flask, client: FlaskClient, chinese_job: Job,
                                                            make: Factory, headers: Any) -> None:
    ready = ready_link(client, chinese_job)
    link_id = ready.link["id"]
    # another technician does not see the link; a customer may not revoke at all
    stranger = make.technician()
    other = {"Authorization": f"Bearer {make.token(stranger.user_id)}"}
    problem(client.delete(f"/api/v1/signing-links/{link_id}", headers=other), 404, "not_found")
    assert client.delete(f"/api/v1/signing-links/{link_id}", headers=headers(role="parts_keeper")).status_code == 403
    assert client.get(ready.link["path"]).status_code == 200                   # still open
    assert client.delete(f"/api/v1/signing-links/{link_id}", headers=ready.job.auth).status_code == 204
    assert client.delete(f"/api/v1/signing-links/{link_id}", headers=ready.job.auth).status_code == 204  # again: harmless
    shown = "0" * 64
    problem(client.post(ready.link["path"], json=sign_body(shown)), 410, "signing_link_expired")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Signoff)) == 0
        revoked = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "signing_link.revoke")).all()
        assert len(revoked) == 1 and str(revoked[0].entity_id) == link_id


def test_a_used_link_cannot_be_revoked(client: FlaskClient, chinese_job: Job) -> None:
    ready = ready_link(client, chinese_job)
    shown = page_hash(client.get(ready.link["path"]).get_data(as_text=True))
    assert client.post(ready.link["path"], json=sign_body(shown)).status_code == 201
    problem(client.delete(f"/api/v1/signing-links/{ready.link['id']}", headers=ready.job.auth), 409, "conflict")
    assert client.get(ready.link["path"] + "/pdf").status_code == 200               # the signed PDF stays reachable


def test_a_used_link_offers_the_signed_pdf_while_its_pdf_window_is_open(
        app: Flask, client: FlaskClient, chinese_job: Job) -> None:
    """Reopening a used link: still 410 signing_link_used (it cannot sign again), but the page links the signed
    PDF, in the customer's language, until the link's PDF window closes; the download is an archive read."""
    ready = ready_link(client, chinese_job, language="en")
    shown = page_hash(client.get(ready.link["path"]).get_data(as_text=True))
    assert client.post(ready.link["path"], json=sign_body(shown)).status_code == 201
    pdf_path = ready.link["path"] + "/pdf"

    used = client.get(ready.link["path"], headers=HTML)          # no ?lang: the link's language (en)
    html = used.get_data(as_text=True)
    assert used.status_code == 410 and used.mimetype == "text/html"
    assert "This signing link has already been used." in html
    assert "you can still download the signed PDF" in html
    assert f'<a id="pdf-link" class="button" href="{pdf_path}" download>Download PDF</a>' in html
    zh = client.get(ready.link["path"] + "?lang=zh", headers=HTML).get_data(as_text=True)
    assert "此签字链接已使用" in zh and "您仍可下载已签字记录的 PDF" in zh
    assert f'href="{pdf_path}" download>下载 PDF</a>' in zh
    body = problem(client.get(ready.link["path"]), 410, "signing_link_used")
    assert body["pdf_url"] == pdf_path and datetime.fromisoformat(body["pdf_until"]) > datetime.now(UTC)
    # a second post gets the same answer (and signs nothing)
    assert problem(client.post(ready.link["path"], json=sign_body(shown)), 410,
                   "signing_link_used")["pdf_url"] == pdf_path

    # the link on the page works, and the download is logged in the archive read log (R-ARC-3)
    start = datetime.now(UTC)
    pdf = client.get(pdf_path)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    with app.app_context():
        reads = db.session.scalars(sa.select(ArchiveRead).where(ArchiveRead.at >= start)).all()
        assert [(r.entity_type, r.entity_id, r.via, r.actor_role, r.actor_name) for r in reads] == [
            ("service_record", ready.record["id"], "page", "customer", f"signing link {ready.link['id']}")]

    # after the PDF window: no link on the page, no pdf_url, and the PDF itself is 410
    hours = app.config["SIGNING_LINK_PDF_HOURS"]
    with time_machine.travel(datetime.now(UTC) + timedelta(hours=hours, minutes=1)):
        late = client.get(ready.link["path"], headers=HTML)
        late_html = late.get_data(as_text=True)
        assert late.status_code == 410 and "This signing link has already been used." in late_html
        assert "pdf-link" not in late_html and "/pdf" not in late_html
        body = problem(client.get(ready.link["path"]), 410, "signing_link_used")
        assert "pdf_url" not in body and "pdf_until" not in body
        problem(client.get(pdf_path), 410, "signing_link_expired")


def test_an_unused_link_page_has_no_pdf_link(client: FlaskClient, chinese_job: Job) -> None:
    ready = ready_link(client, chinese_job)
    html = client.get(ready.link["path"], headers=HTML).get_data(as_text=True)
    assert "pdf-link" not in html
    with time_machine.travel(datetime.now(UTC) + timedelta(days=31)):
        expired = client.get(ready.link["path"], headers=HTML)
        assert expired.status_code == 410 and "pdf-link" not in expired.get_data(as_text=True)
        assert "pdf_url" not in problem(client.get(ready.link["path"]), 410, "signing_link_expired")
