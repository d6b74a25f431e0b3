"""The lifecycle's guard (no status changes past the gate) and its events (reactions subscribe; the core
publishes inside the caller's transaction)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.lifecycle import events
from fieldservice.lifecycle.events import (
    GateChecked,
    VisitStatusChanged,
    WorkOrderCreated,
    WorkOrderStatusChanged,
    receiving,
)
from fieldservice.lifecycle.gate import ConditionsNotMet
from fieldservice.lifecycle.guard import LifecycleBypassed, historical_import
from fieldservice.lifecycle.states import VisitStatus, WorkOrderStatus
from fieldservice.sla.models import SlaClock
from fieldservice.visits import service as visits
from fieldservice.visits.models import Visit
from fieldservice.workorders import service as workorders
from fieldservice.workorders.models import WorkOrder, WorkOrderKind
from tests.factories import Factory


def test_a_status_set_past_the_lifecycle_fails_the_flush_and_writes_nothing(app: Flask, make: Factory) -> None:
    job = make.dispatched_job()
    with app.app_context(), pytest.raises(LifecycleBypassed, match="outside fieldservice.lifecycle"), unit_of_work():
        db.session.get(WorkOrder, job.order.id).status = WorkOrderStatus.CLOSED  # type: ignore[union-attr]
        db.session.flush()
    with app.app_context(), pytest.raises(LifecycleBypassed), unit_of_work():
        db.session.get(Visit, job.visit.id).status = VisitStatus.COMPLETED  # type: ignore[union-attr]
    assert make.get(WorkOrder, job.order.id).status is WorkOrderStatus.DISPATCHED
    assert make.get(Visit, job.visit.id).status is VisitStatus.PLANNED


def test_a_new_row_starts_in_the_initial_status(app: Flask, make: Factory) -> None:
    order = make.work_order()
    with app.app_context(), pytest.raises(LifecycleBypassed), unit_of_work():
        source = db.session.get(WorkOrder, order.id)
        db.session.add(WorkOrder(number="WO-IMPORT-1", kind=WorkOrderKind.REPAIR, status=WorkOrderStatus.SIGNED,
                                 customer_id=source.customer_id, site_id=source.site_id,  # type: ignore[union-attr]
                                 product_id=source.product_id, summary="x"))  # type: ignore[union-attr]


def test_historical_import_writes_past_statuses_as_facts(app: Flask, make: Factory) -> None:
    order = make.work_order()
    with app.app_context(), unit_of_work(), historical_import(db.session):
        db.session.get(WorkOrder, order.id).status = WorkOrderStatus.CLOSED  # type: ignore[union-attr]
    assert make.get(WorkOrder, order.id).status is WorkOrderStatus.CLOSED


def test_a_refused_move_publishes_its_check_and_no_status_event(app: Flask, make: Factory) -> None:
    job = make.dispatched_job()
    with app.app_context(), receiving(GateChecked) as checked, receiving(WorkOrderStatusChanged) as moved:
        with pytest.raises(ConditionsNotMet), unit_of_work():
            workorders.change_status(SYSTEM, job.order.id, WorkOrderStatus.NEW)   # its visit is still planned
    assert [(c.subject, c.transition, c.unmet) for c in checked] == [
        ("work_order", "dispatched->new", ("visits_planned",))]
    assert moved == []


def test_the_core_publishes_and_the_reactions_follow(app: Flask, make: Factory) -> None:
    """A repair job opened and its visit started: the SLA clocks (a reaction) started on WorkOrderCreated
    and stopped on the arrival; each event names its old and new status."""
    with app.app_context(), receiving(WorkOrderCreated) as created:
        job = make.dispatched_job()
    assert [sa.inspect(e.order).identity for e in created] == [(job.order.id,)]
    with app.app_context(), receiving(VisitStatusChanged) as visit_moves, \
            receiving(WorkOrderStatusChanged) as order_moves, unit_of_work():
        visits.record_arrival(SYSTEM, job.visit.id)
    assert [(e.old, e.new) for e in visit_moves] == [(VisitStatus.PLANNED, VisitStatus.IN_PROGRESS)]
    assert [(e.old, e.new, e.cause) for e in order_moves] == [
        (WorkOrderStatus.DISPATCHED, WorkOrderStatus.IN_PROGRESS, "technician arrived")]
    with app.app_context():
        clocks = {c.target.value: c.status.value for c in db.session.scalars(
            sa.select(SlaClock).where(SlaClock.work_order_id == job.order.id))}
    assert clocks == {"respond": "stopped", "on_site": "stopped", "fix": "running"}


def test_every_reaction_module_is_connected(app: Flask) -> None:
    """create_app connects the reactions (fieldservice/reactions.py) to the events they follow."""
    names = {f"{r.__module__}.{r.__name__}" for r in events.receivers(WorkOrderStatusChanged)}
    assert {"fieldservice.sla.reactions._follow_status", "fieldservice.followups.reactions._schedule_calls",
            "fieldservice.kpi.reactions._signing_facts",
            "fieldservice.maintenance.reactions._occurrence_follows_its_job"} <= names


def test_r_tec_1_a_certification_that_expired_before_the_day_of_work_refuses_the_arrival(
        app: Flask, make: Factory) -> None:
    """R-TEC-1 'expiring after assignment': valid over the planned window, expired by the day the technician
    comes; the arrival that day is refused."""
    line = make.product_line()
    product = make.product(line.id)
    today = datetime.now(UTC).date()
    tech = make.technician(certified_for=[line.id], expires_on=today)
    order = make.work_order(product_id=product.id)
    start = datetime.combine(today, datetime.min.time(), tzinfo=UTC) + timedelta(hours=20)
    visit = make.visit(order.id, start=start, hours=2, technician_id=tech.id)
    with time_machine.travel(start + timedelta(hours=5), tick=False), app.app_context(), \
            pytest.raises(ConditionsNotMet) as refused, unit_of_work():
        visits.record_arrival(SYSTEM, visit.id)
    assert [c["code"] for c in refused.value.extra["unmet_conditions"]] == ["technician_not_certified"]
    assert date.fromisoformat(str(today)) < (start + timedelta(hours=5)).date()
