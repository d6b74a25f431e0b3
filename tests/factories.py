"""Factories: each builds a record through the service layer (or the model for reference data),
commits, and returns a plain snapshot of its columns, so tests never hold live ORM objects."""
from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from flask import Flask
from sqlalchemy import inspect

from fieldservice.auth import service as auth_service
from fieldservice.auth.models import Role, User
from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db

_seq = itertools.count(1)

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
"""A fixed 'now' for service tests; API tests use the real clock."""


def snapshot(obj: Any) -> SimpleNamespace:
    mapper = inspect(obj).mapper
    return SimpleNamespace(**{attr.key: getattr(obj, attr.key) for attr in mapper.column_attrs})


def tomorrow_at(hour: int, minutes: int = 0, *, days: int = 1) -> datetime:
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=days)
    return base.replace(hour=hour, minute=minutes)


def this_window() -> datetime:
    """The start of a visit window that is open now: half an hour ago, to the minute."""
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=30)


class Factory:
    def __init__(self, app: Flask) -> None:
        self.app = app

    def _run(self, fn: Any) -> SimpleNamespace:
        with self.app.app_context(), unit_of_work():
            return snapshot(fn())

    # ---- people ----
    def user(self, role: str = "dispatcher", *, username: str | None = None, password: str = "correct horse battery",
             customer_id: uuid.UUID | None = None, display_name: str | None = None) -> SimpleNamespace:
        username = username or f"{role}{next(_seq)}"
        return self._run(lambda: auth_service.create_user(username, password, Role(role), customer_id=customer_id,
                                                          display_name=display_name))

    def token(self, user_id: uuid.UUID, *, ttl: timedelta | None = None, now: datetime | None = None) -> str:
        with self.app.app_context(), unit_of_work():
            user = db.session.get(User, user_id)
            raw, _ = auth_service.mint_token(user, ttl=ttl, now=now)
            return raw

    def technician(self, *, name: str | None = None, certified_for: list[uuid.UUID] | tuple[uuid.UUID, ...] = (),
                   expires_on: date | None = None, with_login: bool = True) -> SimpleNamespace:
        from fieldservice.technicians import service

        name = name or f"Tech {next(_seq)}"
        user_id = self.user("technician").id if with_login else None

        def build() -> Any:
            tech = service.create_technician(SYSTEM, {"name": name, "user_id": user_id})
            for line_id in certified_for:
                service.add_certification(SYSTEM, tech.id, {
                    "product_line_id": line_id, "issued_on": date(2020, 1, 1),
                    "expires_on": expires_on or date(2099, 12, 31)})
            return tech

        return self._run(build)

    def certification(self, technician_id: uuid.UUID, product_line_id: uuid.UUID, *, issued_on: date,
                      expires_on: date) -> SimpleNamespace:
        from fieldservice.technicians import service

        return self._run(lambda: service.add_certification(SYSTEM, technician_id, {
            "product_line_id": product_line_id, "issued_on": issued_on, "expires_on": expires_on}))

    # ---- customers and equipment ----
    def customer(self, name: str | None = None, **extra: Any) -> SimpleNamespace:
        from fieldservice.customers import service

        data = {"name": name or f"客户 {next(_seq)}", **extra}
        return self._run(lambda: service.create_customer(SYSTEM, data))

    def site(self, customer_id: uuid.UUID, **extra: Any) -> SimpleNamespace:
        from fieldservice.customers import service

        data = {"name": f"Site {next(_seq)}", "address": "上海市浦东新区 1 号", **extra}
        return self._run(lambda: service.add_site(SYSTEM, customer_id, data))

    def product_line(self, code: str | None = None) -> SimpleNamespace:
        from fieldservice.catalog import service

        code = code or f"PL{next(_seq)}"
        return self._run(lambda: service.create_product_line(SYSTEM, {"code": code, "name": f"Line {code}"}))

    def product(self, product_line_id: uuid.UUID | None = None, **extra: Any) -> SimpleNamespace:
        from fieldservice.catalog import service

        line_id = product_line_id or self.product_line().id
        n = next(_seq)
        data = {"product_line_id": line_id, "model_code": f"M-{n}", "name": f"Model {n}", **extra}
        return self._run(lambda: service.create_product(SYSTEM, data))

    def asset(self, customer_id: uuid.UUID, site_id: uuid.UUID, product_id: uuid.UUID, **extra: Any) -> SimpleNamespace:
        from fieldservice.assets import service

        data = {"customer_id": customer_id, "site_id": site_id, "product_id": product_id,
                "serial_number": f"SN-{next(_seq):06d}", **extra}
        return self._run(lambda: service.create_asset(SYSTEM, data))

    # ---- work ----
    def work_order(self, *, customer_id: uuid.UUID | None = None, site_id: uuid.UUID | None = None,
                   product_id: uuid.UUID | None = None, kind: str = "repair", **extra: Any) -> SimpleNamespace:
        from fieldservice.workorders import service
        from fieldservice.workorders.models import WorkOrderKind

        if customer_id is None:
            customer_id = self.customer().id
        site_id = site_id or self.site(customer_id).id
        product_id = product_id or self.product().id
        data = {"kind": WorkOrderKind(kind), "customer_id": customer_id, "site_id": site_id,
                "product_id": product_id, "summary": "设备故障 fault", **extra}
        return self._run(lambda: service.create_work_order(SYSTEM, data))

    def visit(self, work_order_id: uuid.UUID, *, start: datetime | None = None, hours: float = 2,
              technician_id: uuid.UUID | None = None, confirmed: bool = True) -> SimpleNamespace:
        """A planned visit, by default under way now (started half an hour ago) and its time confirmed with
        the customer, so a technician may arrive (the lifecycle gate, R-REP-2 / R-MNT-2)."""
        from fieldservice.visits import service

        start = start or this_window()
        data = {"scheduled_start": start, "scheduled_end": start + timedelta(hours=hours),
                "technician_id": technician_id}

        def build() -> Any:
            visit = service.schedule_visit(SYSTEM, work_order_id, data)
            if confirmed:
                service.confirm_with_customer(SYSTEM, visit.id, confirmed_at=min(start, datetime.now(UTC)),
                                              note="客户电话确认 confirmed by phone")
            return visit

        return self._run(build)

    def job_record(self, visit_id: uuid.UUID, *, now: datetime | None = None) -> SimpleNamespace:
        """The record the visit's job requires (installation sheet, repair or maintenance record), written
        through the records service: the lifecycle gate refuses "work complete" without it (R-INS-6, R-REP-5,
        R-MNT-3)."""
        from fieldservice.records import service
        from fieldservice.records.models import RecordKind
        from fieldservice.visits.models import Visit
        from tests.records.conftest import installation_content, maintenance_content, repair_content

        kinds = {"installation": (RecordKind.INSTALLATION_SHEET, installation_content),
                 "repair": (RecordKind.REPAIR_RECORD, repair_content),
                 "maintenance": (RecordKind.MAINTENANCE_RECORD, maintenance_content)}

        def build() -> Any:
            visit = db.session.get(Visit, visit_id)
            kind, content = kinds[visit.work_order.kind.value]
            return service.create_record(SYSTEM, {"kind": kind, "visit_id": visit_id, "content": content()}, now=now)

        return self._run(build)

    def carrier_claim(self, record: SimpleNamespace, order: SimpleNamespace) -> SimpleNamespace:
        """A carrier damage claim on a job's record (packaging damage photos are tagged with it)."""
        from fieldservice.claims.models import CarrierClaim

        return self._run(lambda: _added(CarrierClaim(record_root_id=record.id, record_id=record.id,
                                                     work_order_id=order.id, customer_id=order.customer_id)))

    def dispatched_job(self, *, start: datetime | None = None, technician: SimpleNamespace | None = None,
                       customer_id: uuid.UUID | None = None, confirmed: bool = True) -> SimpleNamespace:
        """A work order with one visit assigned to a certified technician: the common starting point."""
        line = self.product_line()
        product = self.product(line.id)
        tech = technician or self.technician(certified_for=[line.id])
        if technician is not None:
            self.certification(technician.id, line.id, issued_on=date(2020, 1, 1), expires_on=date(2099, 1, 1))
        order = self.work_order(product_id=product.id, customer_id=customer_id)
        visit = self.visit(order.id, start=start, technician_id=tech.id, confirmed=confirmed)
        return SimpleNamespace(order=order, visit=visit, technician=tech, product=product, line=line)

    def others_work_log(self, *, start: datetime, at: datetime) -> SimpleNamespace:
        """Another technician's visit (starting at `start`) with one work log of theirs logged at `at`, written
        directly as an earlier push of their phone would have: for a push that names a log not the pusher's."""
        from fieldservice.visits.models import WorkLog

        theirs = self.dispatched_job(start=start)
        return self._run(lambda: _added(WorkLog(visit_id=theirs.visit.id, technician_id=theirs.technician.id,
                                                started_at=at, description="their log")))

    def warranty_repair(self, order_id: uuid.UUID) -> SimpleNamespace:
        """Record that a repair job is a free warranty repair (R-REP-8), so parts and labour on it need no
        consent; without a decision a repair is chargeable (R-REP-4)."""
        from fieldservice.commerce.models import Payer, WarrantyDecision, WarrantyOption

        return self._run(lambda: _added(WarrantyDecision(
            work_order_id=order_id, fault_type="quality", reported_on=date.today(), in_warranty=True,
            option=WarrantyOption.WARRANTY_REPAIR, chargeable=False, shipping_outbound_payer=Payer.COMPANY,
            shipping_return_payer=Payer.COMPANY, basis={"test": "in warranty"}, decided_at=datetime.now(UTC))))

    def get(self, model: type, id_: uuid.UUID) -> SimpleNamespace | None:
        with self.app.app_context():
            obj = db.session.get(model, id_)
            return snapshot(obj) if obj is not None else None


def _added(obj: Any) -> Any:
    db.session.add(obj)
    db.session.flush()
    return obj
