"""Pages for quotes (R-REP-4, R-REP-8).

- Office: the approval queue (quotes more than 10% below the price list wait for an office manager), one quote
  with its lines, list prices and deviation, and the buttons to approve or send back, present it to the customer
  and make the customer's link.
- The customer: the quote in their language with its content hash, and accept or decline it, bound to that hash
  (the consent is refused if the quote changed since it was shown), through the single-use link `/quote/<token>`
  (no login; zh/en, phone-sized) or signed in as the customer (`/office/quotes/<id>`). A quote that needs the
  written repair agreement (R-REP-8) shows its text and asks for a signature on the page.

All of it goes through fieldservice.commerce.quotes, as the JSON API does."""
from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
from flask import Blueprint, current_app, make_response, render_template, request, url_for
from flask_babel import gettext

from fieldservice.auth.decorators import BACK_OFFICE, current_actor, public
from fieldservice.auth.models import Role
from fieldservice.commerce import quotes
from fieldservice.commerce.models import Quote, QuoteStatus
from fieldservice.commerce.schemas import ApprovalInSchema, ConsentInSchema, LinkConsentInSchema
from fieldservice.common.pagination import PageRequest
from fieldservice.db import unit_of_work
from fieldservice.errors import DomainError
from fieldservice.signing.views import _headers as customer_page_headers
from fieldservice.web import forms
from fieldservice.web.auth import office_page
from fieldservice.web.pages import Tile, home_tile

bp = Blueprint("quote_pages", __name__, url_prefix="/office/quotes")
link_bp = Blueprint("quote_link_page", __name__, url_prefix="/quote")
link_bp.after_request(customer_page_headers)   # no cache, no referrer, no framing, the signing page's CSP

OFFICE = (Role.OFFICE, Role.ADMIN)
WRITERS = (*BACK_OFFICE,)
TABS = {"pending_approval": [QuoteStatus.PENDING_APPROVAL], "presented": [QuoteStatus.PRESENTED],
        "draft": [QuoteStatus.DRAFT, QuoteStatus.APPROVED], "all": None}


def _decision_body(schema: ma.Schema) -> dict[str, Any]:
    """The consent form as the API's JSON body."""
    body = {name: value for name in ("decision", "content_sha256", "signer_name", "signature_png", "agreement_sha256")
            if (value := forms.text(name)) is not None}
    return schema.load(body)


def _view(quote: Quote) -> dict[str, Any]:
    return {"quote": quote, "deviation": quotes.deviation(quote), "needs_signature": quote.agreement_required,
            "agreement_sha256": quotes.agreement_sha256(quote)}


# ---- office ------------------------------------------------------------------------------------------

@bp.get("")
@office_page(*BACK_OFFICE)
def quotes_list() -> Any:
    """Quotes by status; the office opens on the approval queue (R-REP-8)."""
    actor = current_actor()
    default = "pending_approval" if actor.role in OFFICE else "presented"
    tab = request.args.get("status", default)
    tab = tab if tab in TABS else default
    page = quotes.list_quotes(actor, PageRequest(page=1, page_size=100), status=TABS[tab])
    return render_template("office/quotes.html", page=page, tab=tab,
                           deviations={q.id: quotes.deviation(q) for q in page.items})


def _office_quote(quote_id: uuid.UUID, *, refusal: forms.Refusal | None = None, link: dict[str, Any] | None = None,
                  status: int = 200) -> Any:
    actor = current_actor()
    try:
        quote = quotes.get_quote(actor, quote_id)
    except DomainError as err:
        return forms.error_page(err)
    template = "office/quote_customer.html" if actor.role is Role.CUSTOMER else "office/quote.html"
    return make_response(render_template(template, **_view(quote), refusal=refusal, link=link,
                                         saved=request.args.get("saved"), can_approve=actor.role in OFFICE,
                                         can_write=actor.role in WRITERS), status)


@bp.get("/<uuid:quote_id>")
@office_page(*BACK_OFFICE, Role.CUSTOMER)
def quote(quote_id: uuid.UUID) -> Any:
    """One quote: for the office its lines against the price list; for the customer the decision form."""
    return _office_quote(quote_id)


def _after(quote_id: uuid.UUID, refusal: forms.Refusal | None, saved: str) -> Any:
    return forms.done_or_refused(refusal, lambda r: _office_quote(quote_id, refusal=r, status=r.status),
                                 url_for(".quote", quote_id=quote_id, saved=saved))


@bp.post("/<uuid:quote_id>/approval")
@office_page(*OFFICE)
def approval(quote_id: uuid.UUID) -> Any:
    """Approve, or send back to draft, a quote more than 10% below the price list (R-REP-8)."""
    approve = request.form.get("approve") == "yes"
    _, refusal = forms.attempt(lambda: quotes.decide_approval(
        current_actor(), quote_id, **_approval_args(ApprovalInSchema().load(
            {"approve": approve, "note": forms.text("note")}))))
    return _after(quote_id, refusal, "approved" if approve else "sent_back")


def _approval_args(data: dict[str, Any]) -> dict[str, Any]:
    return {"approve": data["approve"], "note": data.get("note")}


@bp.post("/<uuid:quote_id>/present")
@office_page(*WRITERS)
def present(quote_id: uuid.UUID) -> Any:
    """Show the quote to the customer: its content is frozen and hashed (409 approval_required without the
    approval it needs)."""
    _, refusal = forms.attempt(lambda: quotes.present(current_actor(), quote_id))
    return _after(quote_id, refusal, "presented")


@bp.post("/<uuid:quote_id>/link")
@office_page(*WRITERS)
def make_link(quote_id: uuid.UUID) -> Any:
    """A single-use link for the customer's decision; its page's address is shown once, to send on."""
    made, refusal = forms.attempt(lambda: quotes.create_link(current_actor(), quote_id))
    if refusal is not None or made is None:
        return _after(quote_id, refusal, "")
    base = current_app.config.get("PUBLIC_BASE_URL") or request.host_url.rstrip("/")
    return _office_quote(quote_id, link={"url": base + made["page_url"], "expires_at": made["expires_at"]})


@bp.post("/<uuid:quote_id>/consent")
@office_page(Role.CUSTOMER)
def portal_consent(quote_id: uuid.UUID) -> Any:
    """The signed-in customer accepts or declines (channel portal), bound to the hash shown."""
    _, refusal = forms.attempt(lambda: quotes.record_consent(current_actor(), quote_id,
                                                             _decision_body(ConsentInSchema())))
    return _after(quote_id, refusal, request.form.get("decision", "decided"))


@home_tile(Role.OFFICE, Role.ADMIN, order=15)
def _approval_tiles(actor: Any) -> list[Tile]:
    waiting = quotes.list_quotes(actor, PageRequest(page=1, page_size=1), status=[QuoteStatus.PENDING_APPROVAL])
    return [Tile(gettext("Quotes waiting for approval"), waiting.total, url_for("quote_pages.quotes_list"), alert=True)]


# ---- the customer's link -------------------------------------------------------------------------

@link_bp.route("/<token>", methods=["GET", "POST"])
@public
def by_link(token: str) -> Any:
    """The customer's quote page: read it, accept or decline it (single use; zh/en with `?lang=`)."""
    refusal = None
    if request.method == "POST":
        try:
            with unit_of_work():
                consent = quotes.consent_by_link(token, _decision_body(LinkConsentInSchema()))
                decision = consent.decision.value
            return render_template("quote/done.html", decision=decision), 201
        except (ma.ValidationError, DomainError) as err:
            refusal = forms.refusal(err)
    try:
        found = quotes.quote_by_link(token)
    except DomainError as err:
        return render_template("quote/error.html", refusal=forms.refusal(err)), err.status
    response = make_response(render_template("quote/page.html", **_view(found), refusal=refusal, token=token,
                                             post_url=url_for(".by_link", token=token)), refusal.status if refusal else 200)
    return response
