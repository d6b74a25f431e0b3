"""Office pages for intake (R-REP-1): take a customer's report (customer, product or unit, problem, channel),
then either answer it on the spot as a consultation (R-CON-1), open a work order from it, or close it. The
forms load the API's schemas and call servicerequests.service, so the same rules and refusals apply."""
from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_babel import gettext

from fieldservice.auth.decorators import BACK_OFFICE, current_actor
from fieldservice.auth.models import Role
from fieldservice.common.pagination import PageRequest
from fieldservice.errors import DomainError
from fieldservice.servicerequests import service
from fieldservice.servicerequests.models import RequestStatus
from fieldservice.servicerequests.schemas import (
    AnswerSchema,
    CloseSchema,
    OpenWorkOrderSchema,
    ServiceRequestInSchema,
)
from fieldservice.web import forms, pickers
from fieldservice.web.auth import office_page
from fieldservice.web.pages import Tile, home_tile
from fieldservice.web.words import WORDS

bp = Blueprint("request_pages", __name__, url_prefix="/office/requests")

REPORT_FIELDS = ("customer_id", "site_id", "asset_id", "product_id", "channel", "problem", "reporter_name",
                 "reporter_phone")


def _report_body() -> dict[str, Any]:
    """The intake form as the API's JSON body (blank fields absent, so the schema and service name what is
    missing)."""
    return {name: value for name in REPORT_FIELDS if (value := forms.text(name)) is not None}


def _list_page(*, refusal: forms.Refusal | None = None, status: int = 200) -> Any:
    chosen = request.args.get("status", "open")
    page = service.list_requests(current_actor(), PageRequest(page=1, page_size=100),
                                 status=RequestStatus(chosen) if chosen in WORDS["request_status"] else None)
    values = request.form
    customer_id = forms.uuid_or_none(values.get("customer_id"))
    customer_q = (values.get("customer_q") or request.args.get("customer_q") or "").strip()
    context = {"page": page, "status": chosen, "refusal": refusal, "values": values,
               "customer_options": pickers.customer_options(customer_q or None),
               "asset_options": pickers.asset_options(None, customer_id) if customer_id else [],
               "site_options": pickers.site_options(customer_id),
               "product_options": pickers.product_options(None), "customer_q": customer_q}
    return make_response(render_template("office/requests.html", **context), status)


@bp.get("")
@office_page(*BACK_OFFICE)
def requests() -> Any:
    """Service requests (`?status=`, default open) and the form to take a new one."""
    return _list_page()


@bp.post("")
@office_page(*BACK_OFFICE)
def create() -> Any:
    """Take a report: servicerequests.service.create_request (R-REP-1: 422 naming product/unit when neither)."""
    made, refusal = forms.attempt(lambda: service.create_request(current_actor(),
                                                                 ServiceRequestInSchema().load(_report_body())))
    if refusal is not None:
        return _list_page(refusal=refusal, status=refusal.status)
    assert made is not None
    return redirect(url_for(".request_page", request_id=made.id, saved="created"), code=303)


def _detail(request_id: uuid.UUID, *, refusal: forms.Refusal | None = None, status: int = 200) -> Any:
    try:
        found = service.get_request(current_actor(), request_id)
    except DomainError as err:
        return forms.error_page(err)
    return make_response(render_template("office/request.html", r=found, refusal=refusal, saved=request.args.get("saved"),
                                         values=request.form,
                                         can_open=current_actor().role in (Role.DISPATCHER, Role.ADMIN)), status)


@bp.get("/<uuid:request_id>")
@office_page(*BACK_OFFICE)
def request_page(request_id: uuid.UUID) -> Any:
    """One request with what can be done with it."""
    return _detail(request_id)


def _after(request_id: uuid.UUID, refusal: forms.Refusal | None, saved: str) -> Any:
    return forms.done_or_refused(refusal, lambda r: _detail(request_id, refusal=r, status=r.status),
                                 url_for(".request_page", request_id=request_id, saved=saved))


@bp.post("/<uuid:request_id>/work-order")
@office_page(Role.DISPATCHER, Role.ADMIN)
def open_work_order(request_id: uuid.UUID) -> Any:
    """Open a work order from the request: servicerequests.service.open_work_order; then plan its visit."""
    body = {name: value for name in ("kind", "priority", "summary") if (value := forms.text(name)) is not None}
    made, refusal = forms.attempt(lambda: service.open_work_order(current_actor(), request_id,
                                                                  OpenWorkOrderSchema().load(body)))
    if refusal is not None or made is None:
        return _after(request_id, refusal, "")
    return redirect(url_for("work_order_pages.work_order", work_order_id=made.id, saved="new"), code=303)


@bp.post("/<uuid:request_id>/answer")
@office_page(*BACK_OFFICE)
def answer(request_id: uuid.UUID) -> Any:
    """Answer on the spot (R-REP-1, R-CON-1): logged as a consultation linked to the request."""
    body = {name: value for name in ("answer", "topic") if (value := forms.text(name)) is not None}
    _, refusal = forms.attempt(lambda: service.answer_request(current_actor(), request_id,
                                                              **_answer_args(AnswerSchema().load(body))))
    return _after(request_id, refusal, "answered")


def _answer_args(data: dict[str, Any]) -> dict[str, Any]:
    return {"answer": data["answer"], "topic": data.get("topic")}


@bp.post("/<uuid:request_id>/close")
@office_page(*BACK_OFFICE)
def close(request_id: uuid.UUID) -> Any:
    """Close the request without a work order."""
    _, refusal = forms.attempt(lambda: service.close_request(
        current_actor(), request_id, CloseSchema().load({"reason": forms.text("reason")}).get("reason")))
    return _after(request_id, refusal, "closed")


@home_tile(Role.OFFICE, order=20)
def _intake_tiles(actor: Any) -> list[Tile]:
    page = service.list_requests(actor, PageRequest(page=1, page_size=1), status=RequestStatus.OPEN)
    return [Tile(gettext("Open service requests"), page.total, url_for("request_pages.requests"))]
