"""Maintenance bookkeeping reacts to its jobs (R-MNT-4): an occurrence is done when its work order's work
is complete, skipped when someone cancels the work order; the generation run's refresh remains as the
backstop for rows written before this reaction existed."""
from __future__ import annotations

import sqlalchemy as sa

from fieldservice.extensions import db
from fieldservice.lifecycle.events import WorkOrderStatusChanged, subscribe
from fieldservice.lifecycle.states import WORK_DONE, WorkOrderStatus
from fieldservice.maintenance.models import OPEN_OCCURRENCE_STATUSES, MaintenanceOccurrence, OccurrenceStatus
from fieldservice.workorders.models import WorkOrderKind


@subscribe(WorkOrderStatusChanged)
def _occurrence_follows_its_job(event: WorkOrderStatusChanged) -> None:
    order = event.order
    if order.kind is not WorkOrderKind.MAINTENANCE:
        return
    if event.new in WORK_DONE:
        sources, target = (*OPEN_OCCURRENCE_STATUSES, OccurrenceStatus.MISSED), OccurrenceStatus.DONE
    elif event.new is WorkOrderStatus.CANCELLED:
        sources, target = OPEN_OCCURRENCE_STATUSES, OccurrenceStatus.SKIPPED
    else:
        return
    for occurrence in db.session.scalars(sa.select(MaintenanceOccurrence).where(
            MaintenanceOccurrence.work_order_id == order.id, MaintenanceOccurrence.status.in_(sources))):
        occurrence.status, occurrence.updated_at = target, event.at
        if target is OccurrenceStatus.SKIPPED and event.reason:
            occurrence.reason = event.reason[:500]
