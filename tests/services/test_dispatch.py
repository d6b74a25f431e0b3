"""Dispatch rules in the service layer: certification (R-TEC-1), double booking, status flow, confirmation."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask

from fieldservice.audit.models import AuditEvent
from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.errors import InvalidTransition, NotCertified, TechnicianUnavailable, ValidationFailed
from fieldservice.extensions import db
from fieldservice.visits import service as visits
from fieldservice.visits.models import Visit, VisitStatus
from fieldservice.workorders import service as workorders
from fieldservice.workorders.models import WorkOrder, WorkOrderStatus
from tests.factories import Factory, tomorrow_at

S = WorkOrderStatus


def assign(app: Flask, visit_id, technician_id):  # type: ignore[no-untyped-def]
    with app.app_context(), unit_of_work():
        return visits.assign_technician(SYSTEM, visit_id, technician_id).technician_id


def status_of(make: Factory, order_id) -> WorkOrderStatus:  # type: ignore[no-untyped-def]
    return make.get(WorkOrder, order_id).status


def test_assign_certified_technician_dispatches_the_order(app: Flask, make: Factory) -> None:
    line = make.product_line()
    tech = make.technician(certified_for=[line.id])
    order = make.work_order(product_id=make.product(line.id).id)
    visit = make.visit(order.id)
    assert status_of(make, order.id) is S.SCHEDULED
    assert assign(app, visit.id, tech.id) == tech.id
    assert status_of(make, order.id) is S.DISPATCHED


def test_assign_refused_without_certification_for_the_line(app: Flask, make: Factory) -> None:
    """R-TEC-1: certified for another product line only."""
    other_line = make.product_line()
    tech = make.technician(certified_for=[other_line.id])
    order = make.work_order()
    visit = make.visit(order.id)
    with pytest.raises(NotCertified, match="no certification"):
        assign(app, visit.id, tech.id)
    assert make.get(Visit, visit.id).technician_id is None
    assert status_of(make, order.id) is S.SCHEDULED


def test_assign_refused_when_certification_expires_before_the_visit(app: Flask, make: Factory) -> None:
    """R-TEC-1: a certificate must be valid on the day of the visit, not just today."""
    line = make.product_line()
    start = tomorrow_at(9, days=10)
    tech = make.technician(certified_for=[line.id], expires_on=(start - timedelta(days=1)).date())
    visit = make.visit(make.work_order(product_id=make.product(line.id).id).id, start=start)
    with pytest.raises(NotCertified, match="expired or revoked"):
        assign(app, visit.id, tech.id)


def test_assign_refused_when_certification_revoked(app: Flask, make: Factory) -> None:
    from fieldservice.technicians import service as technicians
    from fieldservice.technicians.models import Certification

    line = make.product_line()
    tech = make.technician(certified_for=[line.id])
    with app.app_context(), unit_of_work():
        cert = db.session.query(Certification).filter_by(technician_id=tech.id).one()
        technicians.revoke_certification(SYSTEM, cert.id)
    visit = make.visit(make.work_order(product_id=make.product(line.id).id).id)
    with pytest.raises(NotCertified):
        assign(app, visit.id, tech.id)


def test_assign_refused_for_certification_not_yet_issued(app: Flask, make: Factory) -> None:
    line = make.product_line()
    tech = make.technician()
    start = tomorrow_at(9)
    make.certification(tech.id, line.id, issued_on=start.date() + timedelta(days=1), expires_on=date(2099, 1, 1))
    visit = make.visit(make.work_order(product_id=make.product(line.id).id).id, start=start)
    with pytest.raises(NotCertified):
        assign(app, visit.id, tech.id)


def test_overlapping_visit_refused_and_adjacent_allowed(app: Flask, make: Factory) -> None:
    job = make.dispatched_job(start=tomorrow_at(9))  # 09:00-11:00
    product_id = job.product.id
    overlapping = make.visit(make.work_order(product_id=product_id).id, start=tomorrow_at(10))
    with pytest.raises(TechnicianUnavailable) as err:
        assign(app, overlapping.id, job.technician.id)
    assert err.value.extra["conflicting_visit_ids"] == [str(job.visit.id)]
    adjacent = make.visit(make.work_order(product_id=product_id).id, start=tomorrow_at(11))
    assert assign(app, adjacent.id, job.technician.id) == job.technician.id


def test_cancelled_visit_does_not_block_the_technician(app: Flask, make: Factory) -> None:
    job = make.dispatched_job(start=tomorrow_at(9))
    with app.app_context(), unit_of_work():
        visits.cancel_visit(SYSTEM, job.visit.id, "customer away")
    other = make.visit(make.work_order(product_id=job.product.id).id, start=tomorrow_at(9))
    assert assign(app, other.id, job.technician.id) == job.technician.id
    assert status_of(make, job.order.id) is S.NEW  # no visit left: back to planning


def test_reschedule_rechecks_overlap_and_clears_confirmation(app: Flask, make: Factory) -> None:
    """R-REP-2: a moved visit has to be confirmed with the customer again."""
    first = make.dispatched_job(start=tomorrow_at(9))
    second = make.visit(make.work_order(product_id=first.product.id).id, start=tomorrow_at(13),
                        technician_id=first.technician.id)
    with app.app_context(), unit_of_work():
        visits.confirm_with_customer(SYSTEM, second.id, note="张伟 by phone")
    with app.app_context(), pytest.raises(TechnicianUnavailable), unit_of_work():
        visits.reschedule_visit(SYSTEM, second.id, {"scheduled_start": tomorrow_at(10),
                                                    "scheduled_end": tomorrow_at(12)})
    assert make.get(Visit, second.id).customer_confirmed is True
    with app.app_context(), unit_of_work():
        visits.reschedule_visit(SYSTEM, second.id, {"scheduled_start": tomorrow_at(15),
                                                    "scheduled_end": tomorrow_at(17)})
    moved = make.get(Visit, second.id)
    assert moved.scheduled_start == tomorrow_at(15)
    assert moved.customer_confirmed is False and moved.customer_confirmed_at is None


def test_confirmation_recorded_with_time(app: Flask, make: Factory) -> None:
    """R-REP-2 / R-MNT-2."""
    job = make.dispatched_job()
    with app.app_context(), unit_of_work():
        visits.confirm_with_customer(SYSTEM, job.visit.id, note="confirmed by 陈静")
    visit = make.get(Visit, job.visit.id)
    assert visit.customer_confirmed is True
    assert visit.customer_confirmed_at is not None and visit.customer_confirmed_at.tzinfo is not None
    assert visit.confirmation_note == "confirmed by 陈静"


def test_field_flow_to_work_complete_and_audit(app: Flask, make: Factory) -> None:
    job = make.dispatched_job()
    with app.app_context(), unit_of_work():
        visits.record_arrival(SYSTEM, job.visit.id)
    assert status_of(make, job.order.id) is S.IN_PROGRESS
    make.job_record(job.visit.id)  # R-REP-5: the repair record is written before the work is reported complete
    with app.app_context(), unit_of_work():
        visits.add_work_log(SYSTEM, job.visit.id, {"started_at": tomorrow_at(9), "description": "更换轴承"})
        visits.record_departure(SYSTEM, job.visit.id, work_complete=True)
    assert status_of(make, job.order.id) is S.WORK_COMPLETE
    assert make.get(Visit, job.visit.id).status is VisitStatus.COMPLETED
    with app.app_context():
        actions = [e.action for e in db.session.query(AuditEvent).filter_by(entity_id=job.order.id)
                   .order_by(AuditEvent.at)]
        details = [e.details for e in db.session.query(AuditEvent).filter_by(
            entity_id=job.order.id, action="work_order.status")]
    assert actions.count("work_order.status") == 3  # new->dispatched (visit planned with a technician)->in_progress->work_complete
    assert {"from": "in_progress", "to": "work_complete", "cause": "technician reported work complete"} in details


def test_departure_without_completion_returns_order_to_planning(app: Flask, make: Factory) -> None:
    job = make.dispatched_job()
    with app.app_context(), unit_of_work():
        visits.record_arrival(SYSTEM, job.visit.id)
        visits.record_departure(SYSTEM, job.visit.id, work_complete=False, notes="等待备件 waiting for parts")
    assert status_of(make, job.order.id) is S.NEW
    follow_up = make.visit(job.order.id, start=tomorrow_at(9, days=3), technician_id=job.technician.id)
    assert follow_up.technician_id == job.technician.id
    assert status_of(make, job.order.id) is S.DISPATCHED


def test_cancel_order_cancels_planned_visits(app: Flask, make: Factory) -> None:
    job = make.dispatched_job()
    with app.app_context(), unit_of_work():
        workorders.cancel_work_order(SYSTEM, job.order.id, "duplicate report")
    assert status_of(make, job.order.id) is S.CANCELLED
    assert make.get(Visit, job.visit.id).status is VisitStatus.CANCELLED


def test_cancel_requires_reason_and_rolls_back(app: Flask, make: Factory) -> None:
    job = make.dispatched_job()
    with app.app_context(), pytest.raises(ValidationFailed), unit_of_work():
        workorders.change_status(SYSTEM, job.order.id, S.CANCELLED)
    assert status_of(make, job.order.id) is S.DISPATCHED
    assert make.get(Visit, job.visit.id).status is VisitStatus.PLANNED


def test_illegal_transition_names_allowed(app: Flask, make: Factory) -> None:
    order = make.work_order()
    with app.app_context(), pytest.raises(InvalidTransition) as err, unit_of_work():
        workorders.change_status(SYSTEM, order.id, S.CLOSED)
    assert err.value.extra["allowed_transitions"] == ["cancelled", "dispatched", "scheduled"]


def test_signed_cannot_be_set_directly(app: Flask, make: Factory) -> None:
    """R-SIG-2: `signed` comes from the customer's sign-off only."""
    job = make.dispatched_job()
    make.job_record(job.visit.id)
    with app.app_context(), unit_of_work():
        visits.record_arrival(SYSTEM, job.visit.id)
        visits.record_departure(SYSTEM, job.visit.id, work_complete=True)
    with app.app_context(), pytest.raises(InvalidTransition, match="sign-off"), unit_of_work():
        workorders.change_status(SYSTEM, job.order.id, S.SIGNED)
    assert status_of(make, job.order.id) is S.WORK_COMPLETE


def test_no_visits_on_a_cancelled_order(app: Flask, make: Factory) -> None:
    order = make.work_order()
    with app.app_context(), unit_of_work():
        workorders.cancel_work_order(SYSTEM, order.id, "customer withdrew")
    with pytest.raises(InvalidTransition):
        make.visit(order.id)
