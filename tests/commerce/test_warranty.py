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


# ---- default shipping terms follow the seeds (R-RET-1, R-RET-2) ------------------------------------

CUSTOMER_BOTH, COMPANY_BOTH = (Payer.CUSTOMER, Payer.CUSTOMER), (Payer.COMPANY, Payer.COMPANY)
UNCLEAR = (Payer.COMPANY, Payer.CUSTOMER)


@pytest.mark.parametrize(("fault", "on", "start", "option", "shipping"), [
    # seed 001: a no-reason return within 7 days: the customer pays shipping both ways
    ("no_reason", date(2026, 1, 16), START, WarrantyOption.NO_REASON_RETURN, CUSTOMER_BOTH),
    # past the 7 days but within the month: not a return any more, a paid repair at the customer's cost
    ("no_reason", date(2026, 1, 20), START, WarrantyOption.PAID_REPAIR, CUSTOMER_BOTH),
    # seed 003: a quality fault within one month is returned or exchanged, shipping at the company's cost
    ("quality", date(2026, 2, 9), START, WarrantyOption.QUALITY_RETURN_OR_EXCHANGE, COMPANY_BOTH),
    # after the month, within the warranty: a free repair of the company's fault (R-REP-8, R-RET-2)
    ("quality", date(2026, 2, 10), START, WarrantyOption.WARRANTY_REPAIR, COMPANY_BOTH),
    # seed 003: after one month, out of warranty: paid repair, "维修费用与运费均由客户承担"
    ("quality", date(2027, 1, 10), START, WarrantyOption.PAID_REPAIR, CUSTOMER_BOTH),
    ("quality", date(2026, 1, 20), None, WarrantyOption.PAID_REPAIR, CUSTOMER_BOTH),     # no warranty start
    # not a quality problem: the customer's fault (seed 003 B)
    ("misuse", date(2026, 1, 20), START, WarrantyOption.PAID_REPAIR, CUSTOMER_BOTH),
    # unclear within the first month: seller pays outbound, buyer the return (seed 001, R-RET-2)
    ("water_ingress", date(2026, 1, 20), START, WarrantyOption.PAID_REPAIR, UNCLEAR),
    # unclear after the first month: a paid repair, the customer's shipping (R-RET-1)
    ("water_ingress", date(2026, 3, 1), START, WarrantyOption.PAID_REPAIR, CUSTOMER_BOTH),
])
def test_default_shipping_per_window(fault: str, on: date, start: date | None, option: WarrantyOption,
                                     shipping: tuple[Payer, Payer]) -> None:
    """R-RET-1 / R-RET-2 with DEFAULT_TERMS, window by window."""
    result = decide(fault, on, start=start, end=END if start else None)
    assert result["option"] is option
    assert (result["shipping_outbound_payer"], result["shipping_return_payer"]) == shipping


def test_default_terms_are_the_seeds() -> None:
    """R-RET-1 / R-RET-2: the default terms as DOMAIN.md and seeds 001/003 give them."""
    from fieldservice.commerce.warranty import PAID_REPAIR_SHIPPING, UNCLEAR_LIABILITY

    assert DEFAULT_TERMS["no_reason_return_days"] == 7 and DEFAULT_TERMS["quality_return_months"] == 1
    assert DEFAULT_TERMS["covered_fault_types"] == ["quality"]
    liability = DEFAULT_TERMS["shipping_liability"]
    assert liability["quality"] == {"outbound": "company", "return": "company"}
    assert all(liability[f] == {"outbound": "customer", "return": "customer"} for f in ("no_reason", "misuse", "wear"))
    assert UNCLEAR_LIABILITY == {"outbound": "company", "return": "customer"}
    assert PAID_REPAIR_SHIPPING == {"outbound": "customer", "return": "customer"}


def test_quality_fault_out_of_warranty_ships_at_the_customers_cost(api, job, headers) -> None:  # type: ignore[no-untyped-def]
    """R-RET-1 (seen) on the paths: the unit's warranty ended in 2024, a quality fault reported now is a paid
    repair whose shipping the customer pays both ways: on the job's decision and on a returned unit's case."""
    status, body = api("put", f"/api/v1/work-orders/{job.order.id}/warranty-decision", job.tech_auth,
                       json={"fault_type": "quality"})
    assert status == 200 and body["option"] == "paid_repair"
    assert (body["shipping_outbound_payer"], body["shipping_return_payer"]) == ("customer", "customer")
    status, case = api("post", "/api/v1/returns", headers(role="office"), json={
        "work_order_id": str(job.order.id), "reason": "quality", "description": "主轴卡死"})
    assert status == 201 and case["warranty_option"] == "paid_repair"
    assert (case["shipping_outbound_payer"], case["shipping_return_payer"]) == ("customer", "customer")
