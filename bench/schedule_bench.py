"""Maintenance generation benchmark (issue 7). Prints figures; not a test. Needs the PostgreSQL server.

    .venv/bin/python -m bench.schedule_bench
Environment: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test; a database named
schedule_bench is created on that server and built by the migrations), BENCH_DB (that database's
name, default schedule_bench: give your own when others benchmark on the same server), BENCH_PLANS
(default 10000).

10,000 monthly plans on 10,000 assets (200 customers, each one site), start dates spread over the next 30
days, so a 30-day horizon gives every plan one due date: one occurrence, work order and visit each. Runs:
1. the first generation of the 30-day horizon (creates everything);
2. the same run again, with nothing to do (goal: at least 10x faster than the first: it must not re-scan);
3. the next day's run (the horizon moves one day on: only plans with a due date on that day are read).
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock

import sqlalchemy as sa

from bench.common import fresh_database, migrated_app
from fieldservice.assets.models import Asset
from fieldservice.auth.service import SYSTEM
from fieldservice.catalog import service as catalog
from fieldservice.customers.models import Customer, Site
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.maintenance import service
from fieldservice.maintenance.models import IntervalUnit, MaintenanceOccurrence, MaintenancePlan, PlanStatus
from fieldservice.visits.models import Visit
from fieldservice.workorders.models import WorkOrder

logging.disable(logging.INFO)
TODAY = date(2027, 3, 1)
HORIZON = 30
PER_CUSTOMER = 50


def build(plans: int) -> None:
    """Customers, sites, assets and plans, written directly (the set-up is not what is measured)."""
    now = datetime.now(UTC)
    with unit_of_work():
        line = catalog.create_product_line(SYSTEM, {"code": "BENCH", "name": "空调 bench line"})
        product = catalog.create_product(SYSTEM, {"product_line_id": line.id, "model_code": "BENCH-1",
                                                  "name": "中央空调 bench unit"})
        customers = []
        for c in range(max(1, plans // PER_CUSTOMER)):
            customer = Customer(id=uuid.uuid4(), name=f"客户 {c:04d}")
            site = Site(id=uuid.uuid4(), customer=customer, name=f"厂区 {c:04d}", address="上海市浦东新区 1 号",
                        timezone="Asia/Shanghai")
            db.session.add_all([customer, site])
            customers.append((customer.id, site.id))
        db.session.flush()
        assets = []
        for i in range(plans):
            customer_id, site_id = customers[i % len(customers)]
            assets.append(Asset(id=uuid.uuid4(), customer_id=customer_id, site_id=site_id, product_id=product.id,
                                serial_number=f"SN-{i:07d}", install_date=date(2026, 1, 1)))
        db.session.add_all(assets)
        db.session.flush()
        rows = [{
            "id": uuid.uuid4(), "asset_id": asset.id, "contract_id": None, "name": "月度保养 monthly service",
            "items": [{"task": "清洗滤网 clean filters", "checklist": ["A", "B"]}], "interval": 1,
            "interval_unit": IntervalUnit.MONTHS.value, "rrule": None,
            "start_on": TODAY + timedelta(days=i % HORIZON), "end_on": None,
            "window_start": clock(9), "window_end": clock(12), "technician_id": None, "team_id": None,
            "status": PlanStatus.ACTIVE.value, "cancel_reason": None,
            "covered_through": TODAY + timedelta(days=i % HORIZON) - timedelta(days=1), "created_by_id": None,
            "version": 1, "created_at": now, "updated_at": now} for i, asset in enumerate(assets)]
        db.session.execute(MaintenancePlan.__table__.insert(), rows)


def run(today: date) -> tuple[float, dict[str, int]]:
    start = time.perf_counter()
    with unit_of_work():
        result = service.generate_due_occurrences(today, HORIZON)
    return time.perf_counter() - start, result.as_dict()


def count(model: type) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model)) or 0


def main() -> None:
    plans = int(os.environ.get("BENCH_PLANS", "10000"))
    app = migrated_app(fresh_database(os.environ.get("BENCH_DB", "schedule_bench")))
    with app.app_context():
        started = time.perf_counter()
        build(plans)
        print(f"set-up: {plans:,} plans on {plans:,} assets in {time.perf_counter() - started:.1f} s")

        first, first_counts = run(TODAY)
        print(f"first run, {HORIZON}-day horizon: {first:.2f} s  {first_counts}")
        rows = {m.__name__: count(m) for m in (MaintenanceOccurrence, WorkOrder, Visit)}
        print(f"  rows: {rows}  ({first_counts['created'] / first:,.0f} occurrences/s)")

        second, second_counts = run(TODAY)
        print(f"second run, nothing to do: {second * 1000:.1f} ms  {second_counts}")
        assert second_counts["created"] == 0, "the second run created something"
        assert {m.__name__: count(m) for m in (MaintenanceOccurrence, WorkOrder, Visit)} == rows
        print(f"  ratio first/second: {first / second:.0f}x (goal >= 10x)")

        next_day, next_counts = run(TODAY + timedelta(days=1))
        print(f"next day's run (horizon one day on): {next_day:.2f} s  created {next_counts['created']}, "
              f"plans read {next_counts['plans']:,}")


if __name__ == "__main__":
    main()
