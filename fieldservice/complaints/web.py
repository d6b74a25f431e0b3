"""Office pages for complaints (R-CMP-1): the board (open complaints by first-response deadline, overdue ones
first and marked, the periodic summary above them, a form to log one) and one complaint with its history and
the forms for each step: assign an owner, record that the customer could not be reached (48 h instead of 24 h),
the first response, notes, the resolution, reopening, and the feedback to the customer that closes it. Each
form calls complaints.service, as the JSON API does; a refusal is shown in place."""
from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_babel import gettext

from fieldservice.auth.decorators import current_actor
from fieldservice.auth.models import Role
from fieldservice.common.pagination import PageRequest
from fieldservice.complaints import service
from fieldservice.complaints.models import ComplaintStatus
from fieldservice.complaints.schemas import ComplaintInSchema
from fieldservice.db import utcnow
from fieldservice.errors import DomainError, NotFound
from fieldservice.web import forms, pickers
from fieldservice.web.auth import office_page
from fieldservice.web.pages import Tile, home_tile
from fieldservice.web.params import query_day

bp = Blueprint("office_complaints", __name__, url_prefix="/office")

HANDLERS = service.HANDLERS


def _board(*, refusal: forms.Refusal | None = None, status: int = 200) -> Any:
    now = utcnow()
    actor = current_actor()
    summary = service.summarize_complaints(actor, start=query_day("from"), end=query_day("to"), now=now)
    overdue_only = request.args.get("overdue") in ("1", "true")
    page = service.list_complaints(actor, PageRequest(page=1, page_size=200),
                                   overdue=True if overdue_only else None, now=now)
    rows = [c for c in page.items if c.status is not ComplaintStatus.CLOSED]
    overdue_ids = {c.id for c in service.list_complaints(actor, PageRequest(page=1, page_size=200),
                                                         overdue=True, now=now).items}
    return make_response(render_template(
        "office/complaints_board.html", complaints=rows, overdue_ids=overdue_ids, overdue_only=overdue_only,
        names=service.customer_names(rows), summary=summary, refusal=refusal, values=request.form,
        customer_options=pickers.customer_options(None), owners=service.possible_owners()), status)


@bp.get("/complaints")
@office_page(*HANDLERS)
def complaint_board() -> Any:
    """Open complaints (not closed) by deadline; `?overdue=1` shows only those past it without a response.
    Above them the R-CMP-1 summary for `?from=&to=` (UTC days; default the last 30 days)."""
    return _board()


@bp.post("/complaints")
@office_page(*HANDLERS)
def log_complaint() -> Any:
    """Log a complaint received by phone, e-mail, ... (complaints.service.log_complaint)."""
    body = {name: value for name in ("customer_id", "channel", "description", "owner_user_id")
            if (value := forms.text(name)) is not None}
    made, refusal = forms.attempt(lambda: service.log_complaint(current_actor(), ComplaintInSchema().load(body)))
    if refusal is not None or made is None:
        return _board(refusal=refusal, status=refusal.status if refusal else 422)
    return redirect(url_for(".complaint", complaint_id=made.id, saved="logged"), code=303)


def _detail(complaint_id: uuid.UUID, *, refusal: forms.Refusal | None = None, status: int = 200) -> Any:
    actor = current_actor()
    try:
        found = service.get_complaint(actor, complaint_id)
    except DomainError as err:
        return forms.error_page(err)
    owners = service.possible_owners()
    return make_response(render_template(
        "office/complaint.html", c=found, name=service.customer_names([found]).get(found.customer_id, ""),
        owners=owners, owner={u.id: u for u in owners}.get(found.owner_user_id), refusal=refusal,
        saved=request.args.get("saved"), overdue=found.id in {c.id for c in service.list_complaints(
            actor, PageRequest(page=1, page_size=200), overdue=True, now=utcnow()).items}), status)


@bp.get("/complaints/<uuid:complaint_id>")
@office_page(*HANDLERS)
def complaint(complaint_id: uuid.UUID) -> Any:
    """One complaint: what happened, its deadline, its notes, and the next step's form."""
    return _detail(complaint_id)


STEPS = {
    "owner": lambda a, cid: service.assign_owner(a, cid, forms.uuid_field("owner_user_id", required=True),
                                                 version=forms.int_field("version")),
    "unreachable": lambda a, cid: service.record_contact_failed(a, cid, forms.required_text("body"),
                                                                version=forms.int_field("version")),
    "response": lambda a, cid: service.record_first_response(a, cid, forms.required_text("body"),
                                                             version=forms.int_field("version")),
    "note": lambda a, cid: service.add_note(a, cid, forms.required_text("body")),
    "resolve": lambda a, cid: service.resolve(a, cid, forms.required_text("body"), version=forms.int_field("version")),
    "reopen": lambda a, cid: service.reopen(a, cid, forms.required_text("body"), version=forms.int_field("version")),
    "feedback": lambda a, cid: service.record_feedback(
        a, cid, forms.required_text("body"), {"yes": True, "no": False}.get(request.form.get("customer_satisfied", "")),
        version=forms.int_field("version")),
}


@bp.post("/complaints/<uuid:complaint_id>/<step>")
@office_page(*HANDLERS)
def complaint_step(complaint_id: uuid.UUID, step: str) -> Any:
    """One step of R-CMP-1 (owner, unreachable, response, note, resolve, reopen, feedback)."""
    action = STEPS.get(step)
    if action is None:
        return forms.error_page(NotFound(f"no step {step}"))
    _, refusal = forms.attempt(lambda: action(current_actor(), complaint_id))
    if refusal is not None:
        return _detail(complaint_id, refusal=refusal, status=refusal.status)
    return redirect(url_for(".complaint", complaint_id=complaint_id, saved=step), code=303)


@home_tile(Role.OFFICE, Role.ADMIN, Role.DISPATCHER, order=28)
def _complaint_tiles(actor: Any) -> list[Tile]:
    overdue = service.list_complaints(actor, PageRequest(page=1, page_size=1), overdue=True, now=utcnow())
    return [Tile(gettext("Complaints overdue for a first response"), overdue.total,
                 url_for("office_complaints.complaint_board", overdue=1), alert=True)]
