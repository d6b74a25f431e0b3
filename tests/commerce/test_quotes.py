"""Price lists, quotes, approval of deviations (R-REP-8), consent bound to the quote hash and chargeable
work only with consent (R-REP-4), over the JSON API."""
from __future__ import annotations

import hashlib
from typing import Any

from fieldservice.commerce.quotes import too_far_below
from tests.commerce.conftest import BOARD, COURIER_RECEIPT, FEE, ITEMS, LABOUR, PART, charge, line

COMMERCE_TABLES = ("quotes", "quote_lines", "quote_consents", "visit_charges", "archive_log")


def counts(count_rows) -> dict[str, int]:  # type: ignore[no-untyped-def]
    every = count_rows()
    return {name: every[name] for name in COMMERCE_TABLES}


# ---- price lists ---------------------------------------------------------------------------------

def test_one_published_price_list_at_a_time(api, headers, price_list) -> None:  # type: ignore[no-untyped-def]
    office = headers(role="office")
    status, draft = api("post", "/api/v1/price-lists", office, json={"name": "2027", "items": ITEMS[:2]})
    assert status == 201 and draft["status"] == "draft" and draft["version"] == 2
    status, body = api("post", f"/api/v1/price-lists/{draft['id']}/publish", office)
    assert status == 200 and body["status"] == "published"
    status, current = api("get", "/api/v1/price-lists/current", office)
    assert current["id"] == draft["id"]
    status, old = api("get", f"/api/v1/price-lists/{price_list.id}", office)
    assert old["status"] == "retired"
    # a published list's prices never change (quotes were made from them)
    status, body = api("put", f"/api/v1/price-lists/{draft['id']}/items", office, json={"items": ITEMS})
    assert status == 409
    # only the office sets prices
    status, _ = api("post", "/api/v1/price-lists", headers(role="technician"), json={"name": "x"})
    assert status == 403


def test_price_list_input_is_checked(api, headers) -> None:  # type: ignore[no-untyped-def]
    office = headers(role="office")
    for bad in ({"name": "x", "items": [{**ITEMS[0], "unit_price_minor": -1}]},
                {"name": "x", "items": [{**ITEMS[0], "unit_price_minor": 1.5}]},
                {"name": "x", "currency": "yuan"},
                {"name": "x", "items": [ITEMS[0], ITEMS[0]]}):
        status, body = api("post", "/api/v1/price-lists", office, json=bad)
        assert status == 422, bad
    status, body = api("get", "/api/v1/price-lists/current", office)
    assert status == 409 and body["type"] == "/problems/no_published_price_list"


# ---- quotes and the 10% rule (R-REP-8) -----------------------------------------------------------

def test_deviation_limit_is_exactly_ten_percent() -> None:
    assert not too_far_below(9_000, 10_000)      # exactly 10% below: allowed
    assert too_far_below(8_999, 10_000)          # a fen more: approval needed
    assert too_far_below(8_900, 10_000)          # 11% below
    assert not too_far_below(12_000, 10_000)


def test_quote_from_price_list_totals(api, job, quote_for) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("part", PART, 2), line("labour", LABOUR, "1.5"), line("fee", FEE)], present=False)
    assert quote["status"] == "draft" and quote["currency"] == "CNY"
    assert [ln["line_total_minor"] for ln in quote["lines"]] == [20_000, 30_000, 15_000]
    assert quote["total_minor"] == quote["list_total_minor"] == 65_000 and quote["requires_approval"] is False
    assert quote["lines"][1]["quantity"] == 1.5 and quote["lines"][0]["description"] == "主轴轴承 spindle bearing"


def test_quote_line_must_be_on_the_price_list(api, job) -> None:  # type: ignore[no-untyped-def]
    for bad_line in (line("part", "NOT-LISTED"), line("labour", PART), line("part", PART, 0), line("part", PART, "1.234")):
        status, body = api("post", "/api/v1/quotes", job.tech_auth,
                           json={"work_order_id": str(job.order.id), "lines": [bad_line]})
        assert status == 422, bad_line


def test_eleven_percent_below_list_without_approval_is_refused(api, job, quote_for, headers, consent,
                                                                count_rows) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("labour", LABOUR, 1, unit_price_minor=17_800)], present=False)  # 11% below
    assert quote["requires_approval"] is True
    before = counts(count_rows)
    status, body = api("post", f"/api/v1/quotes/{quote['id']}/present", job.tech_auth)
    assert status == 409 and body["type"] == "/problems/approval_required"
    assert body["total_percent_below_list"] == 11.0 and body["limit_percent"] == 10
    assert counts(count_rows) == before
    status, body = api("get", f"/api/v1/quotes/{quote['id']}", job.tech_auth)
    assert body["status"] == "draft" and body["content_sha256"] is None
    # not presented: the customer cannot accept it
    status, body = consent(job, quote)
    assert status == 409 and body["type"] == "/problems/quote_not_presented"
    # a technician cannot approve; an office manager can
    status, _ = api("post", f"/api/v1/quotes/{quote['id']}/approval", job.tech_auth, json={"approve": True})
    assert status == 403
    status, body = api("post", f"/api/v1/quotes/{quote['id']}/submit", job.tech_auth)
    assert status == 200 and body["status"] == "pending_approval"
    status, body = api("post", f"/api/v1/quotes/{quote['id']}/approval", headers(role="office"),
                       json={"approve": True, "note": "老客户 long-standing customer"})
    assert status == 200 and body["status"] == "approved" and body["approved_by_id"]
    status, body = api("post", f"/api/v1/quotes/{quote['id']}/present", job.tech_auth)
    assert status == 200 and body["status"] == "presented" and len(body["content_sha256"]) == 64


def test_exactly_ten_percent_below_needs_no_approval(api, job, quote_for) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("labour", LABOUR, 1, unit_price_minor=18_000)])
    assert quote["status"] == "presented" and quote["requires_approval"] is False


def test_one_line_far_below_needs_approval_even_if_the_total_is_not(api, job, quote_for) -> None:  # type: ignore[no-untyped-def]
    # the total is above the list (part quoted higher), but labour is 20% below: approval (docs/commerce.md)
    quote = quote_for(job, [line("part", PART, 1, unit_price_minor=15_000),
                            line("labour", LABOUR, 1, unit_price_minor=16_000)], present=False)
    assert quote["total_minor"] > quote["list_total_minor"] and quote["requires_approval"] is True
    status, body = api("post", f"/api/v1/quotes/{quote['id']}/present", job.tech_auth)
    assert status == 409 and body["type"] == "/problems/approval_required"


def test_editing_an_approved_quote_drops_the_approval(api, job, quote_for, headers) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("labour", LABOUR, 1, unit_price_minor=10_000)], present=False)
    api("post", f"/api/v1/quotes/{quote['id']}/approval", headers(role="office"), json={"approve": True})
    status, body = api("put", f"/api/v1/quotes/{quote['id']}", job.tech_auth,
                       json={"lines": [line("labour", LABOUR, 3, unit_price_minor=10_000)]})
    assert status == 200 and body["status"] == "draft" and body["approved_by_id"] is None
    status, body = api("post", f"/api/v1/quotes/{quote['id']}/present", job.tech_auth)
    assert status == 409


# ---- consent (R-REP-4) ---------------------------------------------------------------------------

def test_consent_with_a_wrong_hash_is_refused(api, job, quote_for, consent, count_rows) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("part", PART)])
    before = counts(count_rows)
    status, body = consent(job, quote, sha="0" * 64)
    assert status == 409 and body["type"] == "/problems/content_hash_mismatch"
    assert body["server_sha256"] == quote["content_sha256"]
    assert counts(count_rows) == before
    status, body = api("get", f"/api/v1/quotes/{quote['id']}", job.tech_auth)
    assert body["status"] == "presented"


def test_canonical_json_hash_is_the_sha256_of_its_utf8_text(api, job, quote_for) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("part", PART)], notes="更换轴承后试机 30 分钟")
    status, canon = api("get", f"/api/v1/quotes/{quote['id']}/canonical", job.tech_auth)
    assert "更换轴承后试机" in canon["canonical_json"]          # UTF-8, not \\u escapes
    assert hashlib.sha256(canon["canonical_json"].encode("utf-8")).hexdigest() == canon["content_sha256"]
    assert canon["content_sha256"] == quote["content_sha256"]


def test_chargeable_work_without_consent_is_refused(api, job, van, quote_for, count_rows) -> None:  # type: ignore[no-untyped-def]
    before = counts(count_rows)
    status, body = api("post", "/api/v1/visit-charges", job.tech_auth,
                       json=charge(job, "part", BOARD, serial_numbers=["CB-1"]))
    assert status == 409 and body["type"] == "/problems/consent_required" and body["reason"] == "no_accepted_quote_line"
    assert counts(count_rows) == before          # nothing charged, nothing issued from the van
    # presented but not yet accepted: still refused, and the reason says so
    quote = quote_for(job, [line("part", PART)])
    before = counts(count_rows)
    status, body = api("post", "/api/v1/visit-charges", job.tech_auth, json=charge(job, "part", PART))
    assert status == 409 and quote["number"] in body["detail"] and "awaiting" in body["detail"]
    assert counts(count_rows) == before


def test_accepted_quote_covers_its_lines_and_no_more(api, job, van, quote_for, consent, count_rows) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("part", BOARD, 1), line("labour", LABOUR, 2), line("fee", FEE)])
    status, body = consent(job, quote)
    assert status == 201 and body["decision"] == "accepted" and body["content_sha256"] == quote["content_sha256"]
    assert body["channel"] == "device" and body["visit_id"] == str(job.visit.id)
    status, part = api("post", "/api/v1/visit-charges", job.tech_auth,
                       json=charge(job, "part", BOARD, serial_numbers=["CB-1"]))
    assert status == 201 and part["unit_price_minor"] == 50_000 and part["serial_numbers"] == ["CB-1"]
    assert part["quote_line_id"] == quote["lines"][0]["id"] and part["warranty"] is False
    assert part["stock_movement_id"]              # issued from the van (R-REP-6)
    status, _ = api("post", "/api/v1/visit-charges", job.tech_auth, json=charge(job, "labour", LABOUR, 1.5))
    assert status == 201
    # a second bearing and more hours than quoted need a supplementary quote
    before = counts(count_rows)
    status, body = api("post", "/api/v1/visit-charges", job.tech_auth,
                       json=charge(job, "part", BOARD, serial_numbers=["CB-2"]))
    assert status == 409 and body["reason"] == "exceeds_accepted_quantity"
    status, body = api("post", "/api/v1/visit-charges", job.tech_auth, json=charge(job, "labour", LABOUR, 1))
    assert status == 409 and body["charged"] == "1.50" and body["quoted"] == "2.00"
    # a part not quoted at all
    status, body = api("post", "/api/v1/visit-charges", job.tech_auth, json=charge(job, "part", PART))
    assert status == 409 and body["reason"] == "no_accepted_quote_line"
    assert counts(count_rows) == before
    status, listed = api("get", f"/api/v1/visit-charges?visit_id={job.visit.id}", job.tech_auth)
    assert sorted(c["code"] for c in listed["items"]) == [LABOUR, BOARD] and listed["meta"]["total"] == 2


def test_declined_quote_allows_no_chargeable_work(api, job, van, quote_for, consent, count_rows) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("part", PART)])
    status, body = consent(job, quote, "declined")
    assert status == 201 and body["decision"] == "declined"
    before = counts(count_rows)
    status, body = api("post", "/api/v1/visit-charges", job.tech_auth, json=charge(job, "part", PART))
    assert status == 409 and body["type"] == "/problems/consent_required" and "declined" in body["detail"]
    assert counts(count_rows) == before
    # a decided quote is not decided again
    status, body = consent(job, quote, "accepted")
    assert status == 409 and body["type"] == "/problems/quote_not_presented"


def test_supplementary_quote_for_additional_problems(api, job, van, quote_for, consent) -> None:  # type: ignore[no-untyped-def]
    original = quote_for(job, [line("part", PART)])
    # a supplement must reference an accepted original
    status, body = api("post", "/api/v1/quotes", job.tech_auth, json={
        "work_order_id": str(job.order.id), "supplements_quote_id": original["id"], "lines": [line("part", "P-200")]})
    assert status == 409
    consent(job, original)
    assert api("post", "/api/v1/visit-charges", job.tech_auth, json=charge(job, "part", PART))[0] == 201
    # during the work the technician finds a burnt control board: not covered until the customer agrees
    status, body = api("post", "/api/v1/visit-charges", job.tech_auth,
                       json=charge(job, "part", BOARD, serial_numbers=["CB-1"]))
    assert status == 409
    supplement = quote_for(job, [line("part", "P-200")], supplements_quote_id=original["id"])
    assert supplement["supplements_quote_id"] == original["id"]
    status, _ = consent(job, supplement)
    assert status == 201
    status, body = api("post", "/api/v1/visit-charges", job.tech_auth,
                       json=charge(job, "part", BOARD, serial_numbers=["CB-1"]))
    assert status == 201 and body["quote_line_id"] == supplement["lines"][0]["id"]


def test_revision_supersedes_the_presented_quote(api, job, quote_for, consent) -> None:  # type: ignore[no-untyped-def]
    first = quote_for(job, [line("part", PART, 2)])
    revision = quote_for(job, [line("part", PART, 1)], replaces_quote_id=first["id"])
    status, old = api("get", f"/api/v1/quotes/{first['id']}", job.tech_auth)
    assert old["status"] == "superseded" and revision["status"] == "presented"
    status, body = consent(job, first)
    assert status == 409


def test_in_warranty_job_records_free_work_without_consent(api, job, van, headers) -> None:  # type: ignore[no-untyped-def]
    status, decision = api("put", f"/api/v1/work-orders/{job.order.id}/warranty-decision", headers(role="office"),
                           json={"fault_type": "quality", "reported_on": "2023-06-01",
                                 "reported_on_evidence": COURIER_RECEIPT})
    assert status == 200 and decision["option"] == "warranty_repair" and decision["chargeable"] is False
    status, body = api("post", "/api/v1/visit-charges", job.tech_auth, json=charge(job, "part", PART))
    assert status == 201 and body["warranty"] is True and body["unit_price_minor"] == 0
    assert body["stock_movement_id"]              # free, but still issued from the van (R-REP-6)


# ---- who sees what -------------------------------------------------------------------------------

def test_customer_sees_only_own_presented_quotes(api, job, quote_for, make) -> None:  # type: ignore[no-untyped-def]
    draft = quote_for(job, [line("part", PART)], present=False)
    presented = quote_for(job, [line("fee", FEE)])
    own = {"Authorization": f"Bearer {make.token(make.user('customer', customer_id=job.customer.id).id)}"}
    other_customer = make.customer()
    other = {"Authorization": f"Bearer {make.token(make.user('customer', customer_id=other_customer.id).id)}"}
    status, page = api("get", "/api/v1/quotes", own)
    assert [q["id"] for q in page["items"]] == [presented["id"]]
    assert api("get", f"/api/v1/quotes/{draft['id']}", own)[0] == 404
    assert api("get", f"/api/v1/quotes/{presented['id']}", other)[0] == 404
    assert api("get", "/api/v1/quotes", other)[1]["meta"]["total"] == 0
    # the customer may decide on their own quote while signed in
    status, canon = api("get", f"/api/v1/quotes/{presented['id']}/canonical", own)
    status, body = api("post", f"/api/v1/quotes/{presented['id']}/consent", other, json={
        "decision": "accepted", "content_sha256": canon["content_sha256"], "signer_name": "x"})
    assert status == 404
    status, body = api("post", f"/api/v1/quotes/{presented['id']}/consent", own, json={
        "decision": "accepted", "content_sha256": canon["content_sha256"], "signer_name": "王经理"})
    assert status == 201 and body["channel"] == "portal"


def test_other_technician_cannot_see_or_quote_the_job(api, job, quote_for, make) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("part", PART)])
    stranger = make.technician()
    auth = {"Authorization": f"Bearer {make.token(stranger.user_id)}"}
    assert api("get", f"/api/v1/quotes/{quote['id']}", auth)[0] == 404
    assert api("post", "/api/v1/quotes", auth, json={"work_order_id": str(job.order.id),
                                                      "lines": [line("part", PART)]})[0] == 404
    assert api("post", "/api/v1/visit-charges", auth, json=charge(job, "part", PART))[0] == 404


def test_customer_link_is_single_use(api, job, quote_for, client) -> None:  # type: ignore[no-untyped-def]
    quote = quote_for(job, [line("part", PART)])
    status, link = api("post", f"/api/v1/quotes/{quote['id']}/link", job.tech_auth)
    assert status == 201
    status, view = api("get", link["url"])
    assert status == 200 and view["content_sha256"] == quote["content_sha256"]
    body: dict[str, Any] = {"decision": "accepted", "content_sha256": view["content_sha256"], "signer_name": "李总"}
    status, decided = api("post", link["url"] + "/consent", json=body)
    assert status == 201 and decided["channel"] == "link"
    status, again = api("post", link["url"] + "/consent", json=body)
    assert status == 404 and again["type"] == "/problems/link_invalid"
    assert api("get", "/api/v1/quote-links/not-a-token")[0] == 404
