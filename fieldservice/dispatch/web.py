"""The dispatch board and the visit page (dispatchers and admins; a technician reads their own visits).

Technicians × days (day and week views) with their visits, the queue (open requests, work orders without a
visit, visits without a technician), the running SLA clocks; assign, reassign, reschedule (a form, or a card
dragged onto another technician or day), confirm with the customer, waive the confirmation, cancel, record
an arrival on the technician's behalf. Every change is one call of the visit services in one unit of work,
the same as the JSON API's; a refusal (422 technician_not_certified R-TEC-1, 409 technician_unavailable, 409
conditions_not_met with its conditions) is shown in place. The grid asks every BOARD_POLL_SECONDS whether
anything changed (a stamp) and reloads itself without reloading the page (htmx; without JavaScript the page
works with plain forms and links)."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, make_response, redirect, render_template, request, url_for
from flask_babel import gettext
from markupsafe import Markup

from fieldservice.auth.decorators import BACK_OFFICE, current_actor
from fieldservice.auth.models import Role
from fieldservice.common.pagination import PageRequest
from fieldservice.db import utcnow
from fieldservice.dispatch import board as read
from fieldservice.errors import DomainError
from fieldservice.technicians import service as technicians
from fieldservice.visits import service as visits
from fieldservice.visits.models import Visit, VisitStatus
from fieldservice.web import forms
from fieldservice.web.auth import office_page
from fieldservice.web.i18n import company_today, company_zone, local, zone_of
from fieldservice.web.pages import Tile, home_tile
from fieldservice.workorders import service as workorders

bp = Blueprint("dispatch", __name__, url_prefix="/office")

DISPATCH = (Role.DISPATCHER, Role.ADMIN)
VISIT_READERS = (*BACK_OFFICE, Role.TECHNICIAN)


# ---- reading the board's query string ------------------------------------------------------------------

def _uuid_arg(name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.args.get(name, ""))
    except ValueError:
        return None


def _board_args() -> dict[str, Any]:
    """view (day | week), day, team, line, area: as given, for links back to the same board."""
    try:
        day = date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        day = company_today()
    view = "day" if request.args.get("view") == "day" else "week"
    out: dict[str, Any] = {"view": view, "day": day.isoformat()}
    for name in ("team", "line"):
        if _uuid_arg(name):
            out[name] = str(_uuid_arg(name))
    if (request.args.get("area") or "").strip():
        out["area"] = request.args["area"].strip()[:100]
    return out


def _filters(args: dict[str, Any]) -> read.Filters:
    return read.Filters(team_id=uuid.UUID(args["team"]) if "team" in args else None,
                        product_line_id=uuid.UUID(args["line"]) if "line" in args else None,
                        area=args.get("area"))


def _live(args: dict[str, Any], *, oob: bool = False) -> dict[str, Any]:
    """What the board's live part shows: the grid, the queue and the SLA clocks."""
    day = date.fromisoformat(args["day"])
    days = [day] if args["view"] == "day" else read.week_of(day)
    now = utcnow()
    filters = _filters(args)
    return {"grid": read.board(days, filters, company_zone()), "queue": read.queue(filters, now=now),
            "clocks": read.clocks(now=now), "args": args, "today": company_today(now), "oob": oob,
            "poll_seconds": current_app.config.get("BOARD_POLL_SECONDS", 10)}


# ---- the board -----------------------------------------------------------------------------------------

@bp.get("/board")
@office_page(*DISPATCH)
def board() -> Any:
    """The dispatch board: `?view=day|week&day=YYYY-MM-DD&team=&line=&area=`."""
    args = _board_args()
    day = date.fromisoformat(args["day"])
    step = timedelta(days=1 if args["view"] == "day" else 7)
    selected = _uuid_arg("visit")
    panel = Markup(render_template("office/_visit_panel.html", **_panel_context(selected))) if selected else None
    return render_template("office/board.html", **_live(args), choices=read.filter_choices(),
                           prev_day=(day - step).isoformat(), next_day=(day + step).isoformat(), panel=panel)


@bp.get("/board/live")
@office_page(*DISPATCH)
def board_live() -> Any:
    """The grid, queue and clocks again, when the stamp the page has (`since`) is no longer current; 204 (the
    page keeps what it shows) when nothing changed."""
    if request.args.get("since") and request.args["since"] == read.stamp():
        return Response(status=204)
    return render_template("office/_board_live.html", **_live(_board_args(), oob=True))


@home_tile(Role.DISPATCHER, Role.ADMIN, order=10)
def _dispatch_tiles(actor: Any) -> list[Tile]:
    now = utcnow()
    zone = company_zone()
    today = company_today(now)
    grid = read.board([today], read.Filters(), zone)
    cards = [card for row in grid.rows for cell in row.cells.values() for card in cell]
    queue = read.queue(read.Filters(), now=now)
    late = [c for c in read.clocks(now=now, limit=200) if c["seconds_left"] < 0]
    board_url = url_for("dispatch.board", view="day")
    return [Tile(gettext("Visits today"), len(cards), board_url),
            Tile(gettext("Visits today not confirmed with the customer"), sum(c.unconfirmed for c in cards),
                 board_url, alert=True),
            Tile(gettext("Visits without a technician"), len(queue["visits"]), url_for("dispatch.board"), alert=True),
            Tile(gettext("Work orders waiting for a visit"), len(queue["orders"]), url_for("dispatch.board")),
            Tile(gettext("Open service requests"), len(queue["requests"]), url_for("request_pages.requests")),
            Tile(gettext("SLA deadlines passed"), len(late), url_for("dispatch.board"), alert=True)]


# ---- one visit -----------------------------------------------------------------------------------------

def _panel_context(visit_id: uuid.UUID, *, refusal: forms.Refusal | None = None,
                   saved: str | None = None) -> dict[str, Any]:
    actor = current_actor()
    visit = visits.get_visit(actor, visit_id)
    order = visit.work_order
    zone = order.site.timezone if order.site else None
    context: dict[str, Any] = {"visit": visit, "order": order, "zone": zone, "refusal": refusal, "saved": saved,
                               "blockers": visits.arrival_blockers(visit),
                               "can_dispatch": actor.role in DISPATCH and visit.status is VisitStatus.PLANNED,
                               "back": _back_target()}
    if context["can_dispatch"]:
        line = order.product.product_line_id
        certified = {t.id for t in technicians.list_technicians(
            PageRequest(page=1, page_size=500), is_active=True, product_line_id=line,
            certified_on=visit.scheduled_start).items}
        context["technicians"] = [(t, t.id in certified) for t in technicians.list_technicians(
            PageRequest(page=1, page_size=500), is_active=True).items]
        start = local(visit.scheduled_start, zone)
        context["form"] = {"day": start.date().isoformat(), "start": start.strftime("%H:%M"),
                           "end": local(visit.scheduled_end, zone).strftime("%H:%M")}
    return context


def _back_target() -> str | None:
    target = request.values.get("back") or request.args.get("back") or ""
    return target if target.startswith("/office/") and not target.startswith("//") else None


def _visit_response(visit_id: uuid.UUID, *, refusal: forms.Refusal | None = None, saved: str | None = None) -> Any:
    """The visit's panel (htmx), or its page; a refusal answers with its status."""
    try:
        context = _panel_context(visit_id, refusal=refusal, saved=saved)
    except DomainError as err:
        return forms.error_page(err)
    template = "office/_visit_panel.html" if forms.wants_fragment() else "office/visit.html"
    return make_response(render_template(template, **context), refusal.status if refusal else 200)


@bp.get("/visits/<uuid:visit_id>")
@office_page(*VISIT_READERS)
def visit(visit_id: uuid.UUID) -> Any:
    """One visit: its job, time, technician, the customer's confirmation, what the gate would refuse at
    arrival, and (dispatchers, planned visits) the forms to change it."""
    return _visit_response(visit_id, saved=request.args.get("saved"))


def _done(visit_id: uuid.UUID, result: Any, refusal: forms.Refusal | None, what: str) -> Any:
    """After a visit form: the refusal in place, or (htmx) the panel with a board refresh, or a redirect."""
    if refusal is not None or forms.wants_fragment():
        response = _visit_response(visit_id, refusal=refusal, saved=None if refusal else what)
        if refusal is None:
            response.headers["HX-Trigger"] = "board-changed"
        return response
    target = _back_target() or url_for(".visit", visit_id=visit_id)
    joiner = "&" if "?" in target else "?"
    return redirect(f"{target}{joiner}saved={what}", code=303)


def _visit_zone(visit_id: uuid.UUID) -> str | None:
    found = visits.get_visit(current_actor(), visit_id)
    return found.work_order.site.timezone if found.work_order.site else None


def _window(visit_id: uuid.UUID) -> dict[str, datetime]:
    """The form's day, start and end (wall times at the visit's site) as the service's scheduled_start/end."""
    zone = zone_of(_visit_zone(visit_id))
    start = forms.day_and_time("day", "start", zone)
    end = forms.day_and_time("day", "end", zone)
    if end <= start:
        end += timedelta(days=1)                    # an evening visit that ends after midnight
    return {"scheduled_start": start, "scheduled_end": end}


@bp.post("/visits/<uuid:visit_id>/assignment")
@office_page(*DISPATCH)
def assign(visit_id: uuid.UUID) -> Any:
    """Assign, reassign or unassign (blank) the technician: visits.service.assign_technician."""
    result, refusal = forms.attempt(lambda: visits.assign_technician(
        current_actor(), visit_id, forms.uuid_field("technician_id"), version=forms.int_field("version")))
    return _done(visit_id, result, refusal, "assigned")


@bp.post("/visits/<uuid:visit_id>/schedule")
@office_page(*DISPATCH)
def reschedule(visit_id: uuid.UUID) -> Any:
    """Move the visit to another day or time: visits.service.reschedule_visit (a moved visit needs the
    customer's confirmation again, R-REP-2)."""
    result, refusal = forms.attempt(lambda: visits.reschedule_visit(
        current_actor(), visit_id, {**_window(visit_id), "version": forms.int_field("version")}))
    return _done(visit_id, result, refusal, "rescheduled")


@bp.post("/visits/<uuid:visit_id>/move")
@office_page(*DISPATCH)
def move(visit_id: uuid.UUID) -> Any:
    """A card dragged onto another technician and/or day: the technician through assign_technician, the day
    (same hours) through reschedule_visit, both in one unit of work (all or nothing)."""
    def both() -> Visit:
        actor = current_actor()
        found = visits.get_visit(actor, visit_id)
        version = forms.int_field("version")
        target = forms.uuid_field("technician_id")
        if target != found.technician_id:
            found = visits.assign_technician(actor, visit_id, target, version=version)
            version = None
        day = forms.text("day")
        if day:
            zone = zone_of(found.work_order.site.timezone if found.work_order.site else None)
            start = local(found.scheduled_start, zone)
            moved = datetime.combine(date.fromisoformat(day), start.timetz().replace(tzinfo=None), zone)
            shift = moved - start
            if shift:
                found = visits.reschedule_visit(actor, visit_id, {
                    "scheduled_start": found.scheduled_start + shift, "scheduled_end": found.scheduled_end + shift,
                    "version": version})
        return found

    result, refusal = forms.attempt(both)
    return _done(visit_id, result, refusal, "moved")


@bp.post("/visits/<uuid:visit_id>/confirmation")
@office_page(*DISPATCH)
def confirm(visit_id: uuid.UUID) -> Any:
    """The customer confirmed the time and place (R-REP-2, R-MNT-2): visits.service.confirm_with_customer."""
    result, refusal = forms.attempt(lambda: visits.confirm_with_customer(
        current_actor(), visit_id, note=forms.text("note")))
    return _done(visit_id, result, refusal, "confirmed")


@bp.post("/visits/<uuid:visit_id>/waiver")
@office_page(*DISPATCH)
def waive(visit_id: uuid.UUID) -> Any:
    """Let the visit start without the customer's confirmation, with a reason: visits.service.waive_confirmation."""
    result, refusal = forms.attempt(lambda: visits.waive_confirmation(current_actor(), visit_id,
                                                                      forms.text("reason") or ""))
    return _done(visit_id, result, refusal, "waived")


@bp.post("/visits/<uuid:visit_id>/cancel")
@office_page(*DISPATCH)
def cancel(visit_id: uuid.UUID) -> Any:
    """Cancel a planned visit (a reason is required): visits.service.cancel_visit."""
    result, refusal = forms.attempt(lambda: visits.cancel_visit(current_actor(), visit_id, forms.text("reason") or ""))
    return _done(visit_id, result, refusal, "cancelled")


@bp.post("/visits/<uuid:visit_id>/arrival")
@office_page(*DISPATCH)
def arrival(visit_id: uuid.UUID) -> Any:
    """Record the technician's arrival on their behalf (their phone cannot): visits.service.record_arrival,
    so the lifecycle gate decides as for the phone (certification R-TEC-1, confirmation R-REP-2, the window)."""
    result, refusal = forms.attempt(lambda: visits.record_arrival(current_actor(), visit_id))
    return _done(visit_id, result, refusal, "arrived")


# ---- planning a visit for a work order -------------------------------------------------------------------

@bp.route("/work-orders/<uuid:work_order_id>/plan", methods=["GET", "POST"])
@office_page(*DISPATCH)
def plan_visit(work_order_id: uuid.UUID) -> Any:
    """Plan a visit for a work order (optionally with a technician): visits.service.schedule_visit."""
    actor = current_actor()
    order = workorders.get_work_order(actor, work_order_id)
    zone = order.site.timezone if order.site else None
    refusal = None
    if request.method == "POST":
        def schedule() -> Visit:
            data: dict[str, Any] = {"scheduled_start": forms.day_and_time("day", "start", zone),
                                    "scheduled_end": forms.day_and_time("day", "end", zone)}
            technician_id = forms.uuid_field("technician_id")
            if technician_id:
                data["technician_id"] = technician_id
            return visits.schedule_visit(actor, work_order_id, data)

        planned, refusal = forms.attempt(schedule)
        if refusal is None and planned is not None:
            if forms.wants_fragment():
                response = _visit_response(planned.id, saved="planned")
                response.headers["HX-Trigger"] = "board-changed"
                return response
            return redirect(_back_target() or url_for(".visit", visit_id=planned.id, saved="planned"), code=303)
        order = workorders.get_work_order(actor, work_order_id)
    line = order.product.product_line_id
    certified = {t.id for t in technicians.list_technicians(PageRequest(page=1, page_size=500), is_active=True,
                                                            product_line_id=line).items}
    context = {"order": order, "refusal": refusal, "back": _back_target(), "values": request.form,
               "technicians": [(t, t.id in certified) for t in technicians.list_technicians(
                   PageRequest(page=1, page_size=500), is_active=True).items],
               "default_day": (company_today() + timedelta(days=1)).isoformat()}
    template = "office/_plan_panel.html" if forms.wants_fragment() else "office/plan_visit.html"
    return make_response(render_template(template, **context), refusal.status if refusal else 200)
