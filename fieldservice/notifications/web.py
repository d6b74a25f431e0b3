"""Office page for the outbox: failed notifications (and the rest by status or kind), each with its last
error, and the button that re-queues a failed one (notifications.service.retry_notification, as the API)."""
from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, make_response, redirect, render_template, request, url_for
from flask_babel import gettext

from fieldservice.auth.decorators import current_actor
from fieldservice.auth.models import Role
from fieldservice.common.pagination import PageRequest
from fieldservice.notifications import service
from fieldservice.notifications.models import NotificationStatus
from fieldservice.web import forms
from fieldservice.web.auth import office_page
from fieldservice.web.pages import Tile, home_tile

bp = Blueprint("notification_pages", __name__, url_prefix="/office/notifications")

OUTBOX = (Role.OFFICE, Role.ADMIN)


def _page(*, refusal: forms.Refusal | None = None, status: int = 200) -> Any:
    chosen = request.args.get("status", "failed")
    kind = (request.args.get("kind") or "").strip()[:60] or None
    page = service.list_notifications(PageRequest(page=forms.page_number(), page_size=50), kind=kind,
                                      status=NotificationStatus(chosen) if chosen in NotificationStatus._value2member_map_
                                      else None)
    return make_response(render_template("office/notifications.html", page=page, status=chosen, kind=kind or "",
                                         refusal=refusal, saved=request.args.get("saved")), status)


@bp.get("")
@office_page(*OUTBOX)
def notifications() -> Any:
    """The outbox by status (default: failed) and kind."""
    return _page()


@bp.post("/<uuid:notification_id>/retry")
@office_page(*OUTBOX)
def retry(notification_id: uuid.UUID) -> Any:
    """Send a failed message again: pending, due now, with a fresh set of attempts."""
    _, refusal = forms.attempt(lambda: service.retry_notification(current_actor(), notification_id))
    if refusal is not None:
        return _page(refusal=refusal, status=refusal.status)
    return redirect(url_for(".notifications", status=request.args.get("status", "failed"), saved=1), code=303)


@home_tile(*OUTBOX, order=40)
def _failed_tiles(actor: Any) -> list[Tile]:
    failed = service.list_notifications(PageRequest(page=1, page_size=1), status=NotificationStatus.FAILED)
    return [Tile(gettext("Notifications that failed"), failed.total, url_for("notification_pages.notifications"),
                 alert=True)]
