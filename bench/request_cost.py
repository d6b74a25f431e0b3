"""The fixed cost of one authenticated JSON API request (issue 13: every millisecond of CPU per request counts at
200 phones). Prints figures; never asserts timings; not a test. Needs PostgreSQL.

    .venv/bin/python -m bench.request_cost                 # HTTP (gunicorn, production config) and in-process
    .venv/bin/python -m bench.request_cost --part http --requests 500
    .venv/bin/python -m bench.request_cost --part profile  # cProfile of the in-process requests

One technician with a visit under way and --logs work logs. Two requests, each sent --requests times one
after the other by one client (so the latency is the server's work for one request, not queueing):
  me    GET /api/v1/auth/me (a cheap endpoint: authentication, hooks, the JSON answer)
  pull  GET /api/v1/sync/pull with the current cursor (an incremental pull with nothing new)
  push  POST /api/v1/sync/push of --push-batch new work logs (each push its own records and Idempotency-Key)
  repush  the same, pushed again under a new Idempotency-Key once stored (WatermelonDB after a lost answer)
http:      against gunicorn with gunicorn.conf.py in production mode (bench/sync_bench.py's `gunicorn()`), one
           worker; median and mean of the client's round trip, and the server's CPU per request (the gunicorn
           worker plus its PostgreSQL backend, read from /proc: far steadier than latency on a shared machine).
           To compare with other code: copy this file into the other tree's bench/ and run it from there with
           PYTHONPATH=<that tree> (gunicorn serves the tree `fieldservice` is imported from).
inproc:    the same requests through app.test_client() of an app with the production configuration (JSON logs,
           metrics, limiter, security headers); median time and SQL statements per request.
profile:   inproc under cProfile (cumulative and own time).
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

from bench.common import fresh_database, migrated_app
from bench.sync_bench import (
    backends,
    cpu_seconds,
    gunicorn,
    gunicorn_workers,
    log_records,
    production_env,
    push_body,
    started_job,
)
from tests.factories import Factory


def setup(opts: argparse.Namespace) -> tuple[str, str, Any]:
    url = fresh_database(f"{opts.db}_reqcost")
    app = migrated_app(url)
    make = Factory(app)
    job = started_job(make, app)
    token = make.token(job.technician.user_id, ttl=timedelta(hours=4))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    response = client.post("/api/v1/sync/push?last_pulled_at=null", data=push_body(log_records(job.visit.id, opts.logs)),
                           headers={**headers, "Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return url, token, job


def current_cursor(get: Any) -> str:
    cursor = "null"
    while True:
        body = get(f"/api/v1/sync/pull?last_pulled_at={cursor}&schema_version=1&page_size=5000")
        cursor = str(body["timestamp"])
        if not body["has_more"]:
            return cursor


def paths(cursor: str) -> dict[str, str]:
    return {"me": "/api/v1/auth/me", "pull": f"/api/v1/sync/pull?last_pulled_at={cursor}&schema_version=1"}


Request = tuple[str, str, "bytes | None", dict[str, str]]
"""method, path, body, extra headers"""


def request_kinds(opts: argparse.Namespace, cursor: str, visit_id: Any,
                  send: Callable[[Request], None]) -> dict[str, Callable[[], Request]]:
    """The requests to measure, by name (--kind). Each call gives the next request of that kind: the pushes'
    bodies (new work logs, --push-batch each) are made before any timing. `repush`: each call first pushes
    new logs with `send` (not timed), then gives the same body under a new Idempotency-Key, as WatermelonDB
    pushes again after a lost answer."""
    kinds: dict[str, Callable[[], Request]] = {
        name: (lambda p=path: ("GET", p, None, {})) for name, path in paths(cursor).items()}
    count = opts.warmup + opts.requests + 1

    def push(data: bytes) -> Request:
        return ("POST", "/api/v1/sync/push?last_pulled_at=null", data,
                {"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"})

    for kind in {"push", "repush"} & set(opts.kinds):
        bodies = iter([push_body(log_records(visit_id, opts.push_batch, n * opts.push_batch, text=kind))
                       for n in range(count)])
        if kind == "push":
            kinds["push"] = lambda bodies=bodies: push(next(bodies))
        else:
            def repush(bodies: Any = bodies) -> Request:
                data = next(bodies)
                send(push(data))  # stored first, untimed
                return push(data)
            kinds["repush"] = repush
    return {name: kinds[name] for name in opts.kinds}


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:6.2f} ms  mean {statistics.fmean(values) * 1000:6.2f} ms"


def bench_http(opts: argparse.Namespace, url: str, token: str, visit_id: Any) -> None:
    """Round trips of one client, and the CPU the server spent per request (the gunicorn worker and its
    PostgreSQL backend, from /proc): the CPU figure is what bounds requests/s on a busy machine, and is far
    less disturbed by other load than the latency."""
    with gunicorn(url, workers=opts.workers, timeout=60) as base:
        port = int(base.rsplit(":", 1)[1])
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"

        def get(path: str) -> Any:
            response = session.get(base + path, timeout=30)
            assert response.status_code == 200, (path, response.status_code, response.text[:300])
            return response.json()

        def send(request: Request) -> None:
            method, path, data, headers = request
            response = session.request(method, base + path, data=data, headers=headers, timeout=60)
            assert response.status_code == 200, (path, response.status_code, response.text[:300])

        kinds = request_kinds(opts, current_cursor(get), visit_id, send)
        workers = gunicorn_workers(port)
        for name, next_request in kinds.items():
            for _ in range(opts.warmup):
                send(next_request())
            pg_pids = backends(url)
            times, worker, database = [], 0.0, 0.0
            for _ in range(opts.requests):
                request = next_request()  # (a repush's first push is sent here: neither timed nor counted)
                worker_before = sum(cpu_seconds(pid) for pid in workers)
                db_before = sum(cpu_seconds(pid) for pid in pg_pids)
                start = time.perf_counter()
                send(request)
                times.append(time.perf_counter() - start)
                worker += sum(cpu_seconds(pid) for pid in workers) - worker_before
                database += sum(cpu_seconds(pid) for pid in pg_pids) - db_before
            worker, database = worker / opts.requests, database / opts.requests
            print(f"http   {name:5} {summary(times)}  server CPU/request {(worker + database) * 1000:5.2f} ms "
                  f"(gunicorn worker {worker * 1000:5.2f} + PostgreSQL {database * 1000:5.2f}; {opts.requests} requests)")


def production_app(url: str) -> Any:
    """An app built as gunicorn builds it (FIELDSERVICE_ENV=production and tests/processes.py's variables)."""
    from fieldservice import create_app

    media = Path(tempfile.mkdtemp(prefix="bench-reqcost-"))
    env = production_env(url, media, LOG_LEVEL=os.environ.get("LOG_LEVEL", "INFO"), LOG_FORMAT="json")
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        app = create_app()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    import logging

    root = logging.getLogger()
    for handler in list(root.handlers):  # the app's handler writes to nowhere (still formats); alembic's goes
        if getattr(handler, "_fieldservice", False):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115
        else:
            root.removeHandler(handler)
    if os.environ.get("GUNICORN_GC_FREEZE", "1") == "1":  # as gunicorn.conf.py's post_worker_init does
        import gc

        gc.collect()
        gc.freeze()
    return app


def bench_inproc(opts: argparse.Namespace, url: str, token: str, visit_id: Any, *, profile: bool) -> None:
    import logging

    from fieldservice.extensions import db

    logging.disable(logging.NOTSET)
    app = production_app(url)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    statements: list[str] = []
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))

    def get(path: str) -> Any:
        response = client.get(path, headers=headers)
        assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])
        return response.get_json()

    def send(request: Request) -> None:
        method, path, data, extra = request
        response = client.open(path, method=method, data=data, headers={**headers, **extra})
        assert response.status_code == 200, (path, response.status_code, response.get_data(as_text=True)[:300])

    for name, next_request in request_kinds(opts, current_cursor(get), visit_id, send).items():
        for _ in range(opts.warmup):
            send(next_request())
        request = next_request()  # (a repush's first push is sent here: not counted)
        statements.clear()
        send(request)
        count = len(statements)
        if opts.show_sql:
            for text in statements:
                print("   ", " ".join(text.split())[:160])
        profiler = cProfile.Profile() if profile else None
        times = []
        for _ in range(opts.requests):
            request = next_request()
            start = time.perf_counter()
            if profiler:
                profiler.enable()
            send(request)
            if profiler:
                profiler.disable()
            times.append(time.perf_counter() - start)
        print(f"inproc {name:5} {summary(times)}  {count} SQL statements per request")
        if profiler:
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.sort_stats("cumulative").print_stats(opts.top)
            stats.sort_stats("tottime").print_stats(opts.top)
            if os.environ.get("PROFILE_CALLERS"):
                stats.print_callers(os.environ["PROFILE_CALLERS"])
            print(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", default="bench_request", help="database name prefix (<db>_reqcost)")
    parser.add_argument("--part", action="append", choices=("http", "inproc", "profile"))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--logs", type=int, default=200, help="work logs in the technician's scope")
    parser.add_argument("--top", type=int, default=45, help="profile lines")
    parser.add_argument("--show-sql", action="store_true")
    parser.add_argument("--kind", dest="kinds", action="append", choices=("me", "pull", "push", "repush"),
                        help="requests to measure (default: me and pull)")
    parser.add_argument("--push-batch", type=int, default=500, help="new work logs per push (--kind push)")
    opts = parser.parse_args()
    parts = opts.part or ["http", "inproc"]
    opts.kinds = opts.kinds or ["me", "pull"]
    # metrics in multiprocess mode, as under gunicorn (prometheus_client decides when it is first imported)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="bench-reqcost-metrics-"))
    url, token, job = setup(opts)
    if "http" in parts:
        bench_http(opts, url, token, job.visit.id)
    if "inproc" in parts or "profile" in parts:
        bench_inproc(opts, url, token, job.visit.id, profile="profile" in parts)


if __name__ == "__main__":
    main()
