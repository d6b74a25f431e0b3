"""Office page for follow-up calls: today's list (due and overdue) and a form per call to record the
outcome (same schema and service as the JSON API)."""
from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext

from fieldservice.auth.decorators import BACK_OFFICE, current_actor
from fieldservice.common.pagination import PageRequest
from fieldservice.followups import service
from fieldservice.followups.schemas import OutcomeSchema
from fieldservice.web import forms
from fieldservice.web.auth import office_page
from fieldservice.web.i18n import company_today
from fieldservice.web.pages import Tile, home_tile

bp = Blueprint("followup_pages", __name__, url_prefix="/office/follow-ups")


def _page(today: date, refusal: forms.Refusal | None = None, failed: str | None = None,
          status: int = 200) -> tuple[str, int]:
    actor = current_actor()
    due = service.list_tasks(actor, PageRequest(page=1, page_size=200), due_by=today)
    return render_template("office/followups_list.html", tasks=due.items, total=due.total, today=today,
                           sheet=service.call_sheet(due.items), refusal=refusal, failed=failed,
                           saved=request.args.get("saved")), status


@bp.get("")
@office_page(*BACK_OFFICE)
def calls() -> Any:
    """Today's follow-up calls (today in the company's zone): due today and overdue, oldest first, each with
    the customer's name and phone and the job."""
    return _page(company_today())


@bp.post("/<uuid:task_id>/outcome")
@office_page(*BACK_OFFICE)
def outcome(task_id: uuid.UUID) -> Any:
    """Record one call from the list's form."""
    form = request.form
    body: dict[str, Any] = {"reached": form.get("reached") == "yes"}
    if form.get("satisfaction", "").strip():
        body["satisfaction"] = int(form["satisfaction"]) if form["satisfaction"].isdigit() else form["satisfaction"]
    if form.get("remarks", "").strip():
        body["remarks"] = form["remarks"]
    if form.get("version", "").isdigit():
        body["version"] = int(form["version"])
    _, refusal = forms.attempt(lambda: service.record_outcome(current_actor(), task_id, OutcomeSchema().load(body)))
    if refusal is not None:
        return _page(company_today(), refusal, str(task_id), refusal.status)
    return redirect(url_for(".calls", saved=1), code=303)


@home_tile(*BACK_OFFICE, order=25)
def _call_tiles(actor: Any) -> list[Tile]:
    due = service.due_summary(company_today())
    return [Tile(gettext("Follow-up calls due today"), due.due_today, url_for("followup_pages.calls")),
            Tile(gettext("Follow-up calls overdue"), due.overdue, url_for("followup_pages.calls"), alert=True)]
