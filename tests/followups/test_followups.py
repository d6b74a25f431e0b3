"""Follow-up calls after installations and repairs (R-FUP-1): created when the work order is signed or
closed (once), outcome recorded by the office, unreachable customers retried, due and overdue lists, the
scheduler job's backstop. Controlled time with time-machine."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.auth.models import Role
from fieldservice.auth.service import SYSTEM, Actor
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.followups import service
from fieldservice.followups.models import FollowUpTask
from fieldservice.lifecycle.events import WorkOrderStatusChanged, publish
from fieldservice.notifications.models import Notification
from fieldservice.workorders import service as workorders
from fieldservice.workorders.models import WorkOrder, WorkOrderStatus
from schedules import jobs
from tests.factories import Factory

SIGNED_AT = datetime(2027, 3, 1, 6, 30, tzinfo=UTC)
PROBLEM = "application/problem+json"


def finish(app: Flask, order_id: object, *, at: datetime = SIGNED_AT, hook: bool = True) -> None:
    """The work order was signed at `at`: written as a past fact, then - with hook=True - the lifecycle's
    WorkOrderStatusChanged event is published as the customer's acceptance publishes it (the reaction is
    tested by its event); with hook=False no event (a row from before follow-ups existed)."""
    with app.app_context(), unit_of_work():
        db.session.execute(sa.update(WorkOrder).where(WorkOrder.id == order_id).values(
            status=WorkOrderStatus.SIGNED, status_changed_at=at))
        order = db.session.get(WorkOrder, order_id)
        if hook:
            publish(WorkOrderStatusChanged(order, WorkOrderStatus.WORK_COMPLETE, WorkOrderStatus.SIGNED, SYSTEM, at,
                                           cause="customer accepted"))


def tasks(app: Flask, order_id: object) -> list[SimpleNamespace]:
    with app.app_context():
        rows = db.session.scalars(sa.select(FollowUpTask).where(FollowUpTask.work_order_id == order_id)
                                  .order_by(FollowUpTask.offset_days)).all()
        return [SimpleNamespace(id=t.id, offset=t.offset_days, due_on=t.due_on, status=t.status.value,
                                attempts=t.attempts, kind=t.kind.value) for t in rows]


def test_installation_gets_five_calls_once(app: Flask, make: Factory) -> None:
    order = make.work_order(kind="installation")
    finish(app, order.id)
    found = tasks(app, order.id)
    assert [t.offset for t in found] == [7, 30, 90, 180, 365]
    assert [t.due_on for t in found] == [date(2027, 3, 8), date(2027, 3, 31), date(2027, 5, 30),
                                         date(2027, 8, 28), date(2028, 2, 29)]       # 365 days: a leap year
    assert {t.status for t in found} == {"open"} and {t.kind for t in found} == {"installation"}
    # closing it afterwards (or a backstop run) creates nothing new
    with app.app_context(), unit_of_work():
        workorders.change_status(SYSTEM, order.id, WorkOrderStatus.CLOSED,
                                 overrides={"survey_missing": "客户拒绝填写问卷 the customer declined the survey"})
        assert service.create_missing() == 0
    assert len(tasks(app, order.id)) == 5


def test_repair_gets_one_call_after_the_configured_delay(app: Flask, make: Factory) -> None:
    app.config["FOLLOWUP_REPAIR_DAYS"] = 5
    repair = make.work_order(kind="repair")
    finish(app, repair.id)
    assert [(t.offset, t.due_on, t.kind) for t in tasks(app, repair.id)] == [(5, date(2027, 3, 6), "repair")]
    maintenance = make.work_order(kind="maintenance")
    finish(app, maintenance.id)
    assert tasks(app, maintenance.id) == []


def test_outcome_reached_unreachable_and_retries(app: Flask, make: Factory) -> None:
    app.config.update(FOLLOWUP_RETRY_DAYS=2, FOLLOWUP_MAX_ATTEMPTS=3)
    order = make.work_order(kind="installation")
    finish(app, order.id)
    week, month = tasks(app, order.id)[:2]
    user = make.user("office")
    office = Actor(user_id=user.id, role=Role.OFFICE, display_name="回访专员")
    with app.app_context(), unit_of_work():
        done = service.record_outcome(office, week.id, {"reached": True, "satisfaction": 5, "remarks": "很满意"},
                                      now=datetime(2027, 3, 8, 2, tzinfo=UTC))
        assert (done.status.value, done.satisfaction, done.remarks, done.attempts) == ("done", 5, "很满意", 1)
    for n, day in enumerate((date(2027, 3, 31), date(2027, 4, 2), date(2027, 4, 4)), start=1):
        with app.app_context(), unit_of_work():
            task = service.record_outcome(office, month.id, {"reached": False, "remarks": f"无人接听 {n}"},
                                          now=datetime(day.year, day.month, day.day, 3, tzinfo=UTC))
            if n < 3:   # another attempt two days later
                assert task.status.value == "open" and task.due_on == day + timedelta(days=2)
            else:       # the third unanswered call ends it; it stays listed as unreachable
                assert task.status.value == "unreachable" and task.attempts == 3
                assert [a.remarks for a in task.attempt_log] == ["无人接听 1", "无人接听 2", "无人接听 3"]
    from fieldservice.errors import InvalidTransition, ValidationFailed

    with app.app_context(), unit_of_work(), pytest.raises(InvalidTransition):
        service.record_outcome(office, month.id, {"reached": True, "satisfaction": 4})
    third = tasks(app, order.id)[2]
    with app.app_context(), unit_of_work(), pytest.raises(ValidationFailed):
        service.record_outcome(office, third.id, {"reached": False, "satisfaction": 3})


def test_api_lists_due_and_overdue_and_records_outcomes(app: Flask, client: FlaskClient, headers, make: Factory,
                                                        count_rows) -> None:
    order = make.work_order(kind="installation")
    finish(app, order.id)
    with time_machine.travel(datetime(2027, 4, 1, 2, tzinfo=UTC), tick=False):
        auth = headers(role="office")                                   # a token valid at that time
        due = client.get("/api/v1/follow-ups?due_by=2027-04-01", headers=auth).get_json()
        assert [t["offset_days"] for t in due["items"]] == [7, 30]      # Mar 8 overdue, Mar 31 overdue
        overdue = client.get("/api/v1/follow-ups?overdue_on=2027-03-31", headers=auth).get_json()
        assert [t["offset_days"] for t in overdue["items"]] == [7]
        task = due["items"][0]
        before = count_rows()
        for bad in ({"reached": True, "satisfaction": 6}, {"reached": "maybe"}, {}, {"reached": True, "x": 1}):
            response = client.post(f"/api/v1/follow-ups/{task['id']}/outcome", json=bad, headers=auth)
            assert response.status_code == 422 and response.mimetype == PROBLEM, bad
        stale = client.post(f"/api/v1/follow-ups/{task['id']}/outcome",
                            json={"reached": True, "version": task["version"] + 1}, headers=auth)
        assert stale.status_code == 409 and stale.mimetype == PROBLEM
        assert count_rows() == before
        recorded = client.post(f"/api/v1/follow-ups/{task['id']}/outcome", json={
            "reached": True, "satisfaction": 4, "remarks": "设备运行正常", "version": task["version"]}, headers=auth)
        assert recorded.status_code == 200, recorded.get_json()
        body = recorded.get_json()
        assert body["status"] == "done" and body["attempt_log"][0]["remarks"] == "设备运行正常"
        again = client.post(f"/api/v1/follow-ups/{task['id']}/outcome", json={"reached": True}, headers=auth)
        assert again.status_code == 409 and again.mimetype == PROBLEM
        assert client.get(f"/api/v1/follow-ups/{task['id']}", headers=auth).get_json()["satisfaction"] == 4
        assert client.get("/api/v1/follow-ups/00000000-0000-0000-0000-000000000001", headers=auth).status_code == 404


def test_roles(client: FlaskClient, headers) -> None:
    for role in ("technician", "parts_keeper"):
        auth = headers(role=role)
        assert client.get("/api/v1/follow-ups", headers=auth).status_code == 403
        assert client.post("/api/v1/follow-ups/00000000-0000-0000-0000-000000000001/outcome",
                           json={"reached": True}, headers=auth).status_code == 403


def test_job_backstop_and_daily_notice(app: Flask, make: Factory) -> None:
    order = make.work_order(kind="installation")
    finish(app, order.id, hook=False)                                   # signed without the hook
    assert tasks(app, order.id) == []
    with time_machine.travel(datetime(2027, 3, 9, 1, tzinfo=UTC), tick=False):
        first = jobs.create_follow_ups(app)
        second = jobs.create_follow_ups(app)
    assert first == {"created": 5, "due_today": 0, "overdue": 1, "notified": 1}
    assert second == {"created": 0, "due_today": 0, "overdue": 1, "notified": 0}   # once a day
    assert [t.due_on for t in tasks(app, order.id)][0] == date(2027, 3, 8)         # from the signing day
    with app.app_context():
        [notice] = db.session.scalars(sa.select(Notification).where(Notification.kind == "followups.due")).all()
        assert notice.payload == {"day": "2027-03-09", "due_today": 0, "overdue": 1}
