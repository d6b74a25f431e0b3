"""Consent and chargeable work from the technician's phone (R-REP-4): quotes pull to the phone, a charge
without consent is quarantined with the reason (visible in /api/v1/sync/rejections and on the next pull),
a consent pushed with the charges it covers counts, a consent with a wrong hash is quarantined."""
from __future__ import annotations

import json
import time
import uuid

import sqlalchemy as sa
from flask import Flask

from fieldservice.commerce.models import Quote, QuoteConsent, QuoteStatus, VisitCharge
from fieldservice.extensions import db
from sync.models import SyncRejection
from tests.commerce.conftest import BOARD, LABOUR, PART, line
from tests.factories import Factory


def now_ms() -> int:
    return int(time.time() * 1000)


def test_quotes_pull_to_the_technicians_phone(app: Flask, job, quote_for, phone_for, make: Factory) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("part", PART), line("labour", LABOUR, "1.5")], notes="试机 30 分钟")
    phone = phone_for(job.technician)
    phone.sync()
    pulled = phone.get("quotes", quote["id"])
    assert pulled["status"] == "presented" and pulled["content_sha256"] == quote["content_sha256"]
    assert "试机" in pulled["canonical_json"]
    lines = sorted((r.data for r in phone.tables["quote_lines"].values()), key=lambda r: r["position"])
    assert [(ln["code"], ln["quantity_centi"]) for ln in lines] == [(PART, 100), (LABOUR, 150)]
    # another technician's phone does not get it
    other = make.dispatched_job()
    other_phone = phone_for(other.technician)
    other_phone.sync()
    assert other_phone.ids("quotes") == set()


def test_charge_without_consent_is_quarantined_with_the_reason(app: Flask, job, van, quote_for, phone_for,
                                                               headers, client) -> None:  # type: ignore[no-untyped-def]
    quote_for(job, [line("part", BOARD)])
    phone = phone_for(job.technician)
    phone.sync()
    charge_id = phone.create("visit_charges", visit_id=str(job.visit.id), kind="part", code=BOARD,
                             quantity_centi=100, serial_numbers=json.dumps(["CB-1"]))
    result = phone.sync()
    assert result["accepted"] == 0 and result["rejected"] == 1
    with app.app_context():
        assert db.session.get(VisitCharge, uuid.UUID(charge_id)) is None
        rejection = db.session.scalars(sa.select(SyncRejection)).one()
        assert rejection.reason_code == "consent_required" and rejection.table_name == "visit_charges"
        assert rejection.payload["code"] == BOARD  # kept, not lost
    listed = client.get("/api/v1/sync/rejections", headers=headers(role="dispatcher")).get_json()
    assert [r["reason_code"] for r in listed["items"]] == ["consent_required"]
    phone.sync()
    echoed = phone.get("visit_charges", charge_id)
    assert echoed["sync_status"] == "rejected" and "consent" in echoed["rejection_reason"]


def test_consent_pushed_with_the_charges_it_covers_counts(app: Flask, job, van, quote_for, phone_for) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("part", BOARD), line("labour", LABOUR, 2)])
    phone = phone_for(job.technician)
    phone.sync()
    sha = phone.get("quotes", quote["id"])["content_sha256"]
    # offline: the customer accepts on the phone, then the technician records the work
    consent_id = phone.create("quote_consents", quote_id=quote["id"], decision="accepted", content_sha256=sha,
                              signer_name="王经理", visit_id=str(job.visit.id), device="phone-7",
                              device_time=now_ms())
    part_id = phone.create("visit_charges", visit_id=str(job.visit.id), kind="part", code=BOARD,
                           quantity_centi=100, serial_numbers=json.dumps(["CB-2"]))
    labour_id = phone.create("visit_charges", visit_id=str(job.visit.id), kind="labour", code=LABOUR,
                             quantity_centi=200)
    result = phone.sync()
    assert result["rejected"] == 0 and result["accepted"] == 3
    with app.app_context():
        consent = db.session.get(QuoteConsent, uuid.UUID(consent_id))
        assert consent.content_sha256 == sha and consent.device_id == "phone-7" and consent.device_time is not None
        assert db.session.get(Quote, consent.quote_id).status is QuoteStatus.ACCEPTED
        part = db.session.get(VisitCharge, uuid.UUID(part_id))
        assert part.serial_numbers == ["CB-2"] and part.unit_price_minor == 50_000
        assert part.stock_movement_id is not None       # the board left the van (R-REP-6)
        assert db.session.get(VisitCharge, uuid.UUID(labour_id)).quote_line_id is not None
    # the re-push of the same records (lost answer) changes nothing
    phone.tables["visit_charges"][part_id].status = "created"
    assert phone.sync()["rejected"] == 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(VisitCharge)) == 2


def test_consent_with_a_wrong_hash_is_quarantined_and_covers_nothing(app: Flask, job, van, quote_for, phone_for) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("part", PART)])
    phone = phone_for(job.technician)
    phone.sync()
    consent_id = phone.create("quote_consents", quote_id=quote["id"], decision="accepted", content_sha256="f" * 64,
                              signer_name="王经理", visit_id=str(job.visit.id), device="phone-7", device_time=now_ms())
    charge_id = phone.create("visit_charges", visit_id=str(job.visit.id), kind="part", code=PART, quantity_centi=100)
    result = phone.sync()
    assert result["rejected"] == 2
    with app.app_context():
        assert db.session.get(QuoteConsent, uuid.UUID(consent_id)) is None and db.session.get(VisitCharge, uuid.UUID(charge_id)) is None
        codes = {r.table_name: r.reason_code for r in db.session.scalars(sa.select(SyncRejection))}
        assert codes == {"quote_consents": "content_hash_mismatch", "visit_charges": "consent_required"}
        assert db.session.get(Quote, uuid.UUID(quote["id"])).status is QuoteStatus.PRESENTED


def test_declined_on_the_phone_then_charge_is_quarantined(app: Flask, job, van, quote_for, phone_for) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("part", PART)])
    phone = phone_for(job.technician)
    phone.sync()
    sha = phone.get("quotes", quote["id"])["content_sha256"]
    phone.create("quote_consents", quote_id=quote["id"], decision="declined", content_sha256=sha,
                 signer_name="王经理", visit_id=str(job.visit.id), device="phone-7", device_time=now_ms())
    phone.create("visit_charges", visit_id=str(job.visit.id), kind="part", code=PART, quantity_centi=100)
    result = phone.sync()
    assert result["accepted"] == 1 and result["rejected"] == 1
    phone.sync()
    assert phone.get("quotes", quote["id"])["status"] == "declined"


def test_consents_apply_first_whatever_the_order_in_the_body(app: Flask, job, quote_for, client) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("fee", "FEE-ONSITE")])
    stamp = now_ms()
    body = {"changes": {  # charges listed before the consent that covers them
        "visit_charges": {"created": [{"id": str(uuid.uuid4()), "visit_id": str(job.visit.id), "kind": "fee",
                                       "code": "FEE-ONSITE", "quantity_centi": 100, "created_at": stamp,
                                       "updated_at": stamp}], "updated": [], "deleted": []},
        "quote_consents": {"created": [{"id": str(uuid.uuid4()), "quote_id": quote["id"], "decision": "accepted",
                                        "content_sha256": quote["content_sha256"], "signer_name": "张三",
                                        "visit_id": str(job.visit.id), "created_at": stamp, "updated_at": stamp}],
                           "updated": [], "deleted": []}}}
    response = client.post("/api/v1/sync/push", data=json.dumps(body),
                           headers={**job.tech_auth, "Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 200 and response.get_json()["rejected"] == 0


def test_quarantined_charge_is_accepted_when_pushed_again_after_consent(app: Flask, job, van, quote_for, phone_for,
                                                                         consent) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("part", PART)])
    phone = phone_for(job.technician)
    phone.sync()
    charge_id = phone.create("visit_charges", visit_id=str(job.visit.id), kind="part", code=PART, quantity_centi=100)
    assert phone.sync()["rejected"] == 1
    consent(job, quote)                       # the customer agrees (on another path)
    phone.tables["visit_charges"][charge_id].status = "created"   # the app re-sends the record
    assert phone.sync()["rejected"] == 0
    with app.app_context():
        assert db.session.get(VisitCharge, uuid.UUID(charge_id)) is not None
        statuses = [r.status.value for r in db.session.scalars(sa.select(SyncRejection))]
        assert statuses == ["superseded"]


def test_consent_with_an_overlong_signer_name_is_quarantined_not_a_refused_push(app: Flask, job, quote_for,  # type: ignore[no-untyped-def]
                                                                                 phone_for) -> None:
    """Found by tests/sync/test_fuzz_push.py: a pushed consent skips the API's schema, so a 10,000-character
    signer_name reached the 120-character column and PostgreSQL refused the whole push (422 unstorable_value,
    the phone stuck retrying). The service checks the length (R-REP-4 rules unchanged): quarantined."""
    quote = quote_for(job, [line("part", PART)])
    phone = phone_for(job.technician)
    phone.sync()
    sha = phone.get("quotes", quote["id"])["content_sha256"]
    consent_id = phone.create("quote_consents", quote_id=quote["id"], decision="accepted", content_sha256=sha,
                              signer_name="王" * 10_000, visit_id=str(job.visit.id), device="phone-7",
                              device_time=now_ms())
    result = phone.sync()
    assert result["rejected_ids"] == {"quote_consents": [consent_id]}
    with app.app_context():
        assert db.session.get(QuoteConsent, uuid.UUID(consent_id)) is None
        assert db.session.get(Quote, uuid.UUID(quote["id"])).status is QuoteStatus.PRESENTED
        rejection = db.session.scalars(sa.select(SyncRejection)).one()
        assert rejection.reason_code == "validation_failed" and "signer_name" in rejection.reason
