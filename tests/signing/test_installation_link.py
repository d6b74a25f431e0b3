"""An installation sheet signed through a signing link (/sign/<token>), issue 12: the page offers no
signature pad and the signature is refused while the unit differs from the contract (R-INS-3) or the
sheet is incomplete (R-INS-4/5); the link stays usable, and once the back office resolved the mismatch
the same link signs and the unit enters the archive (R-INS-6)."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from types import SimpleNamespace

from flask import Flask
from flask.testing import FlaskClient

from fieldservice.assets.models import Asset
from fieldservice.extensions import db
from fieldservice.signing.models import SigningLink
from tests.factories import Factory
from tests.records.conftest import (
    contract_content,
    create_record,
    finish_visit,
    sheet_for,
)
from tests.signing.conftest import create_link
from tests.signing.test_signing_links import HTML, problem, sign_body

Job = Callable[..., SimpleNamespace]
Counts = Callable[[], dict[str, int]]


def test_r_ins_3_signing_link_refuses_a_sheet_whose_unit_differs_from_the_contract(
        app: Flask, client: FlaskClient, contract_job: Job, make: Factory, count_rows: Counts) -> None:
    """R-INS-3: the sheet says expected = found = SN-7, the contract says SN-1: the page shows the refusal
    without a signature pad, a signature is refused (JSON and HTML form) and nothing is written; the link
    stays open and signs once the back office resolved it (before: signed, serial rewritten)."""
    job = contract_job()
    record = create_record(client, job, "installation_sheet", contract_content(job))
    finish_visit(client, job)
    # the draft is edited after the work was reported complete (the completion itself is refused for a mismatch)
    r = client.patch(f"/api/v1/records/{record['id']}", headers=job.auth, json={
        "content": contract_content(job, serial="SN-7", typed_serial="SN-7"), "lock_version": record["lock_version"]})
    assert r.status_code == 200, r.get_data(as_text=True)
    record = r.get_json()
    link = create_link(client, record["id"], job.auth)
    page = client.get(link["path"], headers=HTML)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "装机单暂不能签字" in html and "signature-pad" not in html
    shown = client.get(f"/api/v1/records/{record['id']}/canonical", headers=job.auth).get_json()["content_sha256"]
    before = count_rows()
    body = problem(client.post(link["path"], json=sign_body(shown)), 409, "contract_mismatch")
    [mismatch] = [m for c in body["unmet_conditions"] if c["code"] == "contract_mismatch" for m in c["details"]["mismatches"]]
    assert mismatch["expected"] == "SN-1" and mismatch["found"] == "SN-7"
    form = client.post(link["path"], data={"content_sha256": shown, "signer_name": "张经理",
                                           "strokes": '[[{"x": 1, "y": 2, "t": 0}]]'}, headers=HTML)
    assert form.status_code == 409 and "装机单暂不能签字" in form.get_data(as_text=True)
    assert count_rows() == before
    with app.app_context():
        assert db.session.get(SigningLink, uuid.UUID(link["id"])).used_at is None
    office = {"Authorization": f"Bearer {make.token(make.user('office').id)}"}
    r = client.post(f"/api/v1/work-orders/{job.order.id}/contract-resolutions", headers=office,
                    json={"item": "serial_number", "resolution": "合同变更：SN-7 代替 SN-1"})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert "signature-pad" in client.get(link["path"], headers=HTML).get_data(as_text=True)
    signed = client.post(link["path"], json=sign_body(shown))
    assert signed.status_code == 201, signed.get_data(as_text=True)
    asset = make.get(Asset, job.asset.id)
    assert asset.serial_number == "SN-7" and asset.status == "in_service"


def test_r_ins_5_signing_link_refuses_an_installation_sheet_without_training_or_reason(
        client: FlaskClient, job_of: Job, count_rows: Counts) -> None:
    """R-INS-5 through the link: training not given and no reason recorded: refused, nothing written."""
    job = job_of("installation")
    record = create_record(client, job, "installation_sheet", sheet_for(job, training={"given": False}))
    finish_visit(client, job)
    link = create_link(client, record["id"], job.auth)
    assert "signature-pad" not in client.get(link["path"], headers=HTML).get_data(as_text=True)
    shown = client.get(f"/api/v1/records/{record['id']}/canonical", headers=job.auth).get_json()["content_sha256"]
    before = count_rows()
    body = problem(client.post(link["path"], json=sign_body(shown)), 409, "training_not_recorded")
    assert [c["code"] for c in body["unmet_conditions"]] == ["training_not_recorded"]
    assert count_rows() == before
