"""Office pages for maintenance plans: the list, and a form to create or edit a plan (same schemas and
service calls as the JSON API, so the same rules and refusals apply)."""
from __future__ import annotations

import uuid
from typing import Any

import marshmallow as ma
import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, request, url_for

from fieldservice.auth.decorators import BACK_OFFICE, current_actor
from fieldservice.common.pagination import PageRequest
from fieldservice.contracts.models import ContractStatus, SalesContract
from fieldservice.db import unit_of_work
from fieldservice.errors import DomainError
from fieldservice.extensions import db
from fieldservice.maintenance import service
from fieldservice.maintenance.models import IntervalUnit, PlanStatus
from fieldservice.maintenance.schemas import PlanInSchema, PlanUpdateSchema
from fieldservice.teams.models import Team
from fieldservice.technicians.models import Technician
from fieldservice.web.auth import office_page

bp = Blueprint("maintenance_pages", __name__, url_prefix="/office/maintenance")

TEXT_FIELDS = ("name", "rrule", "start_on", "end_on", "window_start", "window_end", "interval_unit")
OPTIONAL_IDS = ("technician_id", "team_id")


def parse_items(text: str) -> list[dict[str, Any]]:
    """One task per line; its checklist after a `|`, items separated by `;`:
    `清洗滤网 clean filters | 滤网A; 滤网B`."""
    items = []
    for line in text.splitlines():
        task, _, checks = line.partition("|")
        if task.strip():
            items.append({"task": task.strip(), "checklist": [c.strip() for c in checks.split(";") if c.strip()]})
    return items


def format_items(items: list[dict[str, Any]]) -> str:
    return "\n".join(item["task"] + (" | " + "; ".join(item["checklist"]) if item.get("checklist") else "")
                     for item in items)


def _form_data(form: Any, *, editing: bool) -> dict[str, Any]:
    """The form as the API's JSON body: blanks are absent on create and null (cleared) on edit."""
    data: dict[str, Any] = {"items": parse_items(form.get("items", ""))}
    for name in TEXT_FIELDS + OPTIONAL_IDS + ("interval",):
        value = form.get(name, "").strip()
        if value:
            data[name] = int(value) if name == "interval" and value.isdigit() else value
        elif editing and name in ("end_on", "rrule", "interval", "interval_unit") + OPTIONAL_IDS:
            data[name] = None
    if data.get("rrule"):
        data.pop("interval", None), data.pop("interval_unit", None)
    if "asset_ids" in form:
        data["asset_ids"] = [part for part in form.get("asset_ids", "").replace(",", " ").split() if part]
    if not editing:
        for name in ("asset_id", "contract_id"):
            if form.get(name, "").strip():
                data[name] = form[name].strip()
        if not data.get("asset_ids"):
            data.pop("asset_ids", None)
    elif form.get("version", "").isdigit():
        data["version"] = int(form["version"])
    return data


def _choices() -> dict[str, Any]:
    return {
        "contracts": db.session.scalars(sa.select(SalesContract).where(SalesContract.status == ContractStatus.ACTIVE)
                                        .order_by(SalesContract.number).limit(500)).all(),
        "technicians": db.session.scalars(sa.select(Technician).where(Technician.is_active.is_(True))
                                          .order_by(Technician.name).limit(500)).all(),
        "teams": db.session.scalars(sa.select(Team).where(Team.is_active.is_(True)).order_by(Team.name)).all(),
        "units": [unit.value for unit in IntervalUnit],
    }


def _status(err: Exception) -> int:
    return err.status if isinstance(err, DomainError) else 422


def _errors(err: Exception) -> dict[str, Any]:
    if isinstance(err, ma.ValidationError):
        messages = err.messages if isinstance(err.messages, dict) else {"form": err.messages}
        return {field: "; ".join(map(str, m)) if isinstance(m, list) else str(m) for field, m in messages.items()}
    assert isinstance(err, DomainError)
    fields = (err.extra.get("errors") or {}).get("json") or {}
    if fields:
        return {field: "; ".join(map(str, m)) if isinstance(m, list) else str(m) for field, m in fields.items()}
    return {"form": err.detail}


@bp.get("/plans")
@office_page(*BACK_OFFICE)
def plans() -> str:
    """The maintenance plans, newest first (by status)."""
    status = request.args.get("status") or None
    try:
        chosen = PlanStatus(status) if status else None
    except ValueError:
        chosen = None
    page = service.list_plans(current_actor(), PageRequest(page=1, page_size=200), status=chosen)
    return render_template("office/maintenance_plans.html", plans=page.items, status=status)


@bp.route("/plans/new", methods=["GET", "POST"])
@office_page(*BACK_OFFICE)
def new_plan() -> Any:
    """Create a plan (for one asset or a contract's assets)."""
    values: dict[str, Any] = dict(request.form) if request.method == "POST" else {
        "window_start": "09:00", "window_end": "12:00", "interval": "3", "interval_unit": "months"}
    if request.method == "POST":
        try:
            data = PlanInSchema().load(_form_data(request.form, editing=False))
            with unit_of_work():
                plan = service.create_plan(current_actor(), data)
                plan_id = plan.id
            return redirect(url_for(".edit_plan", plan_id=plan_id, saved=1), code=303)
        except (ma.ValidationError, DomainError) as err:
            return render_template("office/maintenance_plan_form.html", plan=None, values=values,
                                   errors=_errors(err), **_choices()), _status(err)
    return render_template("office/maintenance_plan_form.html", plan=None, values=values, errors={}, **_choices())


@bp.route("/plans/<uuid:plan_id>", methods=["GET", "POST"])
@office_page(*BACK_OFFICE)
def edit_plan(plan_id: uuid.UUID) -> Any:
    """Edit a plan; a new recurrence regenerates only future occurrences without a visit."""
    plan = service.get_plan(current_actor(), plan_id)
    if request.method == "POST":
        values = dict(request.form)
        try:
            data = PlanUpdateSchema().load(_form_data(request.form, editing=True))
            with unit_of_work():
                service.update_plan(current_actor(), plan_id, data)
            return redirect(url_for(".edit_plan", plan_id=plan_id, saved=1), code=303)
        except (ma.ValidationError, DomainError) as err:
            db.session.rollback()
            plan = service.get_plan(current_actor(), plan_id)
            return render_template("office/maintenance_plan_form.html", plan=plan, values=values,
                                   errors=_errors(err), **_choices()), _status(err)
    values = {
        "name": plan.name, "items": format_items(plan.items), "interval": plan.interval or "",
        "interval_unit": plan.interval_unit.value if plan.interval_unit else "", "rrule": plan.rrule or "",
        "start_on": plan.start_on.isoformat(), "end_on": plan.end_on.isoformat() if plan.end_on else "",
        "window_start": plan.window_start.strftime("%H:%M"), "window_end": plan.window_end.strftime("%H:%M"),
        "technician_id": str(plan.technician_id or ""), "team_id": str(plan.team_id or ""),
        "asset_ids": " ".join(str(i) for i in plan.asset_ids), "version": plan.version}
    return render_template("office/maintenance_plan_form.html", plan=plan, values=values, errors={},
                           saved=request.args.get("saved"), **_choices())
