"""Record and service-report PDFs: Chinese text comes out of the PDF (checked by extracting it with pypdf),
with the photo, the signature image, the signer, the signing time and the hash line; regenerating gives the
same hash line and the same bytes; read rules as for the record (R-ARC-3) and every download is logged."""
from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader

from fieldservice.archive.models import ArchiveRead
from fieldservice.audit.models import AuditEvent
from fieldservice.extensions import db
from tests.factories import Factory
from tests.records.conftest import ACCEPTED, create_record, finish_visit, sign
from tests.signing.conftest import CUSTOMER_NAME, PRODUCT_NAME, repair_record, upload_photo

Job = Callable[..., SimpleNamespace]
Counts = Callable[[], dict[str, int]]


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def image_count(data: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(data)).pages)


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def signed_repair(client: FlaskClient, chinese_job: Job, *, photo: bool = True) -> SimpleNamespace:
    job = chinese_job()
    photo_row = upload_photo(client, job) if photo else None
    record = repair_record(client, job, photo_ids=[photo_row["id"]] if photo_row else None)
    finish_visit(client, job)
    response = sign(client, job, record["id"])
    assert response.status_code == 201, response.get_data(as_text=True)
    return SimpleNamespace(job=job, record=record, signoff=response.get_json())


def test_record_pdf_has_chinese_names_photo_signature_and_a_stable_hash_line(
        app: Flask, client: FlaskClient, chinese_job: Job, artifacts_dir: Path) -> None:
    done = signed_repair(client, chinese_job)
    url = f"/api/v1/records/{done.record['id']}/pdf"
    first = client.get(url, headers=done.job.auth)
    assert first.status_code == 200 and first.mimetype == "application/pdf"
    assert "attachment" in first.headers["Content-Disposition"]
    (artifacts_dir / "record.pdf").write_bytes(first.data)          # for a person to look at
    text = compact(pdf_text(first.data))
    for expected in (CUSTOMER_NAME, PRODUCT_NAME, "维修记录", "报修故障", "离心机不启动，显示E-12", "更换控制板",
                     "签字人:张客户", "签字时间:", "文件哈希(SHA-256):" + done.signoff["content_sha256"]):
        assert compact(expected) in text, expected
    # the signing time in the site's zone (Asia/Shanghai) with its offset
    assert "+08:00(Asia/Shanghai)" in text
    assert image_count(first.data) == 2                      # the photo and the signature
    again = client.get(url, headers=done.job.auth)
    assert again.data == first.data                          # invariant: same bytes, same hash line
    english = pdf_text(client.get(url + "?lang=en", headers=done.job.auth).data)
    assert "Document hash (SHA-256): " + done.signoff["content_sha256"] in english
    assert "Reported fault" in english and CUSTOMER_NAME in compact(english)
    with app.app_context():
        logged = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "record.pdf_downloaded")).all()
        assert len(logged) == 3 and {str(e.entity_id) for e in logged} == {done.record["id"]}
        # R-ARC-3: each download is also an archive read, with who and through which door
        reads = db.session.scalars(sa.select(ArchiveRead).where(ArchiveRead.entity_id == done.record["id"],
                                                                 ArchiveRead.via == "api")).all()
        assert len(reads) >= 3 and {r.actor_role for r in reads} == {"technician"}


def test_record_pdf_read_rules(client: FlaskClient, chinese_job: Job, make: Factory, count_rows: Counts,
                               headers: Callable[..., dict[str, str]]) -> None:
    done = signed_repair(client, chinese_job, photo=False)
    url = f"/api/v1/records/{done.record['id']}/pdf"
    own = make.user("customer", customer_id=done.job.customer.id)
    stranger = make.user("customer", customer_id=make.customer("别的客户").id)
    other_tech = make.technician()
    own_auth, stranger_auth = ({"Authorization": f"Bearer {make.token(u.id)}"} for u in (own, stranger))
    other_tech_auth = {"Authorization": f"Bearer {make.token(other_tech.user_id)}"}
    office_auth = headers(role="office")
    assert client.get(url, headers=own_auth).status_code == 200
    assert client.get(url, headers=office_auth).status_code == 200
    before = count_rows()
    for auth in (stranger_auth, other_tech_auth):               # R-ARC-3: not theirs, and ids do not leak
        response = client.get(url, headers=auth)
        assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert client.get(url).status_code == 401
    assert client.get(url + "?lang=fr", headers=office_auth).status_code == 422
    assert count_rows() == before


def test_a_draft_has_no_pdf(client: FlaskClient, chinese_job: Job, count_rows: Counts) -> None:
    job = chinese_job()
    record = repair_record(client, job)
    before = count_rows()
    response = client.get(f"/api/v1/records/{record['id']}/pdf", headers=job.auth)
    assert response.status_code == 409 and response.get_json()["type"] == "/problems/record_not_signed"
    assert count_rows() == before


def test_service_report_has_every_record_of_the_work_order(app: Flask, client: FlaskClient, chinese_job: Job,
                                                          headers: Callable[..., dict[str, str]],
                                                          artifacts_dir: Path) -> None:
    done = signed_repair(client, chinese_job)
    acceptance = create_record(client, done.job, "work_order_acceptance", ACCEPTED)
    survey = create_record(client, done.job, "satisfaction_survey",
                           {"ratings": {"response_time": 5, "attitude": 5, "quality": 4, "overall": 5},
                            "would_recommend": True, "comments": "服务很好"})
    signed_acceptance = sign(client, done.job, acceptance["id"]).get_json()
    url = f"/api/v1/work-orders/{done.job.order.id}/report.pdf"
    auth = headers(role="office")
    first = client.get(url, headers=auth)
    assert first.status_code == 200 and first.mimetype == "application/pdf"
    text = compact(pdf_text(first.data))
    for expected in ("售后服务报告单", CUSTOMER_NAME, PRODUCT_NAME, "维修记录", "工单验收", "满意度调查", "服务很好",
                     "验收合格", done.signoff["content_sha256"], signed_acceptance["content_sha256"], "未签字"):
        assert compact(expected) in text, expected
    report_line = re.search(r"报告哈希\(SHA-256\):([0-9a-f]{64})", text)
    assert report_line is not None
    (artifacts_dir / "service-report.pdf").write_bytes(first.data)
    second = client.get(url, headers=auth)
    assert second.data == first.data
    # the report hash changes when a record is signed: it binds the records' signed hashes
    sign(client, done.job, survey["id"])
    third = compact(pdf_text(client.get(url, headers=auth).data))
    new_line = re.search(r"报告哈希\(SHA-256\):([0-9a-f]{64})", third)
    assert new_line is not None and new_line.group(1) != report_line.group(1)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "work_order.report_downloaded")) == 3
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ArchiveRead).where(
            ArchiveRead.entity_type == "work_order_report", ArchiveRead.entity_id == str(done.job.order.id))) == 3


def test_service_report_scoping(client: FlaskClient, chinese_job: Job, make: Factory) -> None:
    done = signed_repair(client, chinese_job, photo=False)
    url = f"/api/v1/work-orders/{done.job.order.id}/report.pdf"
    stranger = make.user("customer", customer_id=make.customer().id)
    own = make.user("customer", customer_id=done.job.customer.id)
    assert client.get(url, headers={"Authorization": f"Bearer {make.token(stranger.id)}"}).status_code == 404
    assert client.get(url, headers={"Authorization": f"Bearer {make.token(own.id)}"}).status_code == 200
    assert client.get(url, headers=done.job.auth).status_code == 200


def test_missing_font_is_a_clear_503(app: Flask, client: FlaskClient, chinese_job: Job,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    done = signed_repair(client, chinese_job, photo=False)
    monkeypatch.setitem(app.config, "PDF_CJK_FONT", "/nonexistent/font.ttf")
    response = client.get(f"/api/v1/records/{done.record['id']}/pdf", headers=done.job.auth)
    assert response.status_code == 503 and response.get_json()["type"] == "/problems/pdf_font_missing"
