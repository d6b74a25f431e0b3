"""Property test: no body, however odd, makes a commerce endpoint answer 5xx; refusals are problems."""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st

from fieldservice.commerce.models import Quote, QuoteConsent, QuoteStatus, VisitCharge
from fieldservice.extensions import db
from tests.commerce.conftest import ITEMS, LABOUR, PART, charge, line
from tests.fuzzing import run_probes

scalars = (st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30) | st.uuids().map(str)
           | st.sampled_from(["part", "labour", "fee", "accepted", "declined", "quality", "no_reason", "1.5", "0.001",
                              "2026-11-23", "2026-11-23T10:00:00+08:00", "", "\x00", "0" * 64, "iVBORw0KGgo="]))
json_values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=12), c,
                                                                                          max_size=4), max_leaves=15)
KEYS = ["kind", "code", "quantity", "unit_price_minor", "lines", "work_order_id", "supplements_quote_id",
        "replaces_quote_id", "decision", "content_sha256", "signer_name", "signature_png", "device_id",
        "device_time", "visit_id", "serial_numbers", "fault_type", "reported_on", "product_ids", "title", "body",
        "topic", "question", "items", "currency", "approve", "note", "id", "shipping_liability", "stock_movement_id",
        "evidence_kind", "evidence_reference", "evidence_at", "evidence_photo_id"]


def mutate(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.dictionaries(st.sampled_from(KEYS + list(base)), json_values, max_size=4).map(
        lambda extra: {**base, **extra})


def test_commerce_endpoints_never_fail_with_5xx(app: Flask, client: FlaskClient, job, van, quote_for, headers) -> None:  # type: ignore[no-untyped-def]
    office = headers(role="office")
    presented = quote_for(job, [line("part", PART), line("labour", LABOUR, 2)])
    draft = quote_for(job, [line("part", PART)], present=False)
    probes: list[tuple[str, str, dict[str, str], st.SearchStrategy[Any]]] = [
        ("post", "/api/v1/quotes", job.tech_auth,
         mutate({"work_order_id": str(job.order.id), "lines": [line("part", PART)]})),
        ("post", "/api/v1/quotes", job.tech_auth, st.lists(mutate(line("part", PART)), max_size=3).map(
            lambda lines: {"work_order_id": str(job.order.id), "lines": lines})),
        ("put", f"/api/v1/quotes/{draft['id']}", job.tech_auth, mutate({"lines": [line("fee", "FEE-ONSITE")]})),
        ("post", f"/api/v1/quotes/{presented['id']}/consent", job.tech_auth, mutate({
            "decision": "accepted", "content_sha256": "0" * 64, "signer_name": "王"})),
        ("post", f"/api/v1/quotes/{presented['id']}/consent", headers(role="dispatcher"), mutate({
            "decision": "accepted", "content_sha256": presented["content_sha256"], "signer_name": "王",
            "evidence_kind": "phone_call", "evidence_reference": "CALL-1",
            "evidence_at": "2026-11-23T10:00:00+08:00"})),   # before the quote was presented: never valid
        ("post", "/api/v1/visit-charges", job.tech_auth, mutate(charge(job, "part", PART))),
        ("put", f"/api/v1/work-orders/{job.order.id}/warranty-decision", job.tech_auth,
         mutate({"fault_type": "quality"})),
        ("post", "/api/v1/warranty-terms", office, mutate({"product_id": str(job.product.id)})),
        ("post", "/api/v1/price-lists", office, mutate({"name": "x", "items": ITEMS[:1]})),
        ("post", f"/api/v1/quotes/{draft['id']}/approval", office, mutate({"approve": False})),
        ("post", "/api/v1/advisories", office, mutate({"title": "t", "body": "b", "product_ids": [str(job.product.id)]})),
        ("post", "/api/v1/consultations", office, mutate({"topic": "t", "question": "q"})),
    ]

    run_probes(client, probes, json_values, examples=300)
    # read back: a consent with a wrong hash never counted, so the quote is still awaiting the customer and
    # no charge was recorded on the chargeable job (R-REP-4)
    with app.app_context():
        assert db.session.get(Quote, uuid.UUID(presented["id"])).status is QuoteStatus.PRESENTED
        assert db.session.scalar(sa.select(sa.func.count()).select_from(QuoteConsent)) == 0
        assert db.session.scalar(sa.select(sa.func.count()).select_from(VisitCharge).where(
            VisitCharge.warranty.is_(False))) == 0
