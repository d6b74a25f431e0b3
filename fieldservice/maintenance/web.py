"""Office pages for maintenance plans: the list, and a form to create or edit a plan (same schemas and
service calls as the JSON API, so the same rules and refusals apply)."""
from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, redirect, render_template, request, url_for

from fieldservice.assets.models import Asset
from fieldservice.auth.decorators import BACK_OFFICE, current_actor
from fieldservice.common.pagination import PageRequest
from fieldservice.contracts.models import ContractStatus, SalesContract
from fieldservice.db import utcnow
from fieldservice.extensions import db
from fieldservice.maintenance import service
from fieldservice.maintenance.models import IntervalUnit, PlanStatus
from fieldservice.maintenance.schemas import PlanInSchema, PlanUpdateSchema
from fieldservice.teams.models import Team
from fieldservice.technicians import service as technicians
from fieldservice.technicians.models import Technician
from fieldservice.web import forms, pickers
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
    if "asset_ids" in form:      # one text field, or the contract's units ticked
        data["asset_ids"] = [part for part in " ".join(form.getlist("asset_ids")).replace(",", " ").split() if part]
    if not editing:
        for name in ("asset_id", "contract_id"):
            if form.get(name, "").strip():
                data[name] = form[name].strip()
        if not data.get("asset_ids"):
            data.pop("asset_ids", None)
    elif form.get("version", "").isdigit():
        data["version"] = int(form["version"])
    return data


def _choices(values: Any) -> dict[str, Any]:
    """The form's lists: active contracts, technicians, teams; the units the asset search found (and the
    chosen one); the certification warning for the technician chosen."""
    found = pickers.asset_options(values.get("asset_q")) if values.get("asset_q") else []
    chosen = forms.uuid_or_none(values.get("asset_id"))
    if chosen and str(chosen) not in {value for value, _ in found}:
        found = _asset_label(chosen) + found
    return {
        "contracts": db.session.scalars(sa.select(SalesContract).where(SalesContract.status == ContractStatus.ACTIVE)
                                        .order_by(SalesContract.number).limit(500)).all(),
        "technicians": db.session.scalars(sa.select(Technician).where(Technician.is_active.is_(True))
                                          .order_by(Technician.name).limit(500)).all(),
        "teams": db.session.scalars(sa.select(Team).where(Team.is_active.is_(True)).order_by(Team.name)).all(),
        "units": [unit.value for unit in IntervalUnit],
        "asset_options": found,
        "contract_units": pickers.contract_units(forms.uuid_or_none(values.get("contract_id"))),
        "warning": _certification_warning(values),
    }


def _asset_label(asset_id: uuid.UUID) -> list[tuple[str, str]]:
    asset = db.session.get(Asset, asset_id)
    return [] if asset is None else [(str(asset.id), f"{asset.serial_number} · {asset.product.name} · "
                                                     f"{asset.customer.name}")]


def _certification_warning(values: Any) -> list[Any]:
    """R-TEC-1 ahead of time: the product lines of the plan's units the chosen technician has no certification
    for over the plan's first year (generation would then leave its visits without a technician)."""
    technician_id = forms.uuid_or_none(values.get("technician_id"))
    if technician_id is None:
        return []
    try:
        first = date.fromisoformat(values.get("start_on") or "")
    except ValueError:
        first = utcnow().date()
    try:
        last = date.fromisoformat(values.get("end_on") or "")
    except ValueError:
        last = first + timedelta(days=365)
    raw = values.getlist("asset_ids") if hasattr(values, "getlist") else [str(values.get("asset_ids") or "")]
    asset_ids = [a for part in " ".join(raw).replace(",", " ").split() if (a := forms.uuid_or_none(part))]
    lines = service.plan_product_lines(asset_id=forms.uuid_or_none(values.get("asset_id")),
                                       contract_id=forms.uuid_or_none(values.get("contract_id")), asset_ids=asset_ids)
    return technicians.certification_gaps(technician_id, lines, first, max(first, last))


def _form_page(plan: Any, values: Any, *, refusal: forms.Refusal | None = None, status: int = 200,
               saved: Any = None) -> Any:
    return render_template("office/maintenance_plan_form.html", plan=plan, values=values, refusal=refusal,
                           saved=saved, **_choices(values)), status


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
    """Create a plan (for one asset or a contract's assets). "Find" shows the form again with the units found."""
    values: Any = request.form if request.method == "POST" else {
        "window_start": "09:00", "window_end": "12:00", "interval": "3", "interval_unit": "months",
        "start_on": utcnow().date().isoformat()}
    if request.method == "POST" and "find" not in request.form:
        made, refusal = forms.attempt(lambda: service.create_plan(
            current_actor(), PlanInSchema().load(_form_data(request.form, editing=False))))
        if refusal is None and made is not None:
            return redirect(url_for(".edit_plan", plan_id=made.id, saved=1), code=303)
        assert refusal is not None
        return _form_page(None, values, refusal=refusal, status=refusal.status)
    return _form_page(None, values)


@bp.get("/plans/technician-check")
@office_page(*BACK_OFFICE)
def technician_check() -> Any:
    """The certification warning for the technician and units chosen so far (the form asks as they change)."""
    return render_template("office/_plan_warning.html", warning=_certification_warning(request.args))


@bp.route("/plans/<uuid:plan_id>", methods=["GET", "POST"])
@office_page(*BACK_OFFICE)
def edit_plan(plan_id: uuid.UUID) -> Any:
    """Edit a plan; a new recurrence regenerates only future occurrences without a visit."""
    plan = service.get_plan(current_actor(), plan_id)
    if request.method == "POST":
        values = request.form
        _, refusal = forms.attempt(lambda: service.update_plan(
            current_actor(), plan_id, PlanUpdateSchema().load(_form_data(request.form, editing=True))))
        if refusal is None:
            return redirect(url_for(".edit_plan", plan_id=plan_id, saved=1), code=303)
        return _form_page(service.get_plan(current_actor(), plan_id), values, refusal=refusal, status=refusal.status)
    values = {
        "name": plan.name, "items": format_items(plan.items), "interval": plan.interval or "",
        "interval_unit": plan.interval_unit.value if plan.interval_unit else "", "rrule": plan.rrule or "",
        "start_on": plan.start_on.isoformat(), "end_on": plan.end_on.isoformat() if plan.end_on else "",
        "window_start": plan.window_start.strftime("%H:%M"), "window_end": plan.window_end.strftime("%H:%M"),
        "technician_id": str(plan.technician_id or ""), "team_id": str(plan.team_id or ""),
        "asset_id": str(plan.asset_id or ""), "contract_id": str(plan.contract_id or ""),
        "asset_ids": " ".join(str(i) for i in plan.asset_ids), "version": plan.version}
    return _form_page(plan, values, saved=request.args.get("saved"))
