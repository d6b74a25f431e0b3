"""Find visits not confirmed with the customer N days before they start, and flag them to the dispatcher
through the outbox (one message per visit and planned start: a rescheduled visit is flagged again)."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.db import utcnow
from fieldservice.extensions import db
from fieldservice.notifications import service as notifications
from fieldservice.notifications.models import Channel
from fieldservice.visits.models import Visit, VisitStatus
from fieldservice.workorders.models import WorkOrder

KIND = "visit.unconfirmed"


def unconfirmed_query(*, now: datetime, days: int) -> sa.Select[Any]:
    """Planned visits starting between now and `days` ahead whose time the customer has not confirmed."""
    return (sa.select(Visit)
            .where(Visit.status == VisitStatus.PLANNED, Visit.customer_confirmed.is_(False),
                   Visit.scheduled_start > now, Visit.scheduled_start <= now + timedelta(days=days))
            .order_by(Visit.scheduled_start, Visit.id))


def list_unconfirmed(page: PageRequest, *, days: int, now: datetime | None = None) -> Page:
    """R-MNT-2 / R-REP-2: the dispatcher's list of visits still to confirm with the customer."""
    return paginate(unconfirmed_query(now=now or utcnow(), days=days), page)


def dedupe_key(visit: Visit) -> str:
    return f"{KIND}:{visit.id}:{visit.scheduled_start.isoformat()}"


def flag_unconfirmed_visits(*, days: int, recipient: str, now: datetime | None = None) -> int:
    """Enqueue one reminder per unconfirmed visit (dedupe key per visit and start: reruns and a second
    scheduler add nothing). Returns how many new reminders were enqueued."""
    now = now or utcnow()
    channel = Channel.EMAIL if "@" in recipient else Channel.WEBHOOK
    created = 0
    for visit in db.session.scalars(unconfirmed_query(now=now, days=days)):
        order = db.session.get(WorkOrder, visit.work_order_id)
        payload = {
            "visit_id": str(visit.id), "work_order_id": str(visit.work_order_id),
            "work_order_number": order.number if order else None, "summary": order.summary if order else None,
            "scheduled_start": visit.scheduled_start.isoformat(), "scheduled_end": visit.scheduled_end.isoformat(),
            "technician_id": str(visit.technician_id) if visit.technician_id else None,
            "hours_until_start": round((visit.scheduled_start - now).total_seconds() / 3600, 1),
        }
        subject = f"待确认上门时间 visit not confirmed with the customer: {payload['work_order_number']}"
        created += notifications.enqueue(KIND, recipient, payload, channel=channel, subject=subject,
                                         dedupe_key=dedupe_key(visit), about=visit, now=now)
    return created
