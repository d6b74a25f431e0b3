"""R-REP-8 written repair agreement: an out-of-warranty quote whose total is above
REPAIR_AGREEMENT_THRESHOLD_MINOR (500000 fen = 5,000 yuan by default) carries the agreement text in the canonical
JSON the consent hash covers, and accepting it needs the agreement's SHA-256 and the customer's signature.
Refused on the API (409 repair_agreement_required, nothing written), through the link, and quarantined on sync
push with the reason. Below the threshold, on a free warranty job, or when declining nothing changes."""
from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from fieldservice.commerce.models import Quote, QuoteConsent, QuoteStatus
from fieldservice.extensions import db
from sync.models import SyncRejection
from tests.commerce.conftest import COURIER_RECEIPT, line
from tests.factories import Factory
from tests.records.conftest import png_b64

BOARD = "P-200"          # 50,000 fen each on the test price list
HIGH = [line("part", BOARD, 11)]    # 550,000 fen: above the default 500,000
AT_LIMIT = [line("part", BOARD, 10)]  # exactly 500,000: not above, no agreement


def canonical(api: Any, auth: dict[str, str], quote: dict[str, Any]) -> dict[str, Any]:
    status, body = api("get", f"/api/v1/quotes/{quote['id']}/canonical", auth)
    assert status == 200
    return body  # type: ignore[no-any-return]


def accept(api: Any, job: Any, quote: dict[str, Any], **extra: Any) -> tuple[int, Any]:
    sha = canonical(api, job.tech_auth, quote)["content_sha256"]
    return api("post", f"/api/v1/quotes/{quote['id']}/consent", job.tech_auth, json={
        "decision": "accepted", "content_sha256": sha, "signer_name": "王经理", "visit_id": str(job.visit.id),
        "device_id": "phone-7", **extra})


def test_high_cost_quote_binds_the_agreement_into_its_canonical_json(app: Flask, api, job, quote_for) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, HIGH)
    assert quote["total_minor"] == 550_000
    assert quote["agreement_required"] is True and "维修协议" in quote["agreement_text"]
    canon = canonical(api, job.tech_auth, quote)
    document = json.loads(canon["canonical_json"])
    text = document["repair_agreement"]["text"]
    assert text == quote["agreement_text"]
    assert document["repair_agreement"]["sha256"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
    # the consent hash covers the agreement: the frozen hash is the hash of a document containing it
    assert canon["content_sha256"] == quote["content_sha256"] == \
        hashlib.sha256(canon["canonical_json"].encode("utf-8")).hexdigest()


def test_accepting_without_the_agreement_is_refused_and_nothing_is_written(app: Flask, api, job, quote_for,
                                                                            count_rows) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, HIGH)
    agreement = json.loads(canonical(api, job.tech_auth, quote)["canonical_json"])["repair_agreement"]["sha256"]
    before = count_rows()
    refusals = [
        ({}, "agreement_missing"),
        ({"signature_png": png_b64()}, "agreement_missing"),
        ({"agreement_sha256": "a" * 64, "signature_png": png_b64()}, "agreement_mismatch"),
        ({"agreement_sha256": agreement}, "signature_missing"),
    ]
    for extra, reason in refusals:
        status, body = accept(api, job, quote, **extra)
        assert status == 409, body
        assert body["type"] == "/problems/repair_agreement_required" and body["reason"] == reason
        assert body["threshold_minor"] == 500_000 and body["threshold_currency"] == "CNY"
    assert count_rows() == before
    with app.app_context():
        assert db.session.get(Quote, uuid.UUID(quote["id"])).status is QuoteStatus.PRESENTED
    # with the agreement's hash and the signature it is accepted, and the consent keeps both
    status, body = accept(api, job, quote, agreement_sha256=agreement, signature_png=png_b64())
    assert status == 201, body
    assert body["agreement_sha256"] == agreement and body["signature_png_sha256"]
    with app.app_context():
        consent = db.session.get(QuoteConsent, uuid.UUID(body["id"]))
        assert consent.agreement_sha256 == agreement and consent.signer_name == "王经理"
        assert db.session.get(Quote, uuid.UUID(quote["id"])).status is QuoteStatus.ACCEPTED


def test_declining_a_high_cost_quote_needs_no_agreement(api, job, quote_for) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, HIGH)
    sha = canonical(api, job.tech_auth, quote)["content_sha256"]
    status, body = api("post", f"/api/v1/quotes/{quote['id']}/consent", job.tech_auth, json={
        "decision": "declined", "content_sha256": sha, "signer_name": "王经理", "visit_id": str(job.visit.id)})
    assert status == 201 and body["decision"] == "declined" and body["agreement_sha256"] is None


def test_at_or_below_the_threshold_nothing_changes(api, job, quote_for) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, AT_LIMIT)
    assert quote["total_minor"] == 500_000 and quote["agreement_required"] is False
    assert quote["agreement_text"] is None
    assert "repair_agreement" not in json.loads(canonical(api, job.tech_auth, quote)["canonical_json"])
    status, body = accept(api, job, quote)
    assert status == 201, body


def test_a_free_warranty_job_needs_no_agreement(api, make: Factory, price_list, quote_for, headers) -> None:  # type: ignore[no-untyped-def]
    line_ = make.product_line()
    product = make.product(line_.id)
    tech = make.technician(certified_for=[line_.id])
    customer = make.customer("苏州保修客户")
    site = make.site(customer.id)
    asset = make.asset(customer.id, site.id, product.id, install_date=date(2026, 1, 5),
                       warranty_start=date(2026, 1, 5), warranty_end=date(2027, 1, 4))
    order = make.work_order(customer_id=customer.id, site_id=site.id, product_id=product.id, asset_id=asset.id)
    visit = make.visit(order.id, technician_id=tech.id)
    job = type("Job", (), {"order": order, "visit": visit,
                           "tech_auth": {"Authorization": f"Bearer {make.token(tech.user_id)}"}})
    status, decision = api("put", f"/api/v1/work-orders/{order.id}/warranty-decision", headers(role="office"),
                           json={"fault_type": "quality", "reported_on": "2026-06-01",
                                 "reported_on_evidence": COURIER_RECEIPT})
    assert status == 200 and decision["option"] == "warranty_repair" and decision["chargeable"] is False
    quote = quote_for(job, HIGH)
    assert quote["total_minor"] == 550_000 and quote["agreement_required"] is False


def test_the_threshold_is_configurable(app: Flask, api, job, quote_for, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "REPAIR_AGREEMENT_THRESHOLD_MINOR", 100_000)
    quote = quote_for(job, [line("part", BOARD, 3)])        # 150,000 fen
    assert quote["agreement_required"] is True
    status, body = accept(api, job, quote)
    assert status == 409 and body["threshold_minor"] == 100_000


def test_link_acceptance_without_the_agreement_is_refused(api, job, quote_for, client) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, HIGH)
    status, link = api("post", f"/api/v1/quotes/{quote['id']}/link", job.tech_auth)
    assert status == 201
    status, view = api("get", link["url"])
    assert status == 200 and "维修协议" in view["canonical_json"]
    body = {"decision": "accepted", "content_sha256": view["content_sha256"], "signer_name": "王经理"}
    status, problem = api("post", f"{link['url']}/consent", json=body)
    assert status == 409 and problem["type"] == "/problems/repair_agreement_required"
    agreement = json.loads(view["canonical_json"])["repair_agreement"]["sha256"]
    status, consent = api("post", f"{link['url']}/consent",
                          json={**body, "agreement_sha256": agreement, "signature_png": png_b64()})
    assert status == 201 and consent["channel"] == "link" and consent["agreement_sha256"] == agreement


def test_sync_push_without_the_agreement_is_quarantined_with_the_reason(app: Flask, job, quote_for,
                                                                         phone_for) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, HIGH)
    phone = phone_for(job.technician)
    phone.sync()
    pulled = phone.get("quotes", quote["id"])
    assert pulled["agreement_required"] is True
    document = json.loads(pulled["canonical_json"])
    agreement = document["repair_agreement"]["sha256"]
    consent_id = phone.create("quote_consents", quote_id=quote["id"], decision="accepted",
                              content_sha256=pulled["content_sha256"], signer_name="王经理",
                              visit_id=str(job.visit.id), device="phone-7", device_time=int(time.time() * 1000))
    result = phone.sync()
    assert result["accepted"] == 0 and result["rejected"] == 1
    with app.app_context():
        assert db.session.get(QuoteConsent, uuid.UUID(consent_id)) is None
        rejection = db.session.scalars(sa.select(SyncRejection)).one()
        assert rejection.reason_code == "repair_agreement_required" and rejection.table_name == "quote_consents"
        assert "repair agreement" in rejection.reason
        assert db.session.get(Quote, uuid.UUID(quote["id"])).status is QuoteStatus.PRESENTED
    phone.sync()
    echoed = phone.get("quote_consents", consent_id)
    assert echoed["sync_status"] == "rejected" and "agreement" in echoed["rejection_reason"]
    # the customer signs the agreement on the phone: a new consent with its hash and the signature counts
    signed_id = phone.create("quote_consents", quote_id=quote["id"], decision="accepted",
                             content_sha256=pulled["content_sha256"], signer_name="王经理",
                             visit_id=str(job.visit.id), device="phone-7", device_time=int(time.time() * 1000),
                             agreement_sha256=agreement, signature_png=png_b64((40, 12)))
    result = phone.sync()
    assert result["rejected"] == 0 and result["accepted"] >= 1
    with app.app_context():
        consent = db.session.get(QuoteConsent, uuid.UUID(signed_id))
        assert consent.agreement_sha256 == agreement and consent.signature_png_sha256
        assert db.session.get(Quote, uuid.UUID(quote["id"])).status is QuoteStatus.ACCEPTED


def test_a_supplement_that_takes_the_job_above_the_threshold_needs_the_agreement(api, job, quote_for) -> None:  # type: ignore[no-untyped-def]
    """A job is not made "cheap" by splitting it: 400,000 accepted + a 200,000 supplement = 600,000."""
    original = quote_for(job, [line("part", BOARD, 8)])
    assert original["agreement_required"] is False
    assert accept(api, job, original)[0] == 201
    supplement = quote_for(job, [line("part", BOARD, 4)], supplements_quote_id=original["id"])
    assert supplement["total_minor"] == 200_000 and supplement["agreement_required"] is True
    status, body = accept(api, job, supplement)
    assert status == 409 and body["job_total_minor"] == 600_000
    small = quote_for(job, [line("part", "P-100", 1)], supplements_quote_id=original["id"])
    assert small["agreement_required"] is False     # 410,000 in all: not above
