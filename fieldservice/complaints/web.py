"""Office page: complaints by first-response deadline, overdue ones first and marked (R-CMP-1)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from fieldservice.auth.decorators import current_actor
from fieldservice.auth.models import Role
from fieldservice.common.pagination import PageRequest
from fieldservice.complaints import service
from fieldservice.complaints.models import ComplaintStatus
from fieldservice.db import utcnow
from fieldservice.web.auth import office_page

bp = Blueprint("office_complaints", __name__, url_prefix="/office")


@bp.get("/complaints")
@office_page(Role.OFFICE, Role.DISPATCHER, Role.ADMIN)
def complaint_board() -> Any:
    """Open complaints (not closed) by deadline; `?overdue=1` shows only those past it without a response."""
    now = utcnow()
    overdue_only = request.args.get("overdue") in ("1", "true")
    page = service.list_complaints(current_actor(), PageRequest(page=1, page_size=200),
                                   overdue=True if overdue_only else None, now=now)
    rows = [c for c in page.items if c.status is not ComplaintStatus.CLOSED]
    overdue_ids = {c.id for c in service.list_complaints(current_actor(), PageRequest(page=1, page_size=200),
                                                         overdue=True, now=now).items}
    return render_template("office/complaints_board.html", complaints=rows, overdue_ids=overdue_ids,
                           overdue_only=overdue_only, now=now, total=page.total)
