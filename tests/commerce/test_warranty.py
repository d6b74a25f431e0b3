"""Warranty decision (R-RET-1, R-RET-2, R-REP-8): the pure rule, configurable terms, the stored decision."""
from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from fieldservice.commerce.models import Payer, WarrantyOption
from fieldservice.commerce.warranty import DEFAULT_TERMS, evaluate
from tests.commerce.conftest import COURIER_RECEIPT

START, END = date(2026, 1, 10), date(2027, 1, 9)


def decide(fault: str, on: date, *, start: date | None = START, end: date | None = END,
           **terms: Any) -> dict[str, Any]:
    return evaluate(fault_type=fault, reported_on=on, start=start, warranty_end=end, terms={**DEFAULT_TERMS, **terms})


@pytest.mark.parametrize(("fault", "on", "option", "chargeable"), [
    ("no_reason", date(2026, 1, 16), WarrantyOption.NO_REASON_RETURN, False),    # day 7: R-RET-1
    ("no_reason", date(2026, 1, 17), WarrantyOption.PAID_REPAIR, True),          # day 8
    ("quality", date(2026, 2, 9), WarrantyOption.QUALITY_RETURN_OR_EXCHANGE, False),  # last day of month 1
    ("quality", date(2026, 2, 10), WarrantyOption.WARRANTY_REPAIR, False),       # in warranty: free (R-REP-8)
    ("quality", date(2027, 1, 9), WarrantyOption.WARRANTY_REPAIR, False),        # last day of the warranty
    ("quality", date(2027, 1, 10), WarrantyOption.PAID_REPAIR, True),            # out of warranty
    ("misuse", date(2026, 3, 1), WarrantyOption.PAID_REPAIR, True),              # not a covered fault
])
def test_return_and_warranty_windows(fault: str, on: date, option: WarrantyOption, chargeable: bool) -> None:
    result = decide(fault, on)
    assert result["option"] is option and result["chargeable"] is chargeable


def test_shipping_follows_fault() -> None:
    """R-RET-2: whoever is at fault pays; unclear: company pays outbound, customer pays the return;
    R-RET-1: after the first month the customer pays repair and shipping."""
    quality = decide("quality", date(2026, 1, 20))
    assert (quality["shipping_outbound_payer"], quality["shipping_return_payer"]) == (Payer.COMPANY, Payer.COMPANY)
    misuse = decide("misuse", date(2026, 1, 20))
    assert (misuse["shipping_outbound_payer"], misuse["shipping_return_payer"]) == (Payer.CUSTOMER, Payer.CUSTOMER)
    unclear = decide("water_ingress", date(2026, 1, 20))
    assert (unclear["shipping_outbound_payer"], unclear["shipping_return_payer"]) == (Payer.COMPANY, Payer.CUSTOMER)
    late = decide("water_ingress", date(2027, 6, 1))
    assert late["option"] is WarrantyOption.PAID_REPAIR and late["shipping_return_payer"] is Payer.CUSTOMER


def test_terms_are_data_not_constants() -> None:
    longer = decide("no_reason", date(2026, 1, 20), no_reason_return_days=15)
    assert longer["option"] is WarrantyOption.NO_REASON_RETURN
    covered = decide("wear", date(2026, 6, 1), covered_fault_types=["quality", "wear"])
    assert covered["option"] is WarrantyOption.WARRANTY_REPAIR


def test_no_warranty_start_is_paid_repair() -> None:
    result = decide("quality", date(2026, 1, 20), start=None, end=None)
    assert result["option"] is WarrantyOption.PAID_REPAIR and result["in_warranty"] is False


def test_decision_is_stored_on_the_job_and_contract_terms_override(api, job, headers, make) -> None:  # type: ignore[no-untyped-def]
    office, dispatcher = headers(role="office"), headers(role="dispatcher")
    url = f"/api/v1/work-orders/{job.order.id}/warranty-decision"
    assert api("get", url, dispatcher)[0] == 404      # not decided yet
    # the asset's warranty: 2023-01-10 .. 2024-01-09; reported when the job was opened (today): out of warranty
    status, body = api("put", url, job.tech_auth, json={"fault_type": "quality"})
    assert status == 200 and body["option"] == "paid_repair" and body["chargeable"] is True
    assert body["basis"]["terms"].startswith("default") and body["reported_on_source"] == "job_report"
    # the product's terms give 36 months of warranty: in warranty now, the decision is replaced
    status, terms = api("post", "/api/v1/warranty-terms", office, json={
        "product_id": str(job.product.id), "warranty_months": 36, "covered_fault_types": ["quality"],
        "shipping_liability": {"quality": {"outbound": "company", "return": "company"}}})
    assert status == 201
    # the customer's call in 2025 is on record: the office back-dates the report with it (R-RET-1)
    status, body = api("put", url, office, json={"fault_type": "quality", "reported_on": "2025-05-01",
                                                 "reported_on_evidence": COURIER_RECEIPT})
    assert status == 200 and body["option"] == "warranty_repair" and body["terms_id"] == terms["id"]
    status, stored = api("get", url, job.tech_auth)
    assert stored["id"] == body["id"] and stored["chargeable"] is False
    # the same combination twice is a conflict; terms are the office's
    assert api("post", "/api/v1/warranty-terms", office, json={"product_id": str(job.product.id)})[0] == 409
    assert api("post", "/api/v1/warranty-terms", dispatcher, json={})[0] == 403


def test_decision_input_and_scope(api, job, make) -> None:  # type: ignore[no-untyped-def]
    url = f"/api/v1/work-orders/{job.order.id}/warranty-decision"
    for bad in ({}, {"fault_type": ""}, {"fault_type": "Quality!"}, {"fault_type": "quality", "reported_on": "x"}):
        assert api("put", url, job.tech_auth, json=bad)[0] == 422, bad
    stranger = make.technician()
    auth = {"Authorization": f"Bearer {make.token(stranger.user_id)}"}
    assert api("put", url, auth, json={"fault_type": "quality"})[0] == 404


def test_contract_terms_override_product_terms(api, headers, make, price_list) -> None:  # type: ignore[no-untyped-def]
    """A unit sold under a contract with longer no-reason returns: the contract's row wins; the start comes
    from the contract line's ship date when the asset has no warranty dates."""
    office, dispatcher = headers(role="office"), headers(role="dispatcher")
    product = make.product()
    customer = make.customer()
    site = make.site(customer.id)
    status, contract = api("post", "/api/v1/contracts", dispatcher, json={
        "number": "HT-2026-001", "customer_id": str(customer.id), "signed_on": "2026-03-01",
        "lines": [{"product_id": str(product.id), "unit_price_minor": 1_000_000, "sale_date": "2026-03-01",
                   "ship_date": "2026-03-05"}]})
    assert status == 201, contract
    asset = make.asset(customer.id, site.id, product.id, contract_line_id=uuid.UUID(contract["lines"][0]["id"]))
    order = make.work_order(customer_id=customer.id, site_id=site.id, product_id=product.id, asset_id=asset.id)
    api("post", "/api/v1/warranty-terms", office, json={"product_id": str(product.id), "no_reason_return_days": 7})
    status, terms = api("post", "/api/v1/warranty-terms", office, json={
        "contract_id": contract["id"], "no_reason_return_days": 30})
    assert status == 201
    status, body = api("put", f"/api/v1/work-orders/{order.id}/warranty-decision", office,
                       json={"fault_type": "no_reason", "reported_on": "2026-03-25",
                             "reported_on_evidence": COURIER_RECEIPT})
    assert status == 200 and body["option"] == "no_reason_return" and body["terms_id"] == terms["id"]
    assert body["basis"]["start"] == "2026-03-05"
