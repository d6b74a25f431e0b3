"""Issue 14: quotes in the browser. The office's approval queue (R-REP-8: more than 10% below the price list waits
for an office manager), and the customer's page for a quote link: HTML in zh or en, accept or decline bound to the
hash of the quote shown (R-REP-4), single use; the signed-in customer decides the same way."""
from __future__ import annotations

import re
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from fieldservice.commerce.models import ConsentChannel, Quote, QuoteConsent, QuoteStatus
from tests.commerce.conftest import FEE, LABOUR, PART, line
from tests.factories import Factory
from tests.web.helpers import get_row

Headers = Callable[..., dict[str, str]]


def _link(client: FlaskClient, quote_id: str, auth: dict[str, str]) -> str:
    made = client.post(f"/office/quotes/{quote_id}/link", headers=auth)
    assert made.status_code == 200, made.get_data(as_text=True)
    match = re.search(r'id="quote-link-url" value="[^"]*(/quote/[^"]+)"', made.get_data(as_text=True))
    assert match
    return match.group(1)


def test_office_approves_a_quote_below_the_list_r_rep_8(app: Flask, client: FlaskClient, job: SimpleNamespace,
                                                       quote_for: Callable[..., dict[str, Any]],
                                                       headers: Headers) -> None:
    """R-REP-8: presenting a quote 20% below the list is refused in place (approval_required) until an office
    manager approves it from the queue."""
    quote = quote_for(job, [line("part", PART, 1, unit_price_minor=8_000)], present=False)
    dispatcher, office = headers(role="dispatcher"), headers(role="office")
    refused = client.post(f"/office/quotes/{quote['id']}/present", headers=dispatcher)
    assert refused.status_code == 409 and 'data-code="approval_required"' in refused.get_data(as_text=True)
    assert client.post(f"/api/v1/quotes/{quote['id']}/submit", headers=job.tech_auth).status_code == 200
    queue = client.get("/office/quotes", headers=office).get_data(as_text=True)
    assert quote["number"] in queue and "20%" in queue and "R-REP-8" in queue
    page = client.get(f"/office/quotes/{quote['id']}", headers=office).get_data(as_text=True)
    assert 'id="approval-form"' in page and "¥80.00" in page and "¥100.00" in page
    assert client.post(f"/office/quotes/{quote['id']}/approval", headers=office,
                       data={"approve": "yes", "note": "老客户"}).status_code == 303
    assert client.post(f"/office/quotes/{quote['id']}/present", headers=dispatcher).status_code == 303
    assert get_row(app, Quote, quote["id"]).status is QuoteStatus.PRESENTED


def test_customer_accepts_through_the_link_page_bound_to_the_hash_r_rep_4(
        app: Flask, client: FlaskClient, job: SimpleNamespace, quote_for: Callable[..., dict[str, Any]],
        headers: Headers) -> None:
    """R-REP-4: the link's page is HTML (it used to be JSON) in the customer's language; a decision carrying
    another hash than the quote's is refused (409, nothing recorded); the right one is recorded as channel link
    and the link is used up."""
    quote = quote_for(job, [line("part", PART, 2), line("labour", LABOUR, 1.5), line("fee", FEE, 1)])
    path = _link(client, quote["id"], headers(role="dispatcher"))
    page = client.get(path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html" and "接受报价" in html
    assert "¥650.00" in html and quote["content_sha256"] in html and "<script" not in html
    english = client.get(path + "?lang=en").get_data(as_text=True)
    assert "Accept the quote" in english and "接受报价" not in english
    wrong = client.post(path, data={"decision": "accepted", "signer_name": "王经理", "content_sha256": "0" * 64})
    assert wrong.status_code == 409 and 'data-code="content_hash_mismatch"' in wrong.get_data(as_text=True)
    assert get_row(app, Quote, quote["id"]).status is QuoteStatus.PRESENTED
    done = client.post(path, data={"decision": "accepted", "signer_name": "王经理",
                                   "content_sha256": quote["content_sha256"]})
    assert done.status_code == 201 and "您已接受报价" in done.get_data(as_text=True)
    assert get_row(app, Quote, quote["id"]).status is QuoteStatus.ACCEPTED
    from fieldservice.extensions import db

    with app.app_context():
        consent = db.session.query(QuoteConsent).one()
        assert consent.channel is ConsentChannel.LINK and consent.content_sha256 == quote["content_sha256"]
    used = client.get(path)
    assert used.status_code == 404 and 'data-code="link_invalid"' in used.get_data(as_text=True)


def test_signed_in_customer_decides_on_their_own_quote(app: Flask, client: FlaskClient, job: SimpleNamespace,
                                                       quote_for: Callable[..., dict[str, Any]],
                                                       make: Factory) -> None:
    quote = quote_for(job, [line("part", PART, 1)])
    customer = {"Authorization": f"Bearer {make.token(make.user('customer', customer_id=job.customer.id).id)}"}
    home = client.get("/office/", headers=customer).get_data(as_text=True)
    assert quote["number"] in home
    page = client.get(f"/office/quotes/{quote['id']}", headers=customer).get_data(as_text=True)
    assert 'id="consent-form"' in page
    declined = client.post(f"/office/quotes/{quote['id']}/consent", headers=customer, data={
        "decision": "declined", "signer_name": "王经理", "content_sha256": quote["content_sha256"]})
    assert declined.status_code == 303
    assert get_row(app, Quote, quote["id"]).status is QuoteStatus.DECLINED
    stranger = {"Authorization": f"Bearer {make.token(make.user('customer', customer_id=make.customer().id).id)}"}
    assert client.get(f"/office/quotes/{quote['id']}", headers=stranger).status_code == 404
