"""Follow-up calls react to finished jobs (R-FUP-1): an installation or repair that is signed or closed gets
its calls, whatever path finished it (API, sync push, sign-off, signing link)."""
from __future__ import annotations

from fieldservice.followups import service as followups
from fieldservice.lifecycle.events import WorkOrderStatusChanged, subscribe
from fieldservice.lifecycle.states import WorkOrderStatus


@subscribe(WorkOrderStatusChanged)
def _schedule_calls(event: WorkOrderStatusChanged) -> None:
    if event.new in (WorkOrderStatus.SIGNED, WorkOrderStatus.CLOSED):
        followups.work_order_finished(event.order, event.at)
