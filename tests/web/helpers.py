"""Shared set-ups of the office app's page and browser tests (issue 14)."""
from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.extensions import db
from tests.factories import Factory


def csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def at_site(day: date, hour: int, minute: int = 0) -> datetime:
    """A wall time in Shanghai (the factories' sites and the company zone) as UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def board_world(make: Factory, *, day: date | None = None) -> SimpleNamespace:
    """Two technicians (Li certified for the chiller line, Wang for the lathe line only), a chiller job with an
    unconfirmed visit tomorrow at 09:00-11:00 Shanghai time and no technician, and a lathe job whose visit Wang
    has at the same hour (for an overlap)."""
    day = day or (datetime.now(UTC) + timedelta(hours=8)).date() + timedelta(days=1)
    chillers, lathes = make.product_line("HVAC"), make.product_line("CNC")
    chiller, lathe = make.product(chillers.id, name="冷水机组"), make.product(lathes.id, name="数控车床")
    li = make.technician(name="李明", certified_for=[chillers.id, lathes.id])
    wang = make.technician(name="王建国", certified_for=[lathes.id])
    customer = make.customer("星河购物中心", phone="021-5555 0101")
    site = make.site(customer.id, city="上海")
    order = make.work_order(customer_id=customer.id, site_id=site.id, product_id=chiller.id, summary="冷水机组不制冷")
    visit = make.visit(order.id, start=at_site(day, 9), confirmed=False)
    other = make.work_order(customer_id=customer.id, site_id=site.id, product_id=lathe.id, summary="主轴异响")
    busy = make.visit(other.id, start=at_site(day, 9), technician_id=li.id)
    return SimpleNamespace(day=day, chillers=chillers, lathes=lathes, li=li, wang=wang, customer=customer, site=site,
                           order=order, visit=visit, other=other, busy=busy)


def quarantined(app: Flask, client: FlaskClient, make: Factory) -> SimpleNamespace:
    """A phone pushed "work complete" for a job whose visit is still in progress: the lifecycle gate refuses
    it and the change waits in the sync quarantine with its unmet conditions."""
    from sync.models import SyncRejection
    from tests.lifecycle.conftest import ago, ms
    from tests.sync.phone import Phone

    job = make.dispatched_job()
    phone = Phone(app.test_client(), make.token(job.technician.user_id))  # type: ignore[arg-type]
    phone.sync()
    phone.edit("visits", job.visit.id, status="in_progress", arrived_at=ms(ago(5)))
    phone.edit("work_orders", job.order.id, status="work_complete")
    answer = phone.sync()
    assert answer["rejected_ids"].get("work_orders"), answer
    with app.app_context():
        rejection = db.session.scalars(sa.select(SyncRejection).where(
            SyncRejection.table_name == "work_orders")).one()
        job.rejection_id = rejection.id
    return job


def get_row(app: Flask, model: type, id_: uuid.UUID | str) -> Any:
    with app.app_context():
        row = db.session.get(model, uuid.UUID(str(id_)))
        db.session.expunge_all()
        return row
