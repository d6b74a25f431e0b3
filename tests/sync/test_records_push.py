"""Records and sign-offs by sync push (issue 6 item 5): drafts written offline, sign-offs captured offline
and accepted only on the server's canonical hash with the work complete (R-SIG-1/2) — a completion in the
same push counts — otherwise quarantined with the reason, nothing lost; replays change nothing."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.claims.models import CarrierClaim
from fieldservice.extensions import db
from fieldservice.records.models import RecordStatus, ServiceRecord, Signoff
from sync.models import RejectionStatus, SyncRejection
from tests.factories import Factory
from tests.records.conftest import installation_content, png_b64, repair_content

SIGNED_TABLES = ("service_records", "signoffs", "archive_log", "sync_rejections", "carrier_claims", "assets")


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def ago(hours: float) -> datetime:
    return (datetime.now(UTC) - timedelta(hours=hours)).replace(microsecond=0)


def _job(make: Factory, kind: str = "repair") -> Any:
    from types import SimpleNamespace

    line = make.product_line()
    product = make.product(line.id)
    tech = make.technician(certified_for=[line.id])
    order = make.work_order(kind=kind, product_id=product.id)
    visit = make.visit(order.id, start=ago(3), technician_id=tech.id)
    return SimpleNamespace(order=order, visit=visit, technician=tech)


def _draft(phone: Any, job: Any, kind: str = "repair_record", content: dict[str, Any] | None = None) -> str:
    return phone.create("service_records", kind=kind, visit_id=str(job.visit.id),
                        content_json=json.dumps(content or repair_content(), ensure_ascii=False))


def _complete(phone: Any, job: Any) -> None:
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(ago(2)))
    phone.edit("visits", job.visit.id, status="completed", departed_at=ms(ago(1)), work_complete=True)


def _hash(client: FlaskClient, phone: Any, record_id: str) -> str:
    r = client.get(f"/api/v1/records/{record_id}/canonical", headers=phone.auth)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["content_sha256"]  # type: ignore[no-any-return]


def _signoff(phone: Any, record_id: str, sha: str, content: dict[str, Any] | None = None) -> str:
    return phone.create("signoffs", record_id=record_id, content_sha256=sha, signer_name="张客户",
                        signer_role="customer", signature_png=png_b64(),
                        strokes_json=json.dumps([[{"x": 1, "y": 2, "t": 0}, {"x": 5, "y": 6, "t": 20}]]),
                        content_json=None if content is None else json.dumps(content, ensure_ascii=False),
                        device_id="phone-7 (华为)", device_time=ms(ago(0.5)), latitude=31.2, longitude=121.5)


def _rejections(app: Flask) -> list[SyncRejection]:
    with app.app_context():
        return list(db.session.scalars(sa.select(SyncRejection).where(SyncRejection.status == RejectionStatus.OPEN)
                                       .order_by(SyncRejection.received_at)))


def test_draft_written_offline_arrives_and_pulls_back_with_its_version(app: Flask, make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = _job(make)
    phone = phone_for(job.technician)
    phone.sync()
    record_id = _draft(phone, job)
    result = phone.sync()
    assert result["accepted"] == 1 and result["rejected"] == 0
    with app.app_context():
        record = db.session.get(ServiceRecord, uuid.UUID(record_id))
        assert record.status is RecordStatus.DRAFT and record.content["reported_fault"] == "不制冷 no cooling"
    phone.sync()
    pulled = phone.get("service_records", record_id)
    assert pulled["lock_version"] == 1 and pulled["status"] == "draft" and pulled["sync_status"] == "synced"
    assert json.loads(pulled["content_json"])["reported_fault"] == "不制冷 no cooling"
    # an offline edit carries the version it was made from
    phone.edit("service_records", record_id, content_json=json.dumps(repair_content(work_done="换了继电器")))
    assert phone.sync()["accepted"] == 1
    with app.app_context():
        record = db.session.get(ServiceRecord, uuid.UUID(record_id))
        assert record.content["work_done"] == "换了继电器" and record.lock_version == 2


def test_stale_offline_edit_is_quarantined_and_the_server_version_kept(app: Flask, client: FlaskClient,
                                                                       make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = _job(make)
    phone = phone_for(job.technician)
    phone.sync()
    record_id = _draft(phone, job)
    phone.sync()
    phone.sync()  # pulls lock_version 1
    # meanwhile the office-side/API edit moves the draft to version 2
    r = client.patch(f"/api/v1/records/{record_id}", headers=phone.auth,
                     json={"content": repair_content(work_done="server edit"), "lock_version": 1})
    assert r.status_code == 200
    # the phone edits the version 1 it holds and pushes before it pulled version 2
    phone.edit("service_records", record_id, content_json=json.dumps(repair_content(work_done="phone edit")))
    assert phone.get("service_records", record_id)["lock_version"] == 1
    result = phone.push()
    assert result["rejected"] == 1
    [rejection] = _rejections(app)
    assert rejection.reason_code == "stale_version" and "current version is 2" in rejection.reason
    assert json.loads(rejection.payload["content_json"])["work_done"] == "phone edit"  # nothing lost
    with app.app_context():
        assert db.session.get(ServiceRecord, uuid.UUID(record_id)).content["work_done"] == "server edit"
    phone.sync()
    assert phone.get("service_records", record_id)["sync_status"] == "rejected"


def test_pushed_signoff_with_matching_hash_after_completion_is_accepted(app: Flask, client: FlaskClient,
                                                                        make: Factory, phone_for) -> None:  # type: ignore[no-untyped-def]
    job = _job(make)
    phone = phone_for(job.technician)
    phone.sync()
    record_id = _draft(phone, job)
    _complete(phone, job)
    phone.sync()
    sha = _hash(client, phone, record_id)
    signoff_id = _signoff(phone, record_id, sha, content=repair_content())
    result = phone.sync()
    assert result["accepted"] == 1 and result["rejected"] == 0, result
    with app.app_context():
        signoff = db.session.get(Signoff, uuid.UUID(signoff_id))
        assert signoff is not None and signoff.content_sha256 == sha and signoff.device_id == "phone-7 (华为)"
        assert signoff.signature_png_sha256 and signoff.strokes == [[{"x": 1, "y": 2, "t": 0}, {"x": 5, "y": 6, "t": 20}]]
        record = db.session.get(ServiceRecord, uuid.UUID(record_id))
        assert record.status is RecordStatus.SIGNED and record.content_sha256 == sha
    phone.sync()
    assert phone.get("service_records", record_id)["status"] == "signed"
    assert phone.get("signoffs", signoff_id)["sync_status"] == "synced"
    # the same sign-off through the API is refused: one signature per version
    assert client.get(f"/api/v1/records/{record_id}", headers=phone.auth).get_json()["signoff"]["id"] == signoff_id


def test_completion_and_signoff_in_the_same_push_are_accepted(app: Flask, client: FlaskClient, make: Factory,
                                                              phone_for) -> None:  # type: ignore[no-untyped-def]
    job = _job(make)
    phone = phone_for(job.technician)
    phone.sync()
    record_id = _draft(phone, job)
    phone.sync()
    sha = _hash(client, phone, record_id)
    _complete(phone, job)                      # not yet on the server
    signoff_id = _signoff(phone, record_id, sha)
    result = phone.sync()
    assert result["rejected"] == 0 and result["accepted"] == 2, result
    with app.app_context():
        assert db.session.get(Signoff, uuid.UUID(signoff_id)) is not None


def test_signoff_before_the_work_is_complete_is_quarantined(app: Flask, client: FlaskClient, make: Factory,
                                                            phone_for, count_rows) -> None:  # type: ignore[no-untyped-def]
    job = _job(make)
    phone = phone_for(job.technician)
    phone.sync()
    record_id = _draft(phone, job)
    phone.sync()
    sha = _hash(client, phone, record_id)
    before = count_rows()
    signoff_id = _signoff(phone, record_id, sha)
    result = phone.sync()
    assert result["rejected"] == 1
    [rejection] = _rejections(app)
    assert (rejection.table_name, rejection.record_id) == ("signoffs", signoff_id)
    assert rejection.reason_code == "conditions_not_met"   # the lifecycle gate's refusal, R-SIG-2
    assert [c["code"] for c in rejection.unmet_conditions] == ["work_not_complete"]
    assert rejection.payload["content_sha256"] == sha and rejection.payload["signature_png"]  # nothing lost
    after = count_rows()
    assert after["signoffs"] == before["signoffs"] == 0 and after["archive_log"] == before["archive_log"]
    # the phone learns it on the next pull
    phone.sync()
    echoed = phone.get("signoffs", signoff_id)
    assert echoed["sync_status"] == "rejected" and "not complete" in echoed["rejection_reason"]
    assert client.get("/api/v1/sync/rejections", headers={
        "Authorization": f"Bearer {make.token(make.user('dispatcher').id)}"}).get_json()["meta"]["total"] == 1


def test_signoff_with_a_hash_mismatch_is_quarantined(app: Flask, client: FlaskClient, make: Factory,
                                                     phone_for) -> None:  # type: ignore[no-untyped-def]
    job = _job(make)
    phone = phone_for(job.technician)
    phone.sync()
    record_id = _draft(phone, job)
    _complete(phone, job)
    phone.sync()
    sha = _hash(client, phone, record_id)
    # the customer saw other content than the server holds (e.g. an edit the server refused)
    seen = repair_content(work_done="客户看到的是另一版本")
    wrong = "0" * 64
    first = _signoff(phone, record_id, wrong)
    result = phone.sync()
    assert result["rejected"] == 1
    # the content sent does not hash to the hash sent either
    second = _signoff(phone, record_id, sha, content=seen)
    assert phone.sync()["rejected"] == 1
    by_id = {r.record_id: r for r in _rejections(app)}
    assert by_id[first].reason_code == "content_hash_mismatch" and by_id[second].reason_code == "content_hash_mismatch"
    assert json.loads(by_id[second].payload["content_json"])["work_done"] == "客户看到的是另一版本"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Signoff)) == 0
        assert db.session.get(ServiceRecord, uuid.UUID(record_id)).status is RecordStatus.DRAFT


def test_replay_of_a_signing_push_changes_nothing(app: Flask, client: FlaskClient, make: Factory, phone_for,
                                                  count_rows) -> None:  # type: ignore[no-untyped-def]
    job = _job(make)
    phone = phone_for(job.technician)
    phone.sync()
    record_id = _draft(phone, job)
    phone.sync()
    sha = _hash(client, phone, record_id)
    _complete(phone, job)
    _signoff(phone, record_id, sha)
    snapshot = {name: {k: (v.status, set(v.changed), dict(v.data)) for k, v in recs.items()}
                for name, recs in phone.tables.items()}
    key = uuid.uuid4()
    first = phone.push(key=key)
    assert first["rejected"] == 0
    before = count_rows()

    def restore() -> None:
        for name, recs in snapshot.items():
            for record_id_, (status, changed, data) in recs.items():
                phone.tables[name][record_id_].status = status
                phone.tables[name][record_id_].changed = changed
                phone.tables[name][record_id_].data = data

    restore()
    assert phone.push(key=key) == first            # same key: the stored answer
    assert count_rows() == before
    restore()
    again = phone.push()                            # lost answer, new key: an upsert that changes nothing
    assert again["rejected"] == 0
    counts = count_rows()
    assert {k: counts[k] for k in SIGNED_TABLES} == {k: before[k] for k in SIGNED_TABLES}


def test_installation_sheet_with_damage_pushed_offline_opens_the_same_claim(app: Flask, make: Factory,
                                                                            phone_for) -> None:  # type: ignore[no-untyped-def]
    """R-INS-2 on the sync path: the same service call as the API creates the carrier claim; damage
    without photos is quarantined (422), nothing lost."""
    import io

    from PIL import Image

    job = _job(make, kind="installation")
    phone = phone_for(job.technician)
    phone.sync()
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buf, format="PNG")
    r = phone.client.post("/api/v1/photos", headers=phone.auth, content_type="multipart/form-data", data={
        "visit_id": str(job.visit.id), "kind": "packaging_damage", "file": (io.BytesIO(buf.getvalue()), "d.png")})
    assert r.status_code == 201, r.get_data(as_text=True)
    bad = _draft(phone, job, "installation_sheet", installation_content(packaging={"damaged": True}))
    assert phone.sync()["rejected"] == 1
    [rejection] = _rejections(app)
    assert rejection.record_id == bad and rejection.reason_code == "validation_failed"
    phone.tables["service_records"].pop(bad)
    good = _draft(phone, job, "installation_sheet", installation_content(
        packaging={"damaged": True, "photo_ids": [r.get_json()["id"]], "carrier_name": "顺丰"}))
    assert phone.sync()["rejected"] == 0
    with app.app_context():
        claim = db.session.scalar(sa.select(CarrierClaim))
        assert claim is not None and str(claim.record_root_id) == good and claim.carrier_name == "顺丰"
