"""Confirmation reminders (R-MNT-2, R-REP-2): visits not confirmed with the customer N days before are
listed for the dispatcher and flagged once through the outbox (again if the visit is moved)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.notifications.models import Notification
from fieldservice.visits import service as visits
from schedules import jobs
from tests.factories import Factory

NOW = datetime(2027, 5, 10, 1, 0, tzinfo=UTC)


def reminders(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        return [(str(n.subject_id), n.payload["scheduled_start"]) for n in db.session.scalars(
            sa.select(Notification).where(Notification.kind == "visit.unconfirmed").order_by(Notification.created_at))]


@pytest.fixture
def visits_ahead(app: Flask, make: Factory):  # type: ignore[no-untyped-def]
    with time_machine.travel(NOW, tick=False):
        soon = make.dispatched_job(start=NOW + timedelta(days=1), confirmed=False)  # within 2 days, unconfirmed
        confirmed = make.dispatched_job(start=NOW + timedelta(days=1, hours=3), confirmed=False)
        later = make.dispatched_job(start=NOW + timedelta(days=5), confirmed=False)  # not yet within 2 days
        with app.app_context(), unit_of_work():
            visits.confirm_with_customer(SYSTEM, confirmed.visit.id)
    return soon, confirmed, later


def test_job_flags_unconfirmed_visits_once(app: Flask, visits_ahead, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    soon, _, later = visits_ahead
    monkeypatch.setitem(app.config, "CONFIRMATION_REMINDER_DAYS", 2)
    with time_machine.travel(NOW, tick=False):
        assert jobs.remind_unconfirmed_visits(app) == 1
        assert jobs.remind_unconfirmed_visits(app) == 0                   # a rerun adds nothing
    assert reminders(app) == [(str(soon.visit.id), (NOW + timedelta(days=1)).isoformat())]

    with time_machine.travel(NOW + timedelta(days=3, hours=1), tick=False):
        assert jobs.remind_unconfirmed_visits(app) == 1                   # the later one is now 2 days out
    # moving the visit flags it again for its new time
    with time_machine.travel(NOW + timedelta(hours=2), tick=False), app.app_context(), unit_of_work():
        visits.reschedule_visit(SYSTEM, soon.visit.id, {"scheduled_start": NOW + timedelta(days=1, hours=5),
                                                         "scheduled_end": NOW + timedelta(days=1, hours=7)})
    with time_machine.travel(NOW + timedelta(hours=3), tick=False):
        assert jobs.remind_unconfirmed_visits(app) == 1
    assert sorted(r[0] for r in reminders(app)) == sorted([str(soon.visit.id), str(soon.visit.id), str(later.visit.id)])


def test_unconfirmed_list_endpoint(app: Flask, client: FlaskClient, headers, make: Factory) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    soon = make.dispatched_job(start=now + timedelta(days=1), confirmed=False)
    make.dispatched_job(start=now + timedelta(days=10), confirmed=False)
    dispatcher = headers(role="dispatcher")
    listed = client.get("/api/v1/visits/unconfirmed", headers=dispatcher).get_json()
    assert [v["id"] for v in listed["items"]] == [str(soon.visit.id)]
    assert client.get("/api/v1/visits/unconfirmed?days=30", headers=dispatcher).get_json()["meta"]["total"] == 2
    bad = client.get("/api/v1/visits/unconfirmed?days=-1", headers=dispatcher)
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert client.get("/api/v1/visits/unconfirmed", headers=headers(role="technician")).status_code == 403
