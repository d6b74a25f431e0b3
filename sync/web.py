"""Office page for the sync quarantine: records (or fields) pushed by technicians' phones that the server did
not apply, each with its reason (the lifecycle gate's unmet conditions with their rule ids), and the form a
dispatcher uses to mark one dealt with (sync.service.resolve_rejection, the same as the API's)."""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_babel import gettext

from fieldservice.auth.decorators import current_actor
from fieldservice.auth.models import Role
from fieldservice.common.pagination import PageRequest
from fieldservice.extensions import db
from fieldservice.technicians.models import Technician
from fieldservice.web import forms
from fieldservice.web.auth import office_page
from fieldservice.web.pages import Tile, home_tile
from sync import service
from sync.models import RejectionStatus

bp = Blueprint("sync_pages", __name__, url_prefix="/office/quarantine")

READERS = (Role.DISPATCHER, Role.OFFICE, Role.ADMIN)
RESOLVERS = (Role.DISPATCHER, Role.ADMIN)
LINKED = {"visits": ("dispatch.visit", "visit_id"), "work_orders": ("work_order_pages.work_order", "work_order_id")}


def _link(rejection: Any) -> str | None:
    """The page of the record a quarantined change was about (a visit, a work order), when there is one."""
    target = LINKED.get(rejection.table_name)
    if target is None:
        return None
    try:
        return url_for(target[0], **{target[1]: uuid.UUID(rejection.record_id)})
    except ValueError:
        return None


def _page(*, refusal: forms.Refusal | None = None, failed: str | None = None, status: int = 200) -> Any:
    chosen = request.args.get("status", "open")
    page = service.list_rejections(PageRequest(page=forms.page_number(), page_size=50),
                                   status=RejectionStatus(chosen) if chosen in ("open", "resolved", "superseded") else None)
    tech_ids = {r.technician_id for r in page.items}
    names = dict(db.session.execute(sa.select(Technician.id, Technician.name).where(Technician.id.in_(tech_ids))).all()) \
        if tech_ids else {}
    return make_response(render_template(
        "office/quarantine.html", page=page, status=chosen, names=names, links={r.id: _link(r) for r in page.items},
        refusal=refusal, failed=failed, saved=request.args.get("saved"),
        can_resolve=current_actor().role in RESOLVERS), status)


@bp.get("")
@office_page(*READERS)
def quarantine() -> Any:
    """Quarantined pushes, newest first (`?status=open|resolved|superseded|all`)."""
    return _page()


@bp.post("/<uuid:rejection_id>/resolve")
@office_page(*RESOLVERS)
def resolve(rejection_id: uuid.UUID) -> Any:
    """Mark a quarantined change as dealt with, saying how (re-entered it, called the technician, ...)."""
    note = forms.text("note")

    def act() -> Any:
        if not note:
            from fieldservice.errors import ValidationFailed

            raise ValidationFailed("note: say how it was dealt with", errors={"form": {"note": ["required"]}})
        return service.resolve_rejection(current_actor(), rejection_id, note)

    _, refusal = forms.attempt(act)
    if refusal is not None:
        return _page(refusal=refusal, failed=str(rejection_id), status=refusal.status)
    return redirect(url_for(".quarantine", saved=str(rejection_id)), code=303)


@home_tile(Role.DISPATCHER, Role.ADMIN, Role.OFFICE, order=30)
def _quarantine_tiles(actor: Any) -> list[Tile]:
    page = service.list_rejections(PageRequest(page=1, page_size=1), status=RejectionStatus.OPEN)
    return [Tile(gettext("Phone changes in quarantine"), page.total, url_for("sync_pages.quarantine"), alert=True)]
