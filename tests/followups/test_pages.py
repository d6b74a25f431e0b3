"""The office page for follow-up calls: today's list (overdue marked), the outcome form, Chinese text."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.followups.models import FollowUpTask
from fieldservice.lifecycle.events import WorkOrderStatusChanged, publish
from fieldservice.lifecycle.guard import historical_import
from fieldservice.workorders.models import WorkOrder, WorkOrderStatus
from tests.factories import Factory


def signed(order: WorkOrder, at: datetime) -> None:
    """The job was signed at `at` (a past fact), and the lifecycle's event for it is published, so the
    follow-up reaction makes its call (the reaction is tested by its event)."""
    with historical_import(db.session):
        order.status, order.status_changed_at = WorkOrderStatus.SIGNED, at
    publish(WorkOrderStatusChanged(order, WorkOrderStatus.WORK_COMPLETE, WorkOrderStatus.SIGNED, SYSTEM, at))


def test_follow_up_page_lists_due_calls_and_records_an_outcome(app: Flask, client: FlaskClient, headers,
                                                               make: Factory) -> None:
    order = make.work_order(kind="repair")
    eight_days_ago = datetime.now(UTC) - timedelta(days=8)
    with app.app_context(), unit_of_work():
        signed(db.session.get(WorkOrder, order.id), eight_days_ago)
    auth = headers(role="office")
    page = client.get("/office/follow-ups", headers=auth)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "维修" in text and "逾期" in text
    with app.app_context():
        task = db.session.scalars(sa.select(FollowUpTask)).one()
        task_id, version = task.id, task.version
    bad = client.post(f"/office/follow-ups/{task_id}/outcome", headers=auth,
                      data={"reached": "no", "satisfaction": "3", "version": str(version)})
    assert bad.status_code == 422 and "only recorded when the customer was reached" in bad.get_data(as_text=True)
    done = client.post(f"/office/follow-ups/{task_id}/outcome", headers=auth,
                       data={"reached": "yes", "satisfaction": "5", "remarks": "修好了，很满意", "version": str(version)})
    assert done.status_code == 303
    with app.app_context():
        task = db.session.get(FollowUpTask, task_id)
        assert (task.status.value, task.satisfaction, task.remarks) == ("done", 5, "修好了，很满意")
    assert "今天没有待回访" in client.get("/office/follow-ups", headers=auth).get_data(as_text=True)


def test_page_needs_a_back_office_role(client: FlaskClient, headers) -> None:
    for role in ("technician", "parts_keeper"):
        assert client.get("/office/follow-ups", headers=headers(role=role)).status_code == 403
    anonymous = client.get("/office/follow-ups")             # no caller: the login form
    assert anonymous.status_code == 302 and "/office/login" in anonymous.headers["Location"]


def test_outcome_form_posted_with_the_session_cookie_needs_its_csrf_token(app: Flask, client: FlaskClient,
                                                                         make: Factory) -> None:
    import re

    from tests.archive.test_pages import login

    order = make.work_order(kind="repair")
    with app.app_context(), unit_of_work():
        signed(db.session.get(WorkOrder, order.id), datetime.now(UTC) - timedelta(days=8))
        task = db.session.scalars(sa.select(FollowUpTask)).one()
        task_id, version = task.id, task.version
    make.user("office", username="回访专员")
    assert login(client, "回访专员").status_code == 302
    html = client.get("/office/follow-ups").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    outcome = {"reached": "yes", "satisfaction": "4", "remarks": "好", "version": str(version)}
    # a cross-site form riding on the cookie has no token: refused, nothing recorded
    assert client.post(f"/office/follow-ups/{task_id}/outcome", data=outcome).status_code == 400
    with app.app_context():
        assert db.session.get(FollowUpTask, task_id).status.value != "done"
    done = client.post(f"/office/follow-ups/{task_id}/outcome", data={**outcome, "csrf_token": token})
    assert done.status_code == 303
    with app.app_context():
        assert db.session.get(FollowUpTask, task_id).satisfaction == 4
