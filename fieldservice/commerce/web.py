"""Office pages for returned units (R-RET-1/2/3): the case list with its R-RET-1 windows, and one case with the
customer's photos and description, the warranty decision and shipping liability, and the forms for the
inspection, the outcome and closing. The forms go through the same schemas and service functions as the JSON
API (fieldservice/commerce/api.py), so the same rules and refusals apply; a refusal is shown on the page with
its 4xx status."""
from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from fieldservice.auth.decorators import BACK_OFFICE, current_actor
from fieldservice.commerce import returns
from fieldservice.commerce.models import ReturnStatus
from fieldservice.commerce.schemas import ReturnCaseOutcomeInSchema, ReturnInspectionInSchema
from fieldservice.common.pagination import PageRequest
from fieldservice.db import unit_of_work, utcnow
from fieldservice.errors import DomainError
from fieldservice.web import forms
from fieldservice.web.auth import office_page

bp = Blueprint("return_pages", __name__, url_prefix="/office/returns")

PAGE_SIZE = 25
STATUS_LABELS = {"received": _l("Received"), "inspected": _l("Inspected"), "decided": _l("Decided"),
                 "closed": _l("Closed")}
OUTCOME_LABELS = {"refund": _l("Refund"), "exchange": _l("Exchange"), "repair": _l("Repair"),
                  "refused": _l("Refused")}
OPTION_LABELS = {
    "no_reason_return": _l("No-reason return (7 days)"),
    "quality_return_or_exchange": _l("Quality return or exchange within 1 month (company pays)"),
    "warranty_repair": _l("Free repair under warranty"),
    "paid_repair": _l("Paid repair (customer pays repair and shipping)"),
}
PAYER_LABELS = {"company": _l("Company"), "customer": _l("Customer")}
FAULT_TYPES = {"quality": _l("Quality problem"), "no_reason": _l("No reason"), "misuse": _l("Misuse"),
               "wear": _l("Normal wear"), "transport_damage": _l("Damaged in transport")}
LABELS = {"status_labels": STATUS_LABELS, "outcome_labels": OUTCOME_LABELS, "option_labels": OPTION_LABELS,
          "payer_labels": PAYER_LABELS, "fault_types": FAULT_TYPES}


@bp.get("")
@office_page(*BACK_OFFICE)
def case_list() -> Any:
    """Return cases, newest first, filtered by status and a customer search (name, phone, case number or
    serial), with each case's R-RET-1 windows (7-day no-reason, 1-month quality return/exchange)."""
    status = request.args.get("status", "")
    chosen = [ReturnStatus(status)] if status in STATUS_LABELS else None
    q = request.args.get("q", "").strip()[:200]
    page = returns.list_cases(current_actor(), PageRequest(page=forms.page_number(), page_size=PAGE_SIZE),
                              status=chosen, q=q or None)
    return render_template("office/returns_list.html", page=page, status=status if chosen else "", q=q,
                           windows=returns.windows_for(page.items), labels=returns.labels_for(page.items),
                           **LABELS)


def _case_page(case_id: uuid.UUID, *, refusal: forms.Refusal | None = None, form: str | None = None,
               values: MultiDict[str, str] | None = None, status: int = 200) -> tuple[str, int]:
    actor = current_actor()
    try:
        with unit_of_work():                       # the read log row (R-ARC-3) is committed with the view
            data = returns.view_case(actor, case_id, via="page")
    except DomainError as err:
        return forms.error_page(err)
    return render_template("office/return_case.html", **data, refusal=refusal, failed_form=form,
                           values=values or MultiDict(), can_write=actor.role in returns.WRITERS,
                           saved=request.args.get("saved"), today=utcnow().date(), **LABELS), status


@bp.get("/<uuid:case_id>")
@office_page(*BACK_OFFICE)
def case_detail(case_id: uuid.UUID) -> Any:
    """One case: the customer's description and photos, the warranty decision and shipping liability
    (R-RET-1/2), the inspection (R-RET-3) and the outcome, with the forms for the next step."""
    return _case_page(case_id)


def _inspection_body(form: MultiDict[str, str]) -> dict[str, Any]:
    """The inspection form as the API's JSON body (blank fields absent, so the schema says what is missing)."""
    body: dict[str, Any] = {}
    if form.get("matches_description") in ("yes", "no"):
        body["matches_description"] = form["matches_description"] == "yes"
    for name in ("findings", "found_fault_type", "inspector_name"):
        if form.get(name, "").strip():
            body[name] = form[name].strip()
    photo_ids = [p for p in form.getlist("photo_ids") if p.strip()]
    if photo_ids:
        body["photo_ids"] = photo_ids
    return body


def _post(case_id: uuid.UUID, form_name: str, action: Any) -> Any:
    _, refusal = forms.attempt(action)
    if refusal is not None:
        return _case_page(case_id, refusal=refusal, form=form_name, values=request.form, status=refusal.status)
    return redirect(url_for(".case_detail", case_id=case_id, saved=form_name), code=303)


@bp.post("/<uuid:case_id>/inspection")
@office_page(*BACK_OFFICE)
def inspection(case_id: uuid.UUID) -> Any:
    """R-RET-3: record the inspection against the customer's photos and description (returns.inspect)."""
    return _post(case_id, "inspection", lambda: returns.inspect(
        current_actor(), case_id, ReturnInspectionInSchema().load(_inspection_body(request.form))))


@bp.post("/<uuid:case_id>/outcome")
@office_page(*BACK_OFFICE)
def outcome(case_id: uuid.UUID) -> Any:
    """Decide refund, exchange, repair or refused, as the warranty decision allows (returns.decide)."""
    body: dict[str, Any] = {"outcome": request.form.get("outcome", "")}
    if request.form.get("note", "").strip():
        body["note"] = request.form["note"].strip()
    return _post(case_id, "outcome", lambda: returns.decide(
        current_actor(), case_id, ReturnCaseOutcomeInSchema().load(body)))


@bp.post("/<uuid:case_id>/close")
@office_page(*BACK_OFFICE)
def close(case_id: uuid.UUID) -> Any:
    """Close a decided case (returns.close)."""
    return _post(case_id, "close", lambda: returns.close(current_actor(), case_id))
