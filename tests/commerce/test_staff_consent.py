"""R-REP-4: a consent a dispatcher or admin records (the customer agreed by phone, email, a signed document or in
person) is channel `staff` and needs its evidence: kind, reference, when (not in the future, not before the
quote was presented), optionally the scan of the signed document (a photo of the same job). It never carries
a device signature and is shown as such (API, archive entry, the phone's pull). The customer's own paths
(technician's device, portal, link) are unchanged. Legacy staff consents without evidence do not count."""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import Flask

from fieldservice.commerce.models import ConsentChannel, Quote, QuoteConsent, QuoteStatus
from fieldservice.commerce.quotes import consent_document
from fieldservice.extensions import db
from fieldservice.records.canonical import canonical_bytes
from fieldservice.records.models import ArchiveEntry
from tests.commerce.conftest import BOARD, FEE, PART, charge, line
from tests.factories import Factory
from tests.records.conftest import png_b64
from tests.signing.conftest import upload_photo


def evidence(quote: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A phone call with the customer, at the moment the quote was presented."""
    return {"evidence_kind": "phone_call", "evidence_reference": "CALL-2026-1123-0042",
            "evidence_at": quote["presented_at"], **extra}


def staff_consent(api: Callable[..., Any], auth: dict[str, str], quote: dict[str, Any], decision: str = "accepted",
                  **body: Any) -> tuple[int, Any]:
    return api("post", f"/api/v1/quotes/{quote['id']}/consent", auth, json={
        "decision": decision, "content_sha256": quote["content_sha256"], "signer_name": "王经理", **body})


def quote_status(app: Flask, quote: dict[str, Any]) -> QuoteStatus:
    with app.app_context():
        return db.session.get(Quote, uuid.UUID(quote["id"])).status


def test_dispatcher_consent_without_evidence_is_refused_r_rep_4(app: Flask, api, job, quote_for, headers,  # type: ignore[no-untyped-def]
                                                                count_rows) -> None:
    """R-REP-4 (seen): a dispatcher recorded "accepted" with no signature and no evidence, stored like a
    consent given on the device. Now 422, nothing written, the quote still awaits the customer."""
    quote = quote_for(job, [line("fee", FEE)])
    dispatcher = headers(role="dispatcher")
    before = count_rows()
    status, body = staff_consent(api, dispatcher, quote)
    assert status == 422 and body["type"] == "/problems/validation_failed" and "R-REP-4" in body["detail"]
    assert set(body["errors"]["json"]) == {"evidence_kind", "evidence_reference", "evidence_at"}
    status, body = staff_consent(api, dispatcher, quote, **evidence(quote, evidence_reference="   "))
    assert status == 422 and set(body["errors"]["json"]) == {"evidence_reference"}
    assert count_rows() == before
    assert quote_status(app, quote) is QuoteStatus.PRESENTED
    # and it covers no chargeable work
    assert api("post", "/api/v1/visit-charges", job.tech_auth, json=charge(job, "fee", FEE))[0] == 409


def test_dispatcher_consent_with_evidence_is_stored_and_shown_as_staff(app: Flask, api, job, quote_for, headers,  # type: ignore[no-untyped-def]
                                                                      make: Factory, phone_for) -> None:
    quote = quote_for(job, [line("fee", FEE)])
    user = make.user(role="dispatcher")
    dispatcher = headers(user.id)
    status, body = staff_consent(api, dispatcher, quote, **evidence(quote))
    assert status == 201, body
    assert body["channel"] == "staff" and body["recorded_by"] == str(user.id)
    assert (body["evidence_kind"], body["evidence_reference"]) == ("phone_call", "CALL-2026-1123-0042")
    assert body["evidence_at"] == quote["presented_at"] and body["evidence_photo_id"] is None
    assert body["signature_png_sha256"] is None and body["device_id"] is None and body["visit_id"] is None
    # listed as such: the consent on the quote, for the office and for the job's technician
    for auth in (headers(role="office"), job.tech_auth):
        status, shown = api("get", f"/api/v1/quotes/{quote['id']}/consent", auth)
        assert status == 200 and shown["channel"] == "staff" and shown["evidence_kind"] == "phone_call"
    # the archive entry binds the evidence
    with app.app_context():
        consent = db.session.get(QuoteConsent, uuid.UUID(body["id"]))
        document = consent_document(consent)
        assert document["evidence"]["reference"] == "CALL-2026-1123-0042"
        assert document["recorded_by_user_id"] == user.id
        entry = db.session.scalars(sa.select(ArchiveEntry).where(ArchiveEntry.entity_id == consent.id)).one()
        assert entry.payload_sha256 == hashlib.sha256(canonical_bytes(document)).hexdigest()
    # the phone shows it as a staff consent with its evidence, not as a signature on a device
    phone = phone_for(job.technician)
    phone.sync()
    pulled = phone.get("quote_consents", body["id"])
    assert pulled["channel"] == "staff" and pulled["evidence_kind"] == "phone_call"
    assert pulled["signature_png"] is None
    # it covers the quoted work
    status, fee = api("post", "/api/v1/visit-charges", job.tech_auth, json=charge(job, "fee", FEE))
    assert status == 201 and fee["quote_line_id"] == quote["lines"][0]["id"]


def test_an_admin_records_a_staff_consent_too(api, job, quote_for, headers) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("fee", FEE)])
    status, body = staff_consent(api, headers(role="admin"), quote, "declined",
                                 **evidence(quote, evidence_kind="email", evidence_reference="<a1@example.cn>"))
    assert status == 201 and body["channel"] == "staff" and body["decision"] == "declined"


def test_a_staff_consent_carries_no_device_signature(api, job, quote_for, headers, count_rows) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("fee", FEE)])
    dispatcher = headers(role="dispatcher")
    before = count_rows()
    for extra in ({"signature_png": png_b64()}, {"device_id": "phone-7"}):
        status, body = staff_consent(api, dispatcher, quote, **evidence(quote), **extra)
        assert status == 422 and set(body["errors"]["json"]) == set(extra), body
        assert "not a signature on a device" in body["detail"]
    assert count_rows() == before


def test_evidence_time_must_be_between_presentation_and_now(api, job, quote_for, headers, count_rows) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("fee", FEE)])
    dispatcher = headers(role="dispatcher")
    presented = datetime.fromisoformat(quote["presented_at"])
    before = count_rows()
    for when, why in ((datetime.now(UTC) + timedelta(hours=1), "future"), (presented - timedelta(minutes=1), "before")):
        status, body = staff_consent(api, dispatcher, quote, **evidence(quote, evidence_at=when.isoformat()))
        assert status == 422 and "evidence_at" in body["errors"]["json"] and why in body["detail"], body
    assert count_rows() == before


def test_evidence_photo_must_belong_to_the_job(client, api, job, quote_for, headers, make: Factory,  # type: ignore[no-untyped-def]
                                               count_rows) -> None:
    """The scan of the signed document is a photo of the same work order; another job's photo is refused."""
    quote = quote_for(job, [line("fee", FEE)])
    other = make.dispatched_job()
    theirs = upload_photo(client, SimpleNamespace(visit=other.visit, auth={
        "Authorization": f"Bearer {make.token(other.technician.user_id)}"}))
    ours = upload_photo(client, SimpleNamespace(visit=job.visit, auth=job.tech_auth), colour=(10, 10, 200))
    dispatcher = headers(role="dispatcher")
    signed = evidence(quote, evidence_kind="signed_document", evidence_reference="DOC-2026-118")
    before = count_rows()
    status, body = staff_consent(api, dispatcher, quote, **signed, evidence_photo_id=theirs["id"])
    assert status == 422 and "evidence_photo_id" in body["errors"]["json"]
    assert count_rows() == before
    status, body = staff_consent(api, dispatcher, quote, **signed, evidence_photo_id=ours["id"])
    assert status == 201 and body["evidence_photo_id"] == ours["id"] and body["evidence_kind"] == "signed_document"


def test_the_customers_own_channels_carry_no_evidence_and_are_unchanged(api, job, quote_for, make: Factory,  # type: ignore[no-untyped-def]
                                                                        count_rows) -> None:
    """The technician's device and the customer's portal stay `device` / `portal`; evidence fields there are
    refused (only staff records evidence)."""
    quote = quote_for(job, [line("fee", FEE)])
    customer = {"Authorization": f"Bearer {make.token(make.user('customer', customer_id=job.customer.id).id)}"}
    before = count_rows()
    status, body = staff_consent(api, job.tech_auth, quote, visit_id=str(job.visit.id), **evidence(quote))
    assert status == 422 and "evidence_kind" in body["errors"]["json"]
    status, body = staff_consent(api, customer, quote, evidence_kind="email")
    assert status == 422
    assert count_rows() == before
    status, body = staff_consent(api, job.tech_auth, quote, visit_id=str(job.visit.id))
    assert status == 201 and body["channel"] == "device" and body["evidence_kind"] is None


def test_a_link_consent_takes_no_evidence(api, job, quote_for) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("fee", FEE)])
    status, link = api("post", f"/api/v1/quotes/{quote['id']}/link", job.tech_auth)
    status, body = api("post", link["url"] + "/consent", json={
        "decision": "accepted", "content_sha256": quote["content_sha256"], "signer_name": "李总", **evidence(quote)})
    assert status == 422
    status, body = api("post", link["url"] + "/consent", json={
        "decision": "accepted", "content_sha256": quote["content_sha256"], "signer_name": "李总"})
    assert status == 201 and body["channel"] == "link"


def test_a_pushed_consent_is_the_customers_on_the_device_never_staff(app: Flask, job, quote_for, phone_for) -> None:  # type: ignore[no-untyped-def]
    """Sync push (quote_consents): channel and evidence are the server's; a phone cannot record a staff consent."""
    quote = quote_for(job, [line("fee", FEE)])
    phone = phone_for(job.technician)
    phone.sync()
    consent_id = phone.create("quote_consents", quote_id=quote["id"], decision="accepted",
                              content_sha256=quote["content_sha256"], signer_name="王经理", visit_id=str(job.visit.id),
                              device="phone-7", channel="staff", evidence_kind="phone_call",
                              evidence_reference="CALL-1")
    assert phone.sync()["rejected"] == 0
    with app.app_context():
        consent = db.session.get(QuoteConsent, uuid.UUID(consent_id))
        assert consent.channel is ConsentChannel.DEVICE and consent.evidence_kind is None


def test_a_high_cost_quote_accepted_by_staff_needs_the_signed_agreement_scan(client, api, job, quote_for, headers,  # type: ignore[no-untyped-def]
                                                                            count_rows) -> None:
    """R-REP-8 with R-REP-4: the written repair agreement is signed on paper when staff records the acceptance:
    evidence signed_document with its scan; a phone call does not do."""
    quote = quote_for(job, [line("part", BOARD, 11)])
    assert quote["agreement_required"] is True
    agreement = hashlib.sha256(quote["agreement_text"].encode("utf-8")).hexdigest()
    dispatcher = headers(role="dispatcher")
    before = count_rows()
    status, body = staff_consent(api, dispatcher, quote, agreement_sha256=agreement, **evidence(quote))
    assert status == 409 and body["type"] == "/problems/repair_agreement_required"
    assert body["reason"] == "signature_missing"
    assert count_rows() == before
    scan = upload_photo(client, SimpleNamespace(visit=job.visit, auth=job.tech_auth))
    status, body = staff_consent(api, dispatcher, quote, agreement_sha256=agreement, evidence_photo_id=scan["id"],
                                 **evidence(quote, evidence_kind="signed_document", evidence_reference="AGR-7"))
    assert status == 201 and body["agreement_sha256"] == agreement and body["channel"] == "staff"


def test_a_legacy_staff_consent_without_evidence_covers_nothing(app: Flask, api, job, van, quote_for, consent) -> None:  # type: ignore[no-untyped-def]
    """Rows from before the rule (a dispatcher's acceptance stored without evidence; the migration marks them
    `staff`) do not count as the customer's consent: no charge, no parts issued against them."""
    quote = quote_for(job, [line("part", PART, 1), line("fee", FEE)])
    assert consent(job, quote)[0] == 201
    with app.app_context():
        row = db.session.scalars(sa.select(QuoteConsent)).one()
        row.channel = ConsentChannel.STAFF     # what the migration makes of a dispatcher's old "device" consent
        db.session.commit()
    status, body = api("post", "/api/v1/visit-charges", job.tech_auth, json=charge(job, "fee", FEE))
    assert status == 409 and body["type"] == "/problems/consent_required"
    status, body = api("post", "/api/v1/stock-movements/issues", job.tech_auth, json={
        "part_id": str(van.part_id), "work_order_id": str(job.order.id), "visit_id": str(job.visit.id), "quantity": 1})
    assert status == 409 and body["reason"] == "parts_not_quoted"


def test_a_staff_consent_with_evidence_covers_parts_issued_from_the_van(api, job, van, quote_for, headers) -> None:  # type: ignore[no-untyped-def]
    """R-REP-4 on the stock path (POST /stock-movements/issues): an evidenced staff consent counts."""
    quote = quote_for(job, [line("part", PART, 1)])
    assert staff_consent(api, headers(role="dispatcher"), quote, **evidence(quote))[0] == 201
    status, body = api("post", "/api/v1/stock-movements/issues", job.tech_auth, json={
        "part_id": str(van.part_id), "work_order_id": str(job.order.id), "visit_id": str(job.visit.id), "quantity": 1})
    assert status == 201, body
