"""KPI benchmark (issue 8, R-KPI-1): each KPI query over 1,000,000 visits on PostgreSQL. Prints figures;
not a test. Goal: under a second per query.

    .venv/bin/python -m bench.kpi_bench                 # 1,000,000 visits (about 4-6 minutes to load)
    .venv/bin/python -m bench.kpi_bench queries         # time the queries again on the loaded database
    BENCH_VISITS=200000 .venv/bin/python -m bench.kpi_bench
Environment: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test; the database
BENCH_DB, default `kpi_bench`, is dropped and created on that server), BENCH_VISITS, BENCH_EXPLAIN=1
(print every plan).

Data, bulk-loaded with COPY (fieldservice.db.bulk_insert) over one year (2026): visits spread over 50
technicians; about one work order in seven needs a second visit; 30% of visits have a satisfaction survey,
1% a complaint; 500 parts, one warehouse and a van per technician, one stock movement per five visits.
Repair work orders are on 200,000 assets (BENCH_ASSETS) and signed an hour after their last attended
visit, 5% of them after one rework (the repair-success-rate facts `signed_at`, `rework_count`, `signed_technician_id`; `repeat_repair_at`
is then computed in the database by kpi/facts.py's own UPDATE).
"""
from __future__ import annotations

import logging
import os
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bench.common import fresh_database, median, migrated_app
from fieldservice.assets.models import Asset
from fieldservice.auth.service import SYSTEM
from fieldservice.complaints.models import Complaint
from fieldservice.db import bulk_insert, unit_of_work
from fieldservice.extensions import db
from fieldservice.kpi import service as kpi
from fieldservice.parts import service as parts
from fieldservice.parts.models import LocationKind, Part, StockBalance, StockMovement
from fieldservice.records.models import ServiceRecord
from fieldservice.visits.models import Visit
from fieldservice.workorders.models import WorkOrder
from tests.factories import Factory

logging.disable(logging.INFO)
YEAR_START = datetime(2026, 1, 1, tzinfo=UTC)
TECHNICIANS = 50
BATCH = 50_000
ASSETS = int(os.environ.get("BENCH_ASSETS", "200000"))


def _job_rows(rng: random.Random, template: Any, tech_id: uuid.UUID, start: datetime, visits: int,
              now: datetime, asset_ids: list[uuid.UUID]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    order_id = uuid.uuid4()
    kind = rng.choices(("repair", "maintenance", "installation"), (7, 2, 1))[0]
    order = {"id": order_id, "number": f"WO-K-{order_id.hex[:16]}", "kind": kind, "status": "closed",
             "priority": "normal", "customer_id": template.order.customer_id, "site_id": template.order.site_id,
             "asset_id": rng.choice(asset_ids) if kind == "repair" and asset_ids else None,
             "product_id": template.product.id, "service_request_id": None, "summary": "bench",
             "description": None, "cancel_reason": None, "status_changed_at": now, "created_by_id": None,
             "version": 1, "created_at": start - timedelta(hours=1), "updated_at": now, "change_seq": 0,
             # the facts workorders.service.apply_transition keeps: signed after the last visit, rework 5%
             "signed_at": start + timedelta(days=2 * (visits - 1), hours=4),
             "rework_count": 1 if rng.random() < 0.05 else 0, "repeat_repair_at": None}
    rows: list[dict[str, Any]] = []
    for n in range(visits):
        begin = start + timedelta(days=2 * n)
        cancelled = rng.random() < 0.03
        late = rng.random() < 0.08
        arrived = None if cancelled else begin + timedelta(minutes=rng.randint(130, 240) if late else rng.randint(0, 110))
        last = n == visits - 1
        rows.append({
            "id": uuid.uuid4(), "work_order_id": order_id, "technician_id": tech_id,
            "status": "cancelled" if cancelled else "completed", "scheduled_start": begin,
            "scheduled_end": begin + timedelta(hours=2), "customer_confirmed": True, "customer_confirmed_at": begin,
            "confirmation_note": None, "arrived_at": arrived,
            "departed_at": None if cancelled else arrived + timedelta(minutes=90),
            "work_complete": bool(last and not cancelled), "notes": None, "cancel_reason": None, "time_flags": None,
            # the KPI fact kept by fieldservice/kpi/facts.py: completing repair visit, no earlier attended one
            "first_time_fix": (not any(r["arrived_at"] for r in rows)) if (last and not cancelled
                                                                            and kind == "repair") else None,
            "version": 1, "created_at": now, "updated_at": now, "change_seq": 0})
    order["signed_technician_id"] = tech_id if rows[-1]["work_complete"] else None
    return order, rows


def load(app: Any, total_visits: int) -> None:
    rng = random.Random(8)
    make = Factory(app)
    templates = [make.dispatched_job(start=YEAR_START + timedelta(days=400 + i)) for i in range(TECHNICIANS)]
    now = datetime.now(UTC)
    with app.app_context(), unit_of_work():
        warehouse = parts.create_location(SYSTEM, {"code": "WH-1", "name": "上海总仓", "kind": LocationKind.WAREHOUSE})
        vans = [parts.create_location(SYSTEM, {"code": f"VAN-{i}", "name": f"{i} 号车", "kind": LocationKind.VAN,
                                               "technician_id": t.technician.id}) for i, t in enumerate(templates)]
        locations = [(warehouse.id, None)] + [(v.id, v.technician_id) for v in vans]
        warehouse_id, van_ids = warehouse.id, [v.id for v in vans]
    template = templates[0]
    asset_rows = [{"id": uuid.uuid4(), "customer_id": template.order.customer_id, "site_id": template.order.site_id,
                   "product_id": template.product.id, "contract_line_id": None, "serial_number": f"BA-{i:07d}",
                   "status": "in_service", "install_date": None, "warranty_start": None, "warranty_end": None,
                   "notes": None, "created_at": now, "updated_at": now, "change_seq": 0} for i in range(ASSETS)]
    asset_ids = [a["id"] for a in asset_rows]
    for i in range(0, len(asset_rows), BATCH):
        with app.app_context(), unit_of_work() as session:
            bulk_insert(session, Asset.__table__, asset_rows[i:i + BATCH])
    part_rows = [{"id": uuid.uuid4(), "part_number": f"BP-{i:05d}", "name": f"备件 {i}", "description": None,
                  "is_approved": True, "unit_cost_minor": rng.randint(100, 500_000), "currency": "CNY",
                  "safety_stock": rng.randint(0, 20), "serial_tracked": False, "is_active": True,
                  "created_at": now, "updated_at": now, "change_seq": 0} for i in range(500)]
    with app.app_context(), unit_of_work() as session:
        bulk_insert(session, Part.__table__, part_rows)
        bulk_insert(session, StockBalance.__table__, [
            {"id": uuid.uuid4(), "part_id": p["id"], "location_id": loc, "on_hand": rng.randint(0, 40),
             "below_safety": False, "breach_no": 0, "created_at": now, "updated_at": now, "change_seq": 0}
            for p in part_rows for loc, _ in rng.sample(locations, 10)])

    made = 0
    started = time.perf_counter()
    while made < total_visits:
        orders, visits, surveys, complaints, movements = [], [], [], [], []
        while len(visits) < BATCH and made + len(visits) < total_visits:
            t = rng.randrange(TECHNICIANS)
            template = templates[t]
            start = YEAR_START + timedelta(minutes=rng.randrange(365 * 24 * 60 - 3 * 24 * 60))
            order, rows = _job_rows(rng, template, template.technician.id, start, 2 if rng.random() < 1 / 7 else 1, now,
                                    asset_ids)
            orders.append(order)
            visits.extend(rows)
            for v in rows:
                if v["status"] == "cancelled":
                    continue
                if rng.random() < 0.30:
                    rid = uuid.uuid4()
                    overall = rng.choices((5, 4, 3, 2, 1), (50, 37, 8, 3, 2))[0]
                    surveys.append({
                        "id": rid, "root_id": rid, "version_no": 1, "previous_version_id": None,
                        "kind": "satisfaction_survey", "status": "draft", "work_order_id": order["id"],
                        "visit_id": v["id"], "technician_id": v["technician_id"],
                        "content": {"ratings": {"response_time": overall, "attitude": overall, "quality": overall,
                                                "overall": overall}, "would_recommend": True, "comments": "好"},
                        "content_sha256": None, "signed_at": None, "created_by_id": None,
                        "created_at": v["departed_at"], "updated_at": v["departed_at"]})
                if rng.random() < 0.01:
                    received = v["departed_at"] + timedelta(hours=rng.randint(1, 72))
                    complaints.append({
                        "id": uuid.uuid4(), "number": f"CMP-B-{uuid.uuid4().hex[:16]}",
                        "customer_id": template.order.customer_id, "work_order_id": order["id"], "visit_id": v["id"],
                        "product_id": template.product.id, "technician_id": v["technician_id"], "channel": "phone",
                        "description": "投诉", "received_at": received, "status": "closed", "owner_user_id": None,
                        "response_due_at": received + timedelta(hours=24), "customer_unreachable_at": None,
                        "first_response_at": received + timedelta(hours=2), "overdue_notified_at": None,
                        "resolution": "ok", "resolved_at": received + timedelta(hours=20), "feedback": "ok",
                        "customer_satisfied": True, "closed_at": received + timedelta(hours=30),
                        "created_by_id": None, "version": 1, "created_at": received, "updated_at": received})
                if rng.random() < 0.2:
                    part = rng.choice(part_rows)
                    van_id = van_ids[t]
                    movements.append(_movement(part["id"], van_id, -rng.randint(1, 3), "issue", v["departed_at"],
                                               order["id"], v["technician_id"]))
                    movements.append(_movement(part["id"], van_id, rng.randint(1, 3), "transfer",
                                               v["departed_at"] - timedelta(days=1), None, None))
                    movements.append(_movement(part["id"], warehouse_id, rng.randint(1, 3), "receive",
                                               v["departed_at"] - timedelta(days=3), None, None))
        with app.app_context(), unit_of_work() as session:
            bulk_insert(session, WorkOrder.__table__, orders)
            bulk_insert(session, Visit.__table__, visits)
            bulk_insert(session, ServiceRecord.__table__, surveys)
            bulk_insert(session, Complaint.__table__, complaints)
            bulk_insert(session, StockMovement.__table__, movements)
        made += len(visits)
        print(f"  loaded {made:,} visits ({time.perf_counter() - started:.0f} s)", flush=True)
    with app.app_context(), unit_of_work() as session:
        # the repeat-repair fact as kpi/facts.py keeps it, for every asset at once (the migration's backfill)
        from fieldservice.kpi.facts import refresh_repeat_repairs

        started_facts = time.perf_counter()
        refresh_repeat_repairs(session, None)
        print(f"  repeat_repair_at for every signed repair: {time.perf_counter() - started_facts:.1f} s", flush=True)
    with app.app_context():
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
        # the generated first_time_fix must be what kpi/facts.py would have computed
        from fieldservice.kpi.facts import first_time_fix_value

        sample = sa.select(Visit.id).where(Visit.work_complete.is_(True)).limit(20_000).subquery()
        wrong = db.session.scalar(sa.select(sa.func.count()).select_from(Visit).where(
            Visit.id.in_(sa.select(sample.c.id)),
            sa.func.coalesce(Visit.first_time_fix, False) != sa.func.coalesce(first_time_fix_value(), False)))
        print(f"  first_time_fix: {wrong} of 20,000 sampled completing visits differ from the facts' rule")


def _movement(part_id: uuid.UUID, location_id: uuid.UUID, quantity: int, kind: str, at: datetime,
              order_id: uuid.UUID | None, tech_id: uuid.UUID | None) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "group_id": uuid.uuid4(), "kind": kind, "part_id": part_id,
            "location_id": location_id, "quantity": quantity, "work_order_id": order_id, "visit_id": None,
            "serial_numbers": None, "reason": None, "stock_count_id": None, "defective_return_id": None,
            "technician_id": tech_id, "actor_user_id": None, "occurred_at": at, "device_time": None,
            "received_at": None, "created_at": at, "updated_at": at, "change_seq": 0}


def _time(app: Any, stmt: sa.Select[Any], rounds: int = 3) -> tuple[float, int]:
    times = []
    rows = 0
    with app.app_context():
        for _ in range(rounds):
            kpi.tune_session()
            start = time.perf_counter()
            rows = len(db.session.execute(stmt).all())
            times.append(time.perf_counter() - start)
            db.session.rollback()
    return median(times), rows


def _plan(app: Any, stmt: sa.Select[Any]) -> str:
    with app.app_context():
        compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        kpi.tune_session()
        plan = db.session.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).scalars().all()
        db.session.rollback()
    return "\n".join(plan)


def bench(app: Any) -> dict[str, float]:
    with app.app_context():
        counts = {m.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(m))
                  for m in (Visit, WorkOrder, ServiceRecord, Complaint, StockMovement, StockBalance)}
        one_tech = db.session.scalar(sa.select(Visit.technician_id).limit(1))
    print("rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    ranges = {"month (2026-06)": (date(2026, 6, 1), date(2026, 6, 30)),
              "year (2026)": (date(2026, 1, 1), date(2026, 12, 31))}
    results: dict[str, float] = {}
    explain = os.environ.get("BENCH_EXPLAIN") == "1"
    for label, (start, end) in ranges.items():
        r = kpi.day_range(start, end, "Asia/Shanghai")
        for name, build in kpi.QUERIES.items():
            for who, tech in (("all technicians", None), ("one technician", one_tech)):
                stmt = build(r, tech)
                seconds, rows = _time(app, stmt)
                results[f"{label} {name} {who}"] = seconds
                flag = "" if seconds < 1 else "  <-- over 1 s"
                print(f"{label:16} {name:20} {who:15} {seconds * 1000:8.1f} ms ({rows} groups){flag}", flush=True)
                if explain or seconds >= 1:
                    print(_plan(app, stmt))
        with app.app_context():
            start_t = time.perf_counter()
            kpi.compute_kpis(start, end)
            whole = time.perf_counter() - start_t
        results[f"{label} whole report"] = whole
        print(f"{label:16} {'whole report (GET /api/v1/kpis)':52} {whole * 1000:8.1f} ms", flush=True)
    return results


def main(args: list[str]) -> None:
    total = int(os.environ.get("BENCH_VISITS", "1000000"))
    if args == ["queries"]:  # time the queries again on the database loaded by the last full run
        from bench.common import BASE_URL
        from fieldservice.config import normalise_database_url

        url = sa.make_url(normalise_database_url(BASE_URL)).set(database=os.environ.get("BENCH_DB", "kpi_bench")).render_as_string(False)
        bench(migrated_app(url))
        return
    url = fresh_database(os.environ.get("BENCH_DB", "kpi_bench"))
    app = migrated_app(url)
    started = time.perf_counter()
    load(app, total)
    print(f"loaded {total:,} visits in {time.perf_counter() - started:.0f} s")
    bench(app)


if __name__ == "__main__":
    main(sys.argv[1:])
