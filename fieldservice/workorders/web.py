"""Office pages for work orders: the list, and one job with everything about it (visits, records, photos,
parts, charges, quotes, SLA clocks, audit trail) and the status changes people decide (close, cancel, rework,
back to new), made by workorders.service.change_status, i.e. the lifecycle gate; its refusal is shown with each
unmet condition and its rule id, and a condition the role may waive (a customer who will not fill in the
survey, R-FUP-2) can be waived there with a reason."""
from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, make_response, redirect, render_template, request, url_for

from fieldservice.audit import service as audit
from fieldservice.auth.decorators import BACK_OFFICE, current_actor
from fieldservice.commerce import charges, quotes
from fieldservice.common.pagination import PageRequest
from fieldservice.db import utcnow
from fieldservice.errors import DomainError
from fieldservice.lifecycle.states import TRANSITIONS
from fieldservice.parts import service as parts
from fieldservice.photos import service as photos
from fieldservice.records import service as records
from fieldservice.sla import service as sla
from fieldservice.visits import service as visits
from fieldservice.web import forms
from fieldservice.web.auth import office_page
from fieldservice.web.words import WORDS
from fieldservice.workorders import service
from fieldservice.workorders.models import WorkOrderKind, WorkOrderStatus

bp = Blueprint("work_order_pages", __name__, url_prefix="/office/work-orders")

PAGE_SIZE = 30
ALL = PageRequest(page=1, page_size=200)


@bp.get("")
@office_page(*BACK_OFFICE)
def work_orders() -> Any:
    """Work orders, newest first: `?status=` (default: the open ones), `?kind=`, `?q=` (number or summary)."""
    status = request.args.get("status", "open")
    kind = request.args.get("kind", "")
    q = (request.args.get("q") or "").strip()[:100]
    chosen = [WorkOrderStatus(status)] if status in WORDS["work_order_status"] else None
    page = service.list_work_orders(current_actor(), PageRequest(page=forms.page_number(), page_size=PAGE_SIZE),
                                    status=chosen, open_only=status == "open",
                                    kind=WorkOrderKind(kind) if kind in WORDS["work_order_kind"] else None, q=q or None)
    return render_template("office/work_orders.html", page=page, status=status, kind=kind, q=q)


def _targets(order: Any) -> list[str]:
    """The statuses this role may ask for that the state machine allows from here (the gate decides the rest)."""
    allowed = service.MANUAL_TARGETS.get(current_actor().role, frozenset())
    return [s.value for s in TRANSITIONS[order.status] if s in allowed]


def _job(work_order_id: uuid.UUID, *, refusal: forms.Refusal | None = None, status: int = 200) -> Any:
    actor = current_actor()
    try:
        order = service.get_work_order(actor, work_order_id)
        context = {
            "order": order, "refusal": refusal, "targets": _targets(order), "saved": request.args.get("saved"),
            "visits": visits.list_visits(actor, ALL, work_order_id=order.id).items,
            "records": records.list_records(actor, ALL, work_order_id=order.id).items,
            "photos": photos.list_photos(actor, ALL, work_order_id=order.id).items,
            "movements": parts.list_movements(actor, ALL, work_order_id=order.id).items,
            "charges": charges.list_charges(actor, ALL, work_order_id=order.id).items,
            "quotes": quotes.list_quotes(actor, ALL, work_order_id=order.id).items,
            "sla": sla.work_order_sla(actor, order.id, now=utcnow()),
            "events": audit.list_events(PageRequest(page=1, page_size=100), entity_type="work_orders",
                                        entity_id=order.id).items,
        }
    except DomainError as err:
        return forms.error_page(err)
    return make_response(render_template("office/work_order.html", **context), status)


@bp.get("/<uuid:work_order_id>")
@office_page(*BACK_OFFICE)
def work_order(work_order_id: uuid.UUID) -> Any:
    """One job and everything about it."""
    return _job(work_order_id)


@bp.post("/<uuid:work_order_id>/transition")
@office_page(*BACK_OFFICE)
def transition(work_order_id: uuid.UUID) -> Any:
    """Close, cancel, send to rework or back to new: workorders.service.change_status (the lifecycle gate).
    `waive` names a condition the role may waive, with `waive_reason`."""
    raw = forms.text("to") or ""
    overrides = {forms.text("waive"): forms.text("waive_reason") or ""} if forms.text("waive") else None

    def change() -> Any:
        try:
            target = WorkOrderStatus(raw)
        except ValueError:
            from fieldservice.errors import ValidationFailed

            raise ValidationFailed("to: choose a status", errors={"form": {"to": ["choose a status"]}}) from None
        return service.change_status(current_actor(), work_order_id, target, reason=forms.text("reason"),
                                     version=forms.int_field("version"), overrides=overrides)

    _, refusal = forms.attempt(change)
    if refusal is not None:
        return _job(work_order_id, refusal=refusal, status=refusal.status)
    return redirect(url_for(".work_order", work_order_id=work_order_id, saved=raw), code=303)


@bp.get("/<uuid:work_order_id>/report.pdf")
@office_page(*BACK_OFFICE)
def report_pdf(work_order_id: uuid.UUID) -> Any:
    """The service report of the job (every record's newest version) in the page's language."""
    from fieldservice.db import unit_of_work
    from fieldservice.photos.adapters import current_media
    from fieldservice.records import documents
    from fieldservice.records.documents_api import pdf_response
    from fieldservice.web.i18n import language

    try:
        with unit_of_work():
            document = documents.work_order_report_pdf(current_actor(), work_order_id, lang=language(),
                                                       media=current_media())
    except DomainError as err:
        return forms.error_page(err)
    return pdf_response(document)
