"""KPI facts kept on the work order as its status moves (R-KPI-1 repair success rate): when the customer
signed, which technician's visit completed the work, how often the job went back to rework (R-REP-7).
Row-level facts that depend on several rows (first-time fix, repeat repairs) are kept by kpi/facts.py."""
from __future__ import annotations

import sqlalchemy as sa

from fieldservice.extensions import db
from fieldservice.kpi import facts  # noqa: F401  (its flush listener keeps the row-level facts)
from fieldservice.lifecycle.events import WorkOrderStatusChanged, subscribe
from fieldservice.lifecycle.states import WorkOrderStatus
from fieldservice.visits.models import Visit


@subscribe(WorkOrderStatusChanged)
def _signing_facts(event: WorkOrderStatusChanged) -> None:
    order = event.order
    if event.new is WorkOrderStatus.SIGNED:
        order.signed_at = event.at
        order.signed_technician_id = db.session.scalar(
            sa.select(Visit.technician_id).where(Visit.work_order_id == order.id, Visit.work_complete.is_(True))
            .order_by(Visit.departed_at.desc().nulls_last(), Visit.id.desc()).limit(1))
    elif event.new is WorkOrderStatus.REWORK:
        order.rework_count = (order.rework_count or 0) + 1
