"""Office page: complaints by first-response deadline, overdue ones first and marked, with the periodic
summary above them (R-CMP-1)."""
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
from fieldservice.web.params import query_day

bp = Blueprint("office_complaints", __name__, url_prefix="/office")

STATUS_LABELS = {"open": "待响应 Open", "investigating": "调查中 Investigating", "resolved": "已解决 Resolved",
                 "closed": "已结案 Closed"}
CHANNEL_LABELS = {"phone": "电话 Phone", "email": "邮件 E-mail", "online": "在线 Online", "walk_in": "到店 Walk-in",
                  "visit": "上门时 On a visit", "follow_up": "回访时 Follow-up call"}


@bp.get("/complaints")
@office_page(Role.OFFICE, Role.DISPATCHER, Role.ADMIN)
def complaint_board() -> Any:
    """Open complaints (not closed) by deadline; `?overdue=1` shows only those past it without a response.
    Above them the R-CMP-1 summary for `?from=&to=` (UTC days; default the last 30 days)."""
    now = utcnow()
    summary = service.summarize_complaints(current_actor(), start=query_day("from"), end=query_day("to"), now=now)
    overdue_only = request.args.get("overdue") in ("1", "true")
    page = service.list_complaints(current_actor(), PageRequest(page=1, page_size=200),
                                   overdue=True if overdue_only else None, now=now)
    rows = [c for c in page.items if c.status is not ComplaintStatus.CLOSED]
    overdue_ids = {c.id for c in service.list_complaints(current_actor(), PageRequest(page=1, page_size=200),
                                                         overdue=True, now=now).items}
    return render_template("office/complaints_board.html", complaints=rows, overdue_ids=overdue_ids,
                           overdue_only=overdue_only, now=now, total=page.total, summary=summary,
                           status_labels=STATUS_LABELS, channel_labels=CHANNEL_LABELS)
