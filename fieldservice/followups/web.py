"""Office page for follow-up calls: today's list (due and overdue) and a form per call to record the
outcome (same schema and service as the JSON API)."""
from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import marshmallow as ma
from flask import Blueprint, redirect, render_template, request, url_for

from fieldservice.auth.decorators import BACK_OFFICE, current_actor
from fieldservice.common.pagination import PageRequest
from fieldservice.db import unit_of_work, utcnow
from fieldservice.errors import DomainError
from fieldservice.followups import service
from fieldservice.followups.schemas import OutcomeSchema
from fieldservice.web.auth import office_page

bp = Blueprint("followup_pages", __name__, url_prefix="/office/follow-ups")


def _page(today: date, errors: dict[str, Any] | None = None, status: int = 200) -> tuple[str, int]:
    actor = current_actor()
    due = service.list_tasks(actor, PageRequest(page=1, page_size=200), due_by=today)
    return render_template("office/followups_list.html", tasks=due.items, total=due.total, today=today,
                           errors=errors or {}, saved=request.args.get("saved")), status


@bp.get("")
@office_page(*BACK_OFFICE)
def calls() -> Any:
    """Today's follow-up calls: due today and overdue, oldest first."""
    return _page(utcnow().date())


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
    try:
        data = OutcomeSchema().load(body)
        with unit_of_work():
            service.record_outcome(current_actor(), task_id, data)
    except ma.ValidationError as err:
        return _page(utcnow().date(), {str(task_id): str(err.messages)}, 422)
    except DomainError as err:
        return _page(utcnow().date(), {str(task_id): err.detail}, err.status)
    return redirect(url_for(".calls", saved=1), code=303)
