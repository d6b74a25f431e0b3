"""The part of the home page that is a person's own work: a technician's visits of the coming days (read-only;
they work from the phone) and a customer's quotes waiting for a decision and their archive."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.common.pagination import PageRequest
from fieldservice.db import utcnow
from fieldservice.visits import service as visits
from fieldservice.visits.models import VisitStatus


def own_work(actor: Actor) -> dict[str, Any]:
    if actor.role is Role.TECHNICIAN:
        now = utcnow()
        page = visits.list_visits(actor, PageRequest(page=1, page_size=100),
                                  status=[VisitStatus.PLANNED, VisitStatus.IN_PROGRESS],
                                  starts_from=now - timedelta(days=1), starts_before=now + timedelta(days=8))
        return {"my_visits": page.items}
    if actor.role is Role.CUSTOMER:
        from fieldservice.commerce import quotes
        from fieldservice.commerce.models import QuoteStatus

        waiting = quotes.list_quotes(actor, PageRequest(page=1, page_size=50), status=[QuoteStatus.PRESENTED])
        return {"waiting_quotes": waiting.items}
    return {}
