"""Sync benchmarks (issue 4). Prints figures; not a test. Needs the PostgreSQL server.

    .venv/bin/python -m bench.sync_bench            # all three parts
    .venv/bin/python -m bench.sync_bench ingest pull first load
Environment: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test; databases named
bench_sync_* are created on that server), BENCH_SECONDS (load test duration, default 60).
"""
from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import requests
import sqlalchemy as sa

from bench.common import fresh_database, median, migrated_app, percentile
from fieldservice.auth.service import SYSTEM
from fieldservice.changes import reserve_seqs
from fieldservice.db import bulk_insert, unit_of_work
from fieldservice.extensions import db
from fieldservice.visits import service as visits
from fieldservice.visits.models import Visit, WorkLog
from fieldservice.workorders.models import WorkOrder
from tests.factories import Factory

logging.disable(logging.INFO)
ROOT = Path(__file__).resolve().parent.parent


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def started_job(make: Factory, app: Any) -> Any:
    job = make.dispatched_job(start=datetime.now(UTC) - timedelta(hours=2))
    with app.app_context(), unit_of_work():
        visits.record_arrival(SYSTEM, job.visit.id)
    return job


def log_records(visit_id: Any, count: int, start: int = 0) -> list[dict[str, Any]]:
    when = ms(datetime.now(UTC) - timedelta(hours=1))
    return [{"id": str(uuid.uuid4()), "visit_id": str(visit_id), "technician_id": "", "started_at": when,
             "ended_at": None, "description": f"work {start + i}", "sync_status": "", "rejection_reason": "",
             "created_at": when, "updated_at": when, "_status": "created", "_changed": ""} for i in range(count)]


def push_body(records: list[dict[str, Any]]) -> str:
    return json.dumps({"changes": {"work_logs": {"created": records, "updated": [], "deleted": []}}})


# ---- 1. push ingest vs raw executemany -----------------------------------------------------------

def bench_ingest(total: int = 20_000, batch: int = 500, rounds: int = 3) -> dict[str, float]:
    """Push `total` new work logs in pushes of `batch`, and insert the same number of rows raw with
    executemany (batches of the same size, a commit per batch), alternating `rounds` times in one run;
    the ratio is taken from the medians, so that a noisy neighbour hits both sides alike."""
    url = fresh_database("bench_sync_ingest")
    app = migrated_app(url)
    make = Factory(app)
    job = started_job(make, app)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {make.token(job.technician.user_id)}"}
    push_times, raw_times = [], []
    for _ in range(rounds):
        batches = [log_records(job.visit.id, batch, i) for i in range(0, total, batch)]
        start = time.perf_counter()
        for records in batches:
            response = client.post("/api/v1/sync/push", data=push_body(records),
                                   headers={**auth, "Idempotency-Key": str(uuid.uuid4())})
            assert response.status_code == 200 and response.get_json()["accepted"] == batch, response.data[:300]
        push_times.append(time.perf_counter() - start)
        raw_rows = [[(uuid.uuid4(), job.visit.id, job.technician.id,
                      datetime.fromtimestamp(r["started_at"] / 1000, UTC), None, r["description"],
                      datetime.now(UTC), datetime.now(UTC), 0) for r in records] for records in batches]
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn, conn.cursor() as cur:
            start = time.perf_counter()
            for rows in raw_rows:
                cur.executemany("INSERT INTO work_logs (id, visit_id, technician_id, started_at, ended_at, "
                                "description, created_at, updated_at, change_seq) "
                                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
                conn.commit()
            raw_times.append(time.perf_counter() - start)
    with app.app_context():
        stored = db.session.scalar(sa.select(sa.func.count()).select_from(WorkLog))
    assert stored == 2 * total * rounds, stored
    push_s, raw_s = median(push_times), median(raw_times)
    result = {"push_records_per_s": total / push_s, "raw_records_per_s": total / raw_s, "ratio": push_s / raw_s}
    print(f"ingest: {total:,} work logs in pushes of {batch} (median of {rounds}): "
          f"{result['push_records_per_s']:,.0f} records/s; raw executemany {result['raw_records_per_s']:,.0f} rows/s; "
          f"push takes {result['ratio']:.2f}x the raw time (goal <= 4x); per round: "
          + ", ".join(f"{p / r:.2f}x" for p, r in zip(push_times, raw_times, strict=True)))
    return result


def job_rows(template: Any, technician_id: uuid.UUID, start: datetime, seq: Any, *, kind: str, order_status: str,
             visit_status: str, summary: str, logs: int, log_text: str, arrived: bool, minutes: int = 120
             ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """One work order, its visit and `logs` work logs as rows for bulk_insert, copying the customer, site and
    product of `template` (a dispatched_job); `seq` hands out change numbers reserved by the caller."""
    now = datetime.now(UTC)
    order_id, visit_id = uuid.uuid4(), uuid.uuid4()
    order = {"id": order_id, "number": f"WO-B-{uuid.uuid4().hex[:12]}", "kind": kind, "status": order_status,
             "priority": "normal", "customer_id": template.order.customer_id, "site_id": template.order.site_id,
             "asset_id": None, "product_id": template.product.id, "service_request_id": None, "summary": summary,
             "description": None, "cancel_reason": None, "status_changed_at": now, "created_by_id": None,
             "version": 1, "created_at": now, "updated_at": now, "change_seq": next(seq)}
    visit = {"id": visit_id, "work_order_id": order_id, "technician_id": technician_id, "status": visit_status,
             "scheduled_start": start, "scheduled_end": start + timedelta(minutes=minutes),
             "customer_confirmed": False, "customer_confirmed_at": None, "confirmation_note": None,
             "arrived_at": start if arrived else None, "departed_at": None, "work_complete": False, "notes": None,
             "cancel_reason": None, "time_flags": None, "version": 1, "created_at": now, "updated_at": now,
             "change_seq": next(seq)}
    work = [{"id": uuid.uuid4(), "visit_id": visit_id, "technician_id": technician_id, "started_at": start,
             "ended_at": None, "description": log_text, "created_at": now, "updated_at": now, "change_seq": next(seq)}
            for _ in range(logs)]
    return order, visit, work


def insert_job_rows(session: Any, rows: list[tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]]) -> None:
    bulk_insert(session, WorkOrder.__table__, [order for order, _, _ in rows])
    bulk_insert(session, Visit.__table__, [visit for _, visit, _ in rows])
    bulk_insert(session, WorkLog.__table__, [log for _, _, logs in rows for log in logs])


# ---- 2. incremental pull latency vs table size ---------------------------------------------------

def _fill(app: Any, make: Factory, target_rows: int) -> None:
    """Grow the synced tables to about `target_rows` rows with other technicians' work, shaped like real
    data (per work order: one visit and eight work logs), none of it in the measured technician's scope."""
    with app.app_context():
        current = sum(db.session.scalar(sa.select(sa.func.count()).select_from(m)) or 0
                      for m in (WorkOrder, Visit, WorkLog))
    others = [started_job(make, app) for _ in range(5)]
    remaining = max(target_rows - current, 0) // 10
    now = datetime.now(UTC)
    while remaining > 0:
        jobs = min(remaining, 5_000)
        with app.app_context(), unit_of_work() as session:
            base = reserve_seqs(session, jobs * 10)
            seq = iter(range(base + 1, base + jobs * 10 + 1))
            insert_job_rows(session, [
                job_rows(others[i % len(others)], others[i % len(others)].technician.id,
                         now - timedelta(days=i % 30), seq, kind="repair", order_status="in_progress",
                         visit_status="in_progress", summary="filler", logs=8, log_text="filler", arrived=True)
                for i in range(jobs)])
        remaining -= jobs
    with app.app_context():
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()


def _pull_latency(app: Any, job: Any, token: str, rounds: int = 7) -> float:
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    body = client.get("/api/v1/sync/pull?last_pulled_at=null&page_size=5000", headers=auth).get_json()
    cursor = body["timestamp"]
    timings = []
    for _ in range(rounds):
        with app.app_context(), unit_of_work():
            for i in range(100):
                visits.add_work_log(SYSTEM, job.visit.id, {"started_at": datetime.now(UTC), "description": f"new {i}"})
        start = time.perf_counter()
        body = client.get(f"/api/v1/sync/pull?last_pulled_at={cursor}", headers=auth).get_json()
        timings.append(time.perf_counter() - start)
        assert len(body["changes"]["work_logs"]["updated"]) == 100, len(body["changes"]["work_logs"]["updated"])
        cursor = body["timestamp"]
    return median(timings)


def bench_pull(small: int = 20_000, large: int = 500_000) -> dict[str, float]:
    url = fresh_database("bench_sync_pull")
    app = migrated_app(url)
    make = Factory(app)
    job = started_job(make, app)
    token = make.token(job.technician.user_id)
    _fill(app, make, small)
    at_small = _pull_latency(app, job, token)
    _fill(app, make, large)
    at_large = _pull_latency(app, job, token)
    result = {"pull_ms_small": at_small * 1000, "pull_ms_large": at_large * 1000, "ratio": at_large / at_small}
    print(f"incremental pull of 100 changes: {result['pull_ms_small']:.1f} ms with {small:,} rows, "
          f"{result['pull_ms_large']:.1f} ms with {large:,} rows: ratio {result['ratio']:.2f} (goal <= 1.5)")
    return result


# ---- 4. paged first sync of a technician with 50,000 records in scope ------------------------------

def bench_first_sync(visits_in_scope: int = 5_000, logs_per_visit: int = 8) -> dict[str, float]:
    """Pull everything in pages; report time, pages and the peak Python memory of the pulling process,
    for a 10x smaller scope too (peak memory must follow the page size, not the scope)."""
    import tracemalloc

    url = fresh_database("bench_sync_first")
    app = migrated_app(url)
    make = Factory(app)
    job = started_job(make, app)
    token = make.token(job.technician.user_id)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}

    def grow(count: int) -> None:
        now = datetime.now(UTC)
        with app.app_context(), unit_of_work() as session:
            base = reserve_seqs(session, count * (2 + logs_per_visit))
            seq = iter(range(base + 1, base + count * (2 + logs_per_visit) + 1))
            insert_job_rows(session, [
                job_rows(job, job.technician.id, now + timedelta(minutes=10 * i % (12 * 24 * 60)), seq,
                         kind="maintenance", order_status="dispatched", visit_status="planned", summary=f"保养 {i}",
                         logs=logs_per_visit, log_text="earlier work", arrived=False, minutes=5)
                for i in range(count)])

    def first_sync() -> tuple[int, int, float, float]:
        tracemalloc.start()
        start = time.perf_counter()
        cursor: Any = "null"
        records = pages = 0
        while True:
            follow_up = "&continuation=true" if pages else ""
            body = client.get(f"/api/v1/sync/pull?last_pulled_at={cursor}{follow_up}", headers=auth).get_json()
            pages += 1
            records += sum(len(t["updated"]) for t in body["changes"].values())
            cursor = body["timestamp"]
            if not body["has_more"]:
                break
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        return records, pages, seconds, peak

    grow(visits_in_scope // 10)
    small = first_sync()
    with app.app_context(), unit_of_work():
        db.session.execute(sa.text("DELETE FROM sync_scope"))
    grow(visits_in_scope - visits_in_scope // 10)
    large = first_sync()
    result = {"records": large[0], "pages": large[1], "seconds": large[2], "peak_mib": large[3],
              "small_records": small[0], "small_peak_mib": small[3]}
    print(f"first sync: {large[0]:,} records in {large[1]} pages of <= 500 in {large[2]:.1f} s "
          f"({large[0] / large[2]:,.0f} records/s); peak Python memory of the pulling process {large[3]:.1f} MiB "
          f"(vs {small[3]:.1f} MiB for {small[0]:,} records)")
    return result


# ---- 3. 20 technicians against gunicorn ----------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_load(technicians: int = 20, seconds: float | None = None, workers: int = 4) -> dict[str, float]:
    seconds = seconds or float(os.environ.get("BENCH_SECONDS", "60"))
    url = fresh_database("bench_sync_load")
    app = migrated_app(url)
    make = Factory(app)
    jobs = [started_job(make, app) for _ in range(technicians)]
    tokens = [make.token(job.technician.user_id, ttl=timedelta(hours=2)) for job in jobs]
    port = _free_port()
    env = {**os.environ, "FIELDSERVICE_ENV": "production", "DATABASE_URL": url, "SECRET_KEY": "bench",
           "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
                               f"127.0.0.1:{port}", "--log-level", "warning", "wsgi:app"], cwd=ROOT, env=env,
                              start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if requests.get(f"{base}/readyz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        latencies: list[float] = []
        pushed: list[set[str]] = [set() for _ in jobs]
        errors: list[str] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def technician(n: int) -> None:
            http = requests.Session()
            auth = {"Authorization": f"Bearer {tokens[n]}"}
            cursor: Any = "null"
            while time.monotonic() < stop_at:
                while True:
                    t = time.perf_counter()
                    response = http.get(f"{base}/api/v1/sync/pull?last_pulled_at={cursor}", headers=auth, timeout=30)
                    elapsed = time.perf_counter() - t
                    if response.status_code != 200:
                        errors.append(f"pull {response.status_code} {response.text[:200]}")
                        return
                    body = response.json()
                    cursor = body["timestamp"]
                    with lock:
                        latencies.append(elapsed)
                    if not body["has_more"]:
                        break
                records = log_records(jobs[n].visit.id, 5)
                t = time.perf_counter()
                response = http.post(f"{base}/api/v1/sync/push?last_pulled_at={cursor}", data=push_body(records),
                                     headers={**auth, "Idempotency-Key": str(uuid.uuid4())}, timeout=30)
                elapsed = time.perf_counter() - t
                if response.status_code != 200 or response.json()["accepted"] != 5:
                    errors.append(f"push {response.status_code} {response.text[:200]}")
                    return
                with lock:
                    latencies.append(elapsed)
                pushed[n].update(r["id"] for r in records)

        threads = [threading.Thread(target=technician, args=(n,)) for n in range(technicians)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        assert not errors, errors[:5]
        # nothing lost, nothing duplicated: the server has exactly the pushed logs, and a fresh device of
        # each technician pulls exactly its own
        with app.app_context():
            stored = {str(i) for i in db.session.scalars(sa.select(WorkLog.id))}
        expected = set().union(*pushed)
        lost, extra = expected - stored, stored - expected
        mismatched = 0
        for n in range(len(jobs)):
            seen: list[str] = []
            cursor = "null"
            while True:
                body = requests.get(f"{base}/api/v1/sync/pull?last_pulled_at={cursor}&page_size=5000",
                                    headers={"Authorization": f"Bearer {tokens[n]}"}, timeout=60).json()
                seen += [r["id"] for r in body["changes"]["work_logs"]["updated"]]
                cursor = body["timestamp"]
                if not body["has_more"]:
                    break
            if sorted(seen) != sorted(pushed[n]):
                mismatched += 1
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    result = {"requests_per_s": len(latencies) / wall, "p95_ms": percentile(latencies, 95) * 1000,
              "p50_ms": percentile(latencies, 50) * 1000, "records": len(expected), "lost": len(lost),
              "unexpected": len(extra), "devices_mismatched": mismatched}
    print(f"load: {technicians} technicians x {seconds:.0f} s against gunicorn ({workers} workers): "
          f"{result['requests_per_s']:.0f} requests/s, p50 {result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms; "
          f"{len(expected)} work logs pushed, {len(lost)} lost, {len(extra)} unexpected, "
          f"{mismatched} devices with a wrong set")
    return result


def main(parts: list[str]) -> None:
    parts = parts or ["ingest", "pull", "first", "load"]
    for part in parts:
        {"ingest": bench_ingest, "pull": bench_pull, "first": bench_first_sync, "load": bench_load}[part]()


if __name__ == "__main__":
    main(sys.argv[1:])
