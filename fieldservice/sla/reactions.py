"""SLA clocks react to the lifecycle's events (R-SLA-1): they start when a job or a service request is
opened, stop on arrival, pause on completion, resume on rework, and follow the time agreed with the customer.
The lifecycle publishes; nothing in it knows the clocks exist."""
from __future__ import annotations

from fieldservice.lifecycle.events import (
    ServiceRequestAnswered,
    ServiceRequestCreated,
    VisitConfirmed,
    VisitRescheduled,
    VisitStatusChanged,
    WorkOrderCreated,
    WorkOrderStatusChanged,
    subscribe,
)
from fieldservice.lifecycle.states import VisitStatus
from fieldservice.sla import service as sla


@subscribe(WorkOrderCreated)
def _start_job_clocks(event: WorkOrderCreated) -> None:
    sla.on_work_order_created(event.order, at=event.at)


@subscribe(VisitStatusChanged)
def _visit_facts(event: VisitStatusChanged) -> None:
    """Respond and on-site clocks stop at the phone's arrival time; the fix clock pauses at the reported
    departure time of a visit that completed the work (an offline phone pushes these later)."""
    order = event.visit.work_order
    if event.new is VisitStatus.IN_PROGRESS:
        sla.on_arrival(order, arrived_at=event.arrived_at, now=event.at)
    elif event.new is VisitStatus.COMPLETED and event.work_complete:
        sla.on_work_complete(order, departed_at=event.departed_at, now=event.at)


@subscribe(WorkOrderStatusChanged)
def _follow_status(event: WorkOrderStatusChanged) -> None:
    sla.on_work_order_status(event.order, event.old, event.new, at=event.at)


@subscribe(VisitConfirmed)
def _agreed_time(event: VisitConfirmed) -> None:
    """R-SLA-1 "or within the time agreed with the customer" (a dispatcher's waiver is no agreement)."""
    if not event.waived:
        sla.on_visit_confirmed(event.visit.work_order, event.visit.scheduled_end)


@subscribe(VisitRescheduled)
def _agreement_withdrawn(event: VisitRescheduled) -> None:
    if event.confirmation_withdrawn:
        sla.on_visit_unconfirmed(event.visit.work_order)


@subscribe(ServiceRequestCreated)
def _start_answer_clock(event: ServiceRequestCreated) -> None:
    sla.on_request_created(event.request, at=event.at)


@subscribe(ServiceRequestAnswered)
def _stop_answer_clock(event: ServiceRequestAnswered) -> None:
    sla.on_request_answered(event.request, at=event.at)
