"""SLA clocks follow the facts an offline phone pushes (the same visit services run on the sync path):
a technician who arrived on time with no signal is on time, whenever the push reaches the server."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import time_machine
from flask import Flask

from fieldservice.extensions import db
from fieldservice.sla.models import ClockStatus, SlaBreach, SlaClock
from tests.factories import Factory
from tests.records.conftest import repair_content
from tests.sync.phone import Phone


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def test_pushed_arrival_and_completion_drive_the_clocks(app: Flask, make: Factory) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    opened = now - timedelta(hours=5)
    with time_machine.travel(opened, tick=False):
        job = make.dispatched_job(start=opened + timedelta(minutes=20))
    phone = Phone(app.test_client(), make.token(job.technician.user_id))
    phone.sync()
    arrived, left = opened + timedelta(minutes=90), opened + timedelta(hours=3)
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(arrived))
    phone.create("service_records", kind="repair_record", visit_id=str(job.visit.id),  # R-REP-5, written on site
                 content_json=json.dumps(repair_content(), ensure_ascii=False))
    phone.edit("visits", job.visit.id, status="completed", departed_at=ms(left), work_complete=True)
    assert phone.sync()["rejected"] == 0

    with app.app_context():
        clocks = {c.target.value: c for c in db.session.scalars(
            sa.select(SlaClock).where(SlaClock.work_order_id == job.order.id))}
        assert clocks["respond"].status is ClockStatus.STOPPED and clocks["respond"].stopped_at == opened
        assert clocks["on_site"].stopped_at == arrived and clocks["on_site"].breached_at is None  # within 2 h
        assert clocks["fix"].status is ClockStatus.PAUSED and clocks["fix"].elapsed_seconds == 3 * 3600
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SlaBreach)) == 0
