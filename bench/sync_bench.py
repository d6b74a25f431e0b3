"""Sync benchmarks (issues 4 and 13). Prints figures; never asserts timings; not a test. Needs PostgreSQL.

    .venv/bin/python -m bench.sync_bench --part push --part scale --part load      # issue 13's figures
    .venv/bin/python -m bench.sync_bench --part scale --sizes 20000,200000         # a quicker scale run
    .venv/bin/python -m bench.sync_bench first                                     # issue 4's memory check

Parts:
  push   one client pushes 20,000 work logs (~200-character notes, --note-chars) in batches of 500 over HTTP
         (gunicorn), against a raw executemany INSERT of the same rows, batch by batch in turn; then 4 clients
         at once vs one, in the same round. Each phone pulls first (WatermelonDB's synchronize() does), so its
         pushes also write the new logs' scope membership, and pushes with its cursor. Both sides build their
         input before the clock starts (the push's bodies are JSON as JSON.stringify makes it, the insert's
         rows tuples); the push's time is sending them and the server's answers. (`ingest` is the same part.)
  scale  ONE technician's scope grows (--sizes, default 20k, 200k, 1M work logs in scope, and as many in
         other technicians' scopes): the first pull (first page, which builds the scope, timed alone; then
         pages of 1,000) and the incremental pull of 100 changes pushed by that technician (median, p95 over
         --reps). Prints the largest/smallest latency ratio. (`pull` is the same part.)
  load   --technicians (200) simulated phones against gunicorn (gunicorn.conf.py, production config): each
         pulls every --interval seconds (jittered) and pushes a small batch of new work logs, for --seconds;
         requests/s, p50/p95/max per kind, errors, lost and duplicated records (defined in bench_load).
  first  issue 4's paged first sync of 50,000 records and the puller's peak memory (in-process).

The bench relies only on the HTTP API, the factories/services for technicians, work orders and visits, and
the migrations: large scopes are work logs bulk-inserted (INSERT ... SELECT generate_series) with the
`change_seq` column's default (or 0), and the app builds the technician's scope on its first pull. So the
same script runs against older and newer code: `PYTHONPATH=<other worktree> .venv/bin/python
bench/sync_bench.py ...` starts gunicorn from the worktree the `fieldservice` package is imported from.

Every HTTP request has a timeout (--timeout, also gunicorn's worker timeout); a failure is recorded as the
figure (HTTP status, `timeout` or `connection` when the worker was killed) and the bench goes on. After a
failure, queries still running on the bench database are terminated so the next measurement is not slowed.

Environment: BENCH_DATABASE_URL (the server; default postgresql://postgres@127.0.0.1:5432/test, which is
never written: each part drops and creates its own database named <--db>_<part>, default bench_sync_<part>).
"""
from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import requests

from bench.common import fresh_database, median, migrated_app, percentile
from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.visits import service as visits
from fieldservice.visits.models import Visit, WorkLog
from fieldservice.workorders.models import WorkOrder
from tests.factories import Factory

logging.disable(logging.INFO)


def app_root() -> Path:
    """The worktree the app code is imported from (gunicorn must run that code, not this file's)."""
    import fieldservice

    return Path(fieldservice.__file__).resolve().parent.parent


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def started_job(make: Factory, app: Any, technician: Any = None) -> Any:
    job = make.dispatched_job(start=datetime.now(UTC) - timedelta(hours=2), technician=technician)
    with app.app_context(), unit_of_work():
        visits.record_arrival(SYSTEM, job.visit.id)
    return job


NOTE = "检查电机与控制板，更换磨损轴承，清洁滤网并测试运行参数；客户在场确认。"  # a technician's note, in Chinese


def log_records(visit_id: Any, count: int, start: int = 0, text: str = "work", note_chars: int = 0
                ) -> list[dict[str, Any]]:
    """`count` new work logs as a phone pushes them; `note_chars`: descriptions padded to that many
    characters (the issue's workload: ~200-character notes), else short ones."""
    when = ms(datetime.now(UTC) - timedelta(hours=1))
    filler = NOTE * (note_chars // len(NOTE) + 1)

    def note(i: int) -> str:
        head = f"{text} {start + i}"
        return head if len(head) >= note_chars else f"{head} {filler}"[:note_chars]

    return [{"id": str(uuid.uuid4()), "visit_id": str(visit_id), "technician_id": "", "started_at": when,
             "ended_at": None, "description": note(i), "sync_status": "", "rejection_reason": "",
             "created_at": when, "updated_at": when, "_status": "created", "_changed": ""} for i in range(count)]


def push_body(records: list[dict[str, Any]]) -> bytes:
    """The body a phone sends: WatermelonDB's `JSON.stringify`, UTF-8 with no escapes of Chinese text (a
    200-character note is ~600 bytes, not the 1,200 of `\\uXXXX` escapes)."""
    return json.dumps({"changes": {"work_logs": {"created": records, "updated": [], "deleted": []}}},
                      ensure_ascii=False).encode()


def upserts(body: dict[str, Any], table: str | None = None) -> list[dict[str, Any]]:
    """The records a pull delivers as created or updated (all tables, or one)."""
    tables = [body["changes"].get(table, {})] if table else list(body["changes"].values())
    return [r for t in tables for r in t.get("created", []) + t.get("updated", [])]


def fmt_ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:,.1f} ms"


# ---- the server ----------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def production_env(url: str, media: Path, **extra: str) -> dict[str, str]:
    """tests/processes.py's complete production configuration where the code has it (older code: the same
    variables written here)."""
    secret = "bench-secret-key-0123456789abcdef0123456789"
    try:
        from tests.processes import production_env as from_tests
    except ImportError:
        return {**os.environ, "FIELDSERVICE_ENV": "production", "SECRET_KEY": secret, "DATABASE_URL": url,
                "MEDIA_ROOT": str(media), "FLASK_APP": "wsgi", "PUBLIC_BASE_URL": "https://service.example.com",
                "ARCHIVE_HMAC_KEY": "process-test-archive-hmac-key-0123456789", "RATELIMIT_STORAGE_URI": "memory://",
                "ARCHIVE_ANCHOR_DIR": str(media / "anchors"), **extra}
    return from_tests(secret=secret, database_url=url, media=media, **extra)


def prebuild_scopes(url: str) -> float:
    """`flask sync rebuild-scopes` for every technician, as a process with the production configuration and no
    statement timeout (a one-off operator command). Returns seconds."""
    root = app_root()
    with tempfile.TemporaryDirectory(prefix="bench-rebuild-") as tmp:
        env = production_env(url, Path(tmp), DB_STATEMENT_TIMEOUT_MS="0", LOG_LEVEL="WARNING",
                             PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "flask", "sync", "rebuild-scopes"], cwd=root, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        return time.perf_counter() - t0


@contextmanager
def gunicorn(url: str, *, workers: int | None, timeout: int) -> Iterator[str]:
    """gunicorn with the project's gunicorn.conf.py in production mode on `url`; yields the base URL.
    `workers` None: the config's own default (2 x cores + 1, at most 8)."""
    root = app_root()
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="bench-gunicorn-") as tmp:
        media = Path(tmp) / "media"
        media.mkdir()
        env = production_env(url, media, GUNICORN_BIND=f"127.0.0.1:{port}", GUNICORN_TIMEOUT=str(timeout),
                             GUNICORN_ACCESS_LOG=str(Path(tmp) / "access.log"), LOG_LEVEL="WARNING",
                             PROMETHEUS_MULTIPROC_DIR=str(Path(tmp) / "metrics"),
                             PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
        if workers:
            env["GUNICORN_WORKERS"] = str(workers)
        log_path = Path(tmp) / "gunicorn.log"
        with open(log_path, "wb") as log_file:
            server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(root / "gunicorn.conf.py"),
                                       "wsgi:app"], cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if requests.get(f"{base}/readyz", timeout=5).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if server.poll() is not None:
                    raise RuntimeError("gunicorn exited:\n" + log_path.read_text()[-3000:])
                time.sleep(0.2)
            yield base
        finally:
            if server.poll() is None:
                os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            killed = log_path.read_text(errors="replace").count("WORKER TIMEOUT")
            if killed:
                print(f"  (gunicorn log: {killed} worker(s) killed by the {timeout} s worker timeout)")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (from /proc), in seconds (0 for one that is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def gunicorn_workers(port: int) -> list[int]:
    """The worker processes of the gunicorn bound to `port` (found by GUNICORN_BIND in their environment)."""
    mine: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"GUNICORN_BIND=127.0.0.1:{port}".encode() not in (entry / "environ").read_bytes():
                continue
            mine[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
    return [pid for pid, parent in mine.items() if parent in mine]


def backends(url: str) -> list[int]:
    """The PostgreSQL server processes serving the bench database (the workers' pooled connections)."""
    with psycopg.connect(plain_url(url)) as conn:
        return [pid for (pid,) in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                               "AND pid <> pg_backend_pid()")]


def _machine_busy() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine since boot, from /proc/stat."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(ticks) - idle) / hz, sum(ticks) / hz


class CpuMeter:
    """Where the CPU went during a run: this process (the bench's simulated phones), gunicorn's workers, the
    bench database's PostgreSQL backends, and the whole machine's busy share (other processes included).
    Processes that start during the run count from zero; a worker that exits (max_requests) takes its share
    with it, so gunicorn's figure is a lower bound."""

    def __init__(self, url: str, base: str) -> None:
        self.url, self.port = url, int(base.rsplit(":", 1)[1])

    def _sample(self) -> dict[str, Any]:
        workers, pg = gunicorn_workers(self.port), backends(self.url)
        times = os.times()
        return {"client": times.user + times.system, "gunicorn": {p: cpu_seconds(p) for p in workers},
                "postgres": {p: cpu_seconds(p) for p in pg}, "machine": _machine_busy(), "wall": time.perf_counter()}

    def __enter__(self) -> CpuMeter:
        self.before = self._sample()
        return self

    def __exit__(self, *exc: object) -> None:
        after, before = self._sample(), self.before
        self.wall = after["wall"] - before["wall"]
        self.seconds = {"phones (this process)": after["client"] - before["client"]}
        for group in ("gunicorn", "postgres"):
            self.seconds[group] = sum(v - before[group].get(p, 0.0) for p, v in after[group].items())
        busy, total = (a - b for a, b in zip(after["machine"], before["machine"], strict=True))
        self.machine_busy = busy / total if total else 0.0

    def row(self) -> list[str]:
        """A table row: CPU seconds per group and as cores (seconds / wall), and the machine's busy share."""
        return ["CPU during the run: seconds (cores)", ", ".join(
            f"{name} {secs:.0f} s ({secs / self.wall:.2f})" for name, secs in self.seconds.items())
            + f"; machine busy {self.machine_busy:.0%} of {os.cpu_count()} cores"]


class CpuClock:
    """The CPU seconds of everything a push runs in: this process (the bench's phones), gunicorn's workers and
    the bench database's PostgreSQL backends, read from /proc. The processes are found once (`CpuClock(...)`
    between timed parts: finding them reads every process's environment); `read()` is cheap enough to take
    around each request."""

    def __init__(self, url: str, base: str) -> None:
        self.pids = gunicorn_workers(int(base.rsplit(":", 1)[1])) + backends(url)

    def read(self) -> float:
        times = os.times()
        return times.user + times.system + sum(cpu_seconds(pid) for pid in self.pids)


def terminate_runaways(url: str) -> int:
    """End the queries still running on the bench database (a killed worker's query goes on in PostgreSQL)."""
    with psycopg.connect(plain_url(url), autocommit=True) as conn:
        return len(conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state <> 'idle'").fetchall())


class Http:
    """One phone's HTTP client: every request with a timeout; failures come back as a short reason."""

    def __init__(self, base: str, token: str, timeout: float) -> None:
        # a little longer than gunicorn's worker timeout, so that a killed worker shows as such
        self.base, self.timeout = base, timeout + 5
        self.session = requests.Session()
        self.auth = {"Authorization": f"Bearer {token}"}

    def pull(self, cursor: Any, *, page_size: int | None = None, continuation: bool = False
             ) -> tuple[dict[str, Any] | None, str, float]:
        query = f"last_pulled_at={cursor}&schema_version=1"
        query += f"&page_size={page_size}" if page_size else ""
        query += "&continuation=true" if continuation else ""
        return self._call("GET", f"/api/v1/sync/pull?{query}")

    def push(self, cursor: Any, records: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str, float]:
        return self.push_prepared(cursor, push_body(records))

    def push_prepared(self, cursor: Any, data: bytes) -> tuple[dict[str, Any] | None, str, float]:
        """A push of a body already encoded (push_body)."""
        return self._call("POST", f"/api/v1/sync/push?last_pulled_at={cursor}", data=data,
                          headers={"Idempotency-Key": str(uuid.uuid4()), "Content-Type": "application/json"})

    def _call(self, method: str, path: str, *, data: bytes | None = None, headers: dict[str, str] | None = None
              ) -> tuple[dict[str, Any] | None, str, float]:
        start = time.perf_counter()
        try:
            response = self.session.request(method, self.base + path, data=data, timeout=self.timeout,
                                            headers={**self.auth, **(headers or {})})
        except requests.Timeout:
            return None, "timeout", time.perf_counter() - start
        except requests.ConnectionError:
            return None, "connection closed (worker killed?)", time.perf_counter() - start
        elapsed = time.perf_counter() - start
        if response.status_code != 200:
            return None, f"HTTP {response.status_code}", elapsed
        return response.json(), "ok", elapsed


def first_pull(http: Http) -> Any:
    """A phone's first sync: every page of its pull. Returns the cursor it ends with."""
    cursor: Any = "null"
    while True:
        body, status, _ = http.pull(cursor)
        if body is None:
            raise SystemExit(f"a first pull failed: {status}")
        cursor = body["timestamp"]
        if not body["has_more"]:
            return cursor


# ---- bulk work logs (no app internals: the column default for change_seq) --------------------------

def bulk_work_logs(url: str, technician_id: uuid.UUID, visit_ids: list[uuid.UUID], count: int,
                   chunk: int = 200_000) -> float:
    """Insert `count` work logs (~200-character notes) spread over `visit_ids`, in INSERT ... SELECT
    generate_series statements of `chunk` rows. `change_seq` gets its column default (0 if it has none):
    the app numbers nothing here and builds the scope on the technician's first pull. Returns seconds."""
    start = time.perf_counter()
    with psycopg.connect(plain_url(url)) as conn:
        columns = {name: (nullable == "YES", default) for name, nullable, default in conn.execute(
            "SELECT column_name, is_nullable, column_default FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'work_logs'")}
        values = {"id": "gen_random_uuid()", "visit_id": "(%(visits)s::uuid[])[1 + i %% %(n_visits)s]",
                  "technician_id": "%(tech)s::uuid", "started_at": "now() - interval '1 hour'",
                  "description": "'bench log ' || i || ' ' || repeat(md5(i::text), 6)",
                  "created_at": "now()", "updated_at": "now()"}
        if "change_seq" in columns and columns["change_seq"][1] is None:
            values["change_seq"] = "0"
        missing = [name for name, (nullable, default) in columns.items()
                   if not nullable and default is None and name not in values]
        if missing:
            raise SystemExit(f"work_logs has required columns this bench does not fill: {missing}")
        sql = (f"INSERT INTO work_logs ({', '.join(values)}) SELECT {', '.join(values.values())} "
               "FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS i")
        for lo in range(0, count, chunk):
            conn.execute(sql, {"visits": [str(v) for v in visit_ids], "n_visits": len(visit_ids),
                               "tech": str(technician_id), "lo": lo, "hi": min(lo + chunk, count) - 1})
            conn.commit()
    return time.perf_counter() - start


class RawInsert:
    """The same rows as a push, with a plain executemany INSERT and a commit per batch, on one connection."""

    def __init__(self, url: str, technician_id: uuid.UUID, visit_id: uuid.UUID) -> None:
        self.conn = psycopg.connect(plain_url(url))
        self.technician_id, self.visit_id = technician_id, visit_id
        has_default = self.conn.execute("SELECT column_default IS NOT NULL FROM information_schema.columns WHERE "
                                        "table_schema = current_schema() AND table_name = 'work_logs' AND "
                                        "column_name = 'change_seq'").fetchone()[0]
        seq_col, seq_val = ("", "") if has_default else (", change_seq", ", 0")
        self.sql = (f"INSERT INTO work_logs (id, visit_id, technician_id, started_at, ended_at, description, "
                    f"created_at, updated_at{seq_col}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s{seq_val})")

    def rows(self, records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        """The records as the insert's rows (new ids: the pushed ones are stored), built before the clock starts."""
        now = datetime.now(UTC)
        return [(uuid.uuid4(), self.visit_id, self.technician_id, datetime.fromtimestamp(r["started_at"] / 1000, UTC),
                 None, r["description"], now, now) for r in records]

    def insert(self, rows: list[tuple[Any, ...]]) -> float:
        """Seconds to insert and commit one batch."""
        start = time.perf_counter()
        with self.conn.cursor() as cur:
            cur.executemany(self.sql, rows)
        self.conn.commit()
        return time.perf_counter() - start

    def close(self) -> None:
        self.conn.close()


# ---- push: one client vs raw executemany, 4 clients vs one ------------------------------------------

def bench_push(opts: argparse.Namespace) -> dict[str, Any]:
    """One client pushes `total` new work logs in pushes of `batch` over HTTP and the same rows go in with a
    raw executemany (a commit per batch), batch by batch in turn: push a batch, insert it raw, push the next,
    so both sides see the same state of a shared machine; a round's ratio is the sum of its push times over
    the sum of its raw times. Each round then has `clients` clients push `total` each at once (each its own
    technician and visit), and its aggregate records/s is compared with that round's one client. Figures are
    medians over `rounds`."""
    total, batch, rounds, clients = opts.push_records, opts.push_batch, opts.rounds, opts.clients
    url = fresh_database(f"{opts.db}_push")
    app = migrated_app(url)
    make = Factory(app)
    jobs = [started_job(make, app) for _ in range(clients)]
    tokens = [make.token(job.technician.user_id, ttl=timedelta(hours=4)) for job in jobs]
    one, raw, many, failures = [], [], [], Counter()
    # CPU seconds (client, gunicorn, PostgreSQL) of each round's one-client pushes and of its N clients
    one_cpu: list[float] = []
    many_cpu: list[float] = []
    # as WatermelonDB's synchronize() does, a phone pulls before it pushes: its scope is built, so each push also
    # makes its new logs members of it (sync_scope rows), and it pushes with its cursor, which is checked
    cursors: list[Any] = ["null"] * clients

    def records(n: int) -> list[list[dict[str, Any]]]:
        return [log_records(jobs[n].visit.id, batch, lo, note_chars=opts.note_chars) for lo in range(0, total, batch)]

    def push_one(http: Http, n: int, data: bytes) -> float:
        body, status, elapsed = http.push_prepared(cursors[n], data)
        if body is None or body.get("accepted") != batch:
            failures[status if body is None else f"accepted {body.get('accepted')}"] += 1
        return elapsed

    def push_all(n: int, seconds: list[float], prepared: list[bytes]) -> None:
        http = Http(base, tokens[n], opts.timeout)
        for data in prepared:
            push_one(http, n, data)
        seconds.append(time.perf_counter() - started)

    with gunicorn(url, workers=opts.workers, timeout=opts.timeout) as base:
        for n in range(clients):  # not timed: each phone syncs first, and every worker has served a push
            cursors[n] = first_pull(Http(base, tokens[n], opts.timeout))
            for _ in range(3):
                Http(base, tokens[n], opts.timeout).push(cursors[n], log_records(jobs[n].visit.id, 50, text="warm-up"))
        inserter = RawInsert(url, jobs[0].technician.id, jobs[0].visit.id)
        try:
            for _ in range(rounds):
                # both sides' input built and encoded before the clock starts: the timed part is sending it
                batches = records(0)
                pairs = [(push_body(push), inserter.rows(push)) for push in batches]
                http, pushed, inserted, cpu = Http(base, tokens[0], opts.timeout), 0.0, 0.0, 0.0
                clock = CpuClock(url, base)
                for data, rows in pairs:
                    cpu_before = clock.read()
                    pushed += push_one(http, 0, data)
                    cpu += clock.read() - cpu_before
                    inserted += inserter.insert(rows)
                one.append(pushed)
                one_cpu.append(cpu)
                raw.append(inserted)
                done: list[float] = []
                prepared = [[push_body(push) for push in records(n)] for n in range(clients)]
                threads = [threading.Thread(target=push_all, args=(n, done, prepared[n])) for n in range(clients)]
                clock = CpuClock(url, base)
                cpu_before = clock.read()
                started = time.perf_counter()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                many.append(max(done))
                many_cpu.append(clock.read() - cpu_before)
        finally:
            inserter.close()
    if failures:
        terminate_runaways(url)
    ratios = [p / r for p, r in zip(one, raw, strict=True)]
    scaling = [(clients * total / m) / (total / o) for o, m in zip(one, many, strict=True)]
    # the scaling decomposed (an identity): N clients / one = (cores busy with N / with one) x (CPU per push alone /
    # CPU per push with N). One client's pushes are a chain (client, worker, backend, each waiting on the next), so
    # it keeps about one core busy: the first factor is at most the machine's cores over that
    pushes = total / batch
    cpu_one = [c / pushes for c in one_cpu]
    cpu_many = [c / (clients * pushes) for c in many_cpu]
    cores_one = [c / w for c, w in zip(one_cpu, one, strict=True)]
    cores_many = [c / w for c, w in zip(many_cpu, many, strict=True)]
    result = {"one_rps": total / median(one), "raw_rps": total / median(raw), "ratio_raw": median(ratios),
              "many_rps": clients * total / median(many), "many_vs_one": median(scaling),
              "cpu_per_push": (median(cpu_one), median(cpu_many)), "cores": (median(cores_one), median(cores_many)),
              "failures": dict(failures)}
    table("push (work logs over HTTP, gunicorn, production config)", ["figure", "value"], [
        [f"one client, {total:,} records in pushes of {batch} (median of {rounds})",
         f"{result['one_rps']:,.0f} records/s"],
        [f"raw executemany, same rows, batches of {batch}, commit per batch", f"{result['raw_rps']:,.0f} rows/s"],
        ["push time / raw time, batch by batch in turn", f"{result['ratio_raw']:.2f}x (rounds: "
         + ", ".join(f"{r:.2f}x" for r in ratios) + ")"],
        [f"{clients} clients at once, {total:,} records each (median of {rounds})",
         f"{result['many_rps']:,.0f} records/s"],
        [f"{clients} clients / one client, same round", f"{result['many_vs_one']:.2f}x (rounds: "
         + ", ".join(f"{r:.2f}x" for r in scaling) + ")"],
        [f"CPU per push of {batch} (phones + gunicorn + PostgreSQL): one client / {clients} clients",
         f"{result['cpu_per_push'][0] * 1000:.1f} / {result['cpu_per_push'][1] * 1000:.1f} ms (rounds: "
         + ", ".join(f"{a * 1000:.1f} / {b * 1000:.1f}" for a, b in zip(cpu_one, cpu_many, strict=True)) + ")"],
        [f"cores busy with it: one client / {clients} clients (of {os.cpu_count()})",
         f"{result['cores'][0]:.2f} / {result['cores'][1]:.2f} (rounds: "
         + ", ".join(f"{a:.2f} / {b:.2f}" for a, b in zip(cores_one, cores_many, strict=True)) + ")"],
        ["failed pushes", ", ".join(f"{k}: {v}" for k, v in failures.items()) or "0"],
    ])
    return result


# ---- scale: one technician's scope grows -----------------------------------------------------------

def _technician_with_visits(make: Factory, app: Any, count: int) -> tuple[Any, list[uuid.UUID]]:
    """A technician with one visit under way now (pushes of work logs go there) and `count - 1` planned
    visits over the next days, all inside the sync window; made with the factories (the services)."""
    first = started_job(make, app)
    visit_ids = [first.visit.id]
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for i in range(1, count):
        visit_ids.append(make.dispatched_job(start=now + timedelta(hours=11 * i), technician=first.technician).visit.id)
    return first, visit_ids


def _first_pull(http: Http, page_size: int) -> dict[str, Any]:
    """The whole first pull: first page alone (it builds the scope), then pages with continuation=true."""
    out: dict[str, Any] = {"first_page_s": None, "page_times": [], "records": 0, "seconds": None,
                           "cursor": None, "failure": None}
    start = time.perf_counter()
    body, status, elapsed = http.pull("null", page_size=page_size)
    if body is None:
        out["failure"] = f"first page: {status} after {elapsed:.1f} s"
        return out
    out["first_page_s"], out["records"] = elapsed, len(upserts(body))
    while body["has_more"]:
        body, status, elapsed = http.pull(body["timestamp"], page_size=page_size, continuation=True)
        if body is None:
            out["failure"] = f"page {len(out['page_times']) + 2}: {status} after {elapsed:.1f} s"
            return out
        out["page_times"].append((elapsed, len(upserts(body))))
        out["records"] += len(upserts(body))
    out["seconds"], out["cursor"] = time.perf_counter() - start, body["timestamp"]
    return out


def _incremental(http: Http, visit_id: uuid.UUID, cursor: Any, reps: int, changes: int
                 ) -> tuple[list[float], list[float], Counter[str]]:
    """`reps` times: the technician pushes `changes` new work logs, then a pull from the cursor is timed; it
    must deliver exactly those (else counted as `wrong delivery`). Stops after two failures in a row."""
    pulls, pushes, problems = [], [], Counter()
    failed_in_row = 0
    for rep in range(reps):
        records = log_records(visit_id, changes, rep * changes, text="incremental")
        body, status, elapsed = http.push(cursor, records)
        if body is None or body.get("accepted") != changes:
            problems[f"push {status}"] += 1
        else:
            pushes.append(elapsed)
        body, status, elapsed = http.pull(cursor)
        if body is None:
            problems[f"pull {status} ({elapsed:.0f} s)"] += 1
            failed_in_row += 1
            if failed_in_row >= 2:
                problems["stopped after 2 failed pulls in a row"] += 1
                break
            continue
        failed_in_row = 0
        pulls.append(elapsed)
        got = {r["id"] for r in upserts(body, "work_logs")}
        if got != {r["id"] for r in records} or body["has_more"]:
            problems["wrong delivery"] += 1
        cursor = body["timestamp"]
    return pulls, pushes, problems


def bench_scale(opts: argparse.Namespace) -> dict[int, dict[str, Any]]:
    """For each size N: a fresh database; the measured technician with N work logs in scope (on --visits
    visits) and --others technicians with N between them; the others' first page (builds their scope);
    then the measured technician's first pull in pages of --page-size and the incremental pulls."""
    results: dict[int, dict[str, Any]] = {}
    for size in opts.sizes:
        print(f"scale: {size:,} rows in the technician's scope ...", flush=True)
        res: dict[str, Any] = {"size": size}
        results[size] = res
        url = fresh_database(f"{opts.db}_scale")
        app = migrated_app(url)
        make = Factory(app)
        t0 = time.perf_counter()
        job, visit_ids = _technician_with_visits(make, app, opts.visits)
        others = [_technician_with_visits(make, app, opts.visits) for _ in range(opts.others)]
        setup_s = time.perf_counter() - t0
        insert_s = bulk_work_logs(url, job.technician.id, visit_ids, size)
        for other, other_visits in others:
            insert_s += bulk_work_logs(url, other.technician.id, other_visits, size // max(opts.others, 1))
        with psycopg.connect(plain_url(url), autocommit=True) as conn:
            conn.execute("ANALYZE")
        print(f"  set-up: {1 + opts.others} technicians x {opts.visits} visits by the services in {setup_s:.0f} s; "
              f"{size * 2:,} work logs inserted in {insert_s:.0f} s", flush=True)
        token = make.token(job.technician.user_id, ttl=timedelta(hours=6))
        other_tokens = [make.token(o.technician.user_id, ttl=timedelta(hours=6)) for o, _ in others]
        if opts.prebuild:
            res["prebuild_s"] = prebuild_scopes(url)
            print(f"  scopes built by `flask sync rebuild-scopes` in {res['prebuild_s']:.1f} s", flush=True)
        with gunicorn(url, workers=opts.scale_workers, timeout=opts.timeout) as base:
            res["others"] = []
            for other_token in other_tokens:
                _, status, elapsed = Http(base, other_token, opts.timeout).pull("null", page_size=opts.page_size)
                res["others"].append(f"{status} {elapsed:.1f} s")
                if status != "ok":
                    terminate_runaways(url)
            http = Http(base, token, opts.timeout)
            first = _first_pull(http, opts.page_size)
            res["first"] = first
            if first["failure"]:
                terminate_runaways(url)
                res["incremental"] = None
            else:
                pulls, pushes, problems = _incremental(http, job.visit.id, first["cursor"], opts.reps, opts.changes)
                if problems:
                    terminate_runaways(url)
                res["incremental"] = {"pulls": pulls, "pushes": pushes, "problems": problems}
        _print_scale_size(res, opts)
    _print_scale(results, opts)
    return results


def _print_scale_size(res: dict[str, Any], opts: argparse.Namespace) -> None:
    first, inc = res["first"], res["incremental"]
    pages = first["page_times"]
    page_rates = [n / s for s, n in pages if n]
    print(f"  others' first page: {'; '.join(res['others'])}")
    print(f"  first page (builds the scope): {fmt_ms(first['first_page_s'])}; {len(pages)} more pages, median "
          f"{fmt_ms(median([s for s, _ in pages]) if pages else None)}; whole first pull "
          + (f"{first['records']:,} records in {first['seconds']:.1f} s" if first["seconds"] else f"FAILED: {first['failure']}"))
    if inc:
        print(f"  incremental pulls of {opts.changes}: {len(inc['pulls'])} ok, median {fmt_ms(median(inc['pulls']) if inc['pulls'] else None)}"
              f"; problems: {dict(inc['problems']) or 'none'}", flush=True)
    res["page_rate"] = median(page_rates) if page_rates else None


def _print_scale(results: dict[int, dict[str, Any]], opts: argparse.Namespace) -> None:
    rows = []
    for size, res in results.items():
        first, inc = res["first"], res["incremental"]
        pulls = inc["pulls"] if inc else []
        pushes = inc["pushes"] if inc else []
        failure = first["failure"] or ""
        if inc and inc["problems"]:
            failure = (failure + " " + ", ".join(f"{k} x{v}" for k, v in inc["problems"].items())).strip()
        rows.append([f"{size:,}",
                     fmt_ms(median(pulls)) if pulls else "-", fmt_ms(percentile(pulls, 95)) if pulls else "-",
                     f"{len(pulls)}/{opts.reps}",
                     fmt_ms(median(pushes)) if pushes else "-",
                     fmt_ms(first["first_page_s"]),
                     f"{res['page_rate']:,.0f}/s" if res.get("page_rate") else "-",
                     f"{first['records'] / first['seconds']:,.0f}/s ({first['seconds']:.0f} s)" if first["seconds"] else "-",
                     failure or "none"])
    table(f"scale: one technician's scope (work logs; as many again in {opts.others} other technicians' scopes)",
          ["rows in scope", f"incr. pull of {opts.changes} median", "p95", "ok", f"push of {opts.changes} median",
           "first page (builds scope)", f"page of {opts.page_size:,} rate (median)", "whole first pull",
           "failures"], rows)
    sizes = [s for s in results if results[s]["incremental"] and results[s]["incremental"]["pulls"]]
    if len(sizes) >= 2:
        lo, hi = min(sizes), max(sizes)
        ratio = median(results[hi]["incremental"]["pulls"]) / median(results[lo]["incremental"]["pulls"])
        print(f"incremental pull latency ratio {hi:,} / {lo:,} rows in scope: {ratio:.2f} (goal <= 1.2 for 1M / 20k)")
    elif len(opts.sizes) >= 2:
        print("incremental pull latency ratio: not measurable (the pull failed at the larger size)")


# ---- load: many technicians against gunicorn ----------------------------------------------------

def bench_load(opts: argparse.Namespace) -> dict[str, Any]:
    """--technicians phones, each with its own visit under way. First every phone's first sync, all at once
    (each starts within the first --interval seconds; their scopes are built then): measured on its own, as
    the fleet coming online. Then the steady load the goal is about: every --interval seconds (+-30 % jitter)
    a pull (all pages) and a push of --load-batch new work logs, for --seconds.

    Checked at the end, per technician:
      lost        a work log whose push was answered 200 (accepted) that is not in the database exactly once
                  (by id, and by its unique description);
      duplicated  a pushed work log that the technician's own later pulls (the pulls in the loop, plus one
                  final pull after the end) delivered more than once; the protocol delivers each change once,
                  and the pushed logs never change again, so each must come exactly once;
      missing     a pushed work log those pulls never delivered;
      unexpected  a work log delivered that this technician did not push (their visits hold no other);
      cursor      a pull whose `timestamp` is lower than the one before (the sequence must be monotonic);
      fresh device  a new phone of the technician (first pull, pages of 5000) must get exactly its logs.
    Records other than work logs (the visit, work order, ...) may legitimately come again when they change;
    their re-deliveries are counted, not judged."""
    url = fresh_database(f"{opts.db}_load")
    app = migrated_app(url)
    make = Factory(app)
    t0 = time.perf_counter()
    jobs = [started_job(make, app) for _ in range(opts.technicians)]
    tokens = [make.token(job.technician.user_id, ttl=timedelta(hours=4)) for job in jobs]
    print(f"load: {opts.technicians} technicians with a visit under way made by the services in "
          f"{time.perf_counter() - t0:.0f} s", flush=True)
    lock = threading.Lock()
    lat: dict[str, list[float]] = {"pull": [], "push": [], "first": []}
    errors: Counter[str] = Counter()
    acked: list[list[str]] = [[] for _ in jobs]        # ids whose push was answered 200
    unsure: list[list[str]] = [[] for _ in jobs]       # ids of pushes that failed (may or may not be stored)
    delivered: list[Counter[str]] = [Counter() for _ in jobs]
    other_deliveries = Counter()
    cursor_back = Counter()
    cursors: list[Any] = ["null" for _ in jobs]

    def pull_all(n: int, http: Http, record: str | None) -> bool:
        more = True
        while more:
            body, status, elapsed = http.pull(cursors[n])
            with lock:
                if record:
                    lat[record].append(elapsed)
                if body is None:
                    errors[f"pull {status}"] += 1
                    return False
            ts = body["timestamp"]
            if cursors[n] != "null" and ts < cursors[n]:
                cursor_back[n] += 1
            cursors[n] = ts
            delivered[n].update(r["id"] for r in upserts(body, "work_logs"))
            other_deliveries.update(r["id"] for t, lists in body["changes"].items() if t != "work_logs"
                                    for r in lists.get("created", []) + lists.get("updated", []))
            more = body["has_more"]
        return True

    def first_sync(n: int) -> None:
        time.sleep(random.Random(-n).uniform(0, opts.interval))
        pull_all(n, Http(base, tokens[n], opts.timeout), "first")

    def phone(n: int) -> None:
        rnd = random.Random(n)
        http = Http(base, tokens[n], opts.timeout)
        time.sleep(rnd.uniform(0, opts.interval))
        pushed = 0
        while time.monotonic() < stop_at:
            tick = time.monotonic()
            if pull_all(n, http, "pull"):
                records = log_records(jobs[n].visit.id, opts.load_batch, pushed, text=f"load {n}")
                pushed += opts.load_batch
                body, status, elapsed = http.push(cursors[n], records)
                with lock:
                    lat["push"].append(elapsed)
                    if body is not None and body.get("accepted") == len(records):
                        acked[n].extend(r["id"] for r in records)
                    else:
                        errors[f"push {status if body is None else 'accepted ' + str(body.get('accepted'))}"] += 1
                        unsure[n].extend(r["id"] for r in records)
            time.sleep(max(0.0, opts.interval * rnd.uniform(0.7, 1.3) - (time.monotonic() - tick)))

    with gunicorn(url, workers=opts.workers, timeout=opts.timeout) as base:
        start = time.perf_counter()
        threads = [threading.Thread(target=first_sync, args=(n,)) for n in range(len(jobs))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        online = time.perf_counter() - start
        stop_at = time.monotonic() + opts.seconds
        threads = [threading.Thread(target=phone, args=(n,)) for n in range(len(jobs))]
        start = time.perf_counter()
        with CpuMeter(url, base) as cpu:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        wall = time.perf_counter() - start
        if errors:
            terminate_runaways(url)
        # one last pull each, so every acknowledged push has had its later pull
        final_errors = 0
        for n in range(len(jobs)):
            if not pull_all(n, Http(base, tokens[n], opts.timeout * 2), None):
                final_errors += 1
        fresh_mismatch = 0
        for n in range(len(jobs)):
            http, cursor, seen = Http(base, tokens[n], opts.timeout * 2), "null", Counter()
            while True:
                body, _, _ = http.pull(cursor, page_size=5000)
                if body is None:
                    fresh_mismatch += 1
                    break
                seen.update(r["id"] for r in upserts(body, "work_logs"))
                cursor = body["timestamp"]
                if not body["has_more"]:
                    if set(seen) - set(unsure[n]) != set(acked[n]) or any(v > 1 for v in seen.values()):
                        fresh_mismatch += 1
                    break
    with psycopg.connect(plain_url(url)) as conn:
        stored = Counter(str(i) for (i,) in conn.execute("SELECT id FROM work_logs"))
        by_text = Counter(d for (d,) in conn.execute("SELECT description FROM work_logs WHERE description LIKE 'load %'"))
    all_acked = [i for ids in acked for i in ids]
    lost = sum(1 for i in all_acked if stored[i] != 1)
    stored_twice = sum(1 for c in by_text.values() if c > 1)
    duplicated = sum(1 for n in range(len(jobs)) for i in acked[n] if delivered[n][i] > 1)
    missing = sum(1 for n in range(len(jobs)) for i in acked[n] if delivered[n][i] == 0)
    unexpected = sum(1 for n in range(len(jobs)) for i in delivered[n] if i not in set(acked[n]) | set(unsure[n]))
    requests_n = len(lat["pull"]) + len(lat["push"])
    result = {"requests_per_s": requests_n / wall, "errors": dict(errors), "lost": lost, "duplicated": duplicated,
              "missing": missing, "unexpected": unexpected, "cursor_back": sum(cursor_back.values()),
              "fresh_mismatch": fresh_mismatch, "pushed": len(all_acked)}
    result["online_s"] = online
    for kind in ("pull", "push", "first"):
        values = lat[kind] or [0.0]
        result[kind] = {"n": len(lat[kind]), "p50": percentile(values, 50), "p95": percentile(values, 95),
                        "max": max(values)}
    table(f"load: {opts.technicians} technicians, pull every ~{opts.interval:g} s + push of {opts.load_batch} work "
          f"logs, {opts.seconds:g} s, gunicorn ({opts.workers or 'config default'} workers), PostgreSQL",
          ["figure", "value"], [
              [f"first syncs, all phones within {opts.interval:g} s: p50 / p95 / max ({result['first']['n']:,} pages)",
               f"{fmt_ms(result['first']['p50'])} / {fmt_ms(result['first']['p95'])} / {fmt_ms(result['first']['max'])}"
               f"; all phones synced after {online:.1f} s"],
              ["then the steady load: requests/s (pull pages + pushes)", f"{result['requests_per_s']:.1f} ({requests_n:,} in {wall:.0f} s)"],
              cpu.row(),
              *[[f"{k} latency p50 / p95 / max ({result[k]['n']:,} requests)",
                 f"{fmt_ms(result[k]['p50'])} / {fmt_ms(result[k]['p95'])} / {fmt_ms(result[k]['max'])}"]
                for k in ("pull", "push")],
              ["errors", ", ".join(f"{k}: {v}" for k, v in errors.items()) or "0"],
              ["work logs pushed and acknowledged", f"{len(all_acked):,}"],
              ["lost (acknowledged, not stored exactly once)", f"{lost} (descriptions stored twice: {stored_twice})"],
              ["duplicated (a pushed log delivered twice to its technician)", str(duplicated)],
              ["missing (a pushed log never delivered to its technician)", str(missing)],
              ["unexpected work logs delivered", str(unexpected)],
              ["cursor went backwards", str(result["cursor_back"])],
              ["fresh device with a wrong set of logs / final pulls failed", f"{fresh_mismatch} / {final_errors}"],
              ["other records delivered more than once (informational)",
               str(sum(1 for v in other_deliveries.values() if v > 1))],
          ])
    return result


# ---- first: issue 4's paged first sync (in-process) --------------------------------------------------

def job_rows(template: Any, technician_id: uuid.UUID, start: datetime, seq: Any, *, kind: str, order_status: str,
             visit_status: str, summary: str, logs: int, log_text: str, arrived: bool, minutes: int = 120
             ) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """One work order, its visit and `logs` work logs as rows for bulk_insert, copying the customer, site and
    product of `template` (a dispatched_job); `seq` hands out the change_seq values."""
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
    from fieldservice.db import bulk_insert

    bulk_insert(session, WorkOrder.__table__, [order for order, _, _ in rows])
    bulk_insert(session, Visit.__table__, [visit for _, visit, _ in rows])
    bulk_insert(session, WorkLog.__table__, [log for _, _, logs in rows for log in logs])


def bench_first_sync(opts: argparse.Namespace, visits_in_scope: int = 5_000, logs_per_visit: int = 8
                     ) -> dict[str, float]:
    """Pull everything in pages (in-process test client); report time, pages and the peak Python memory of
    the pulling process, for a technician with a 10x smaller scope too (memory must follow the page size).
    Rows are inserted with change_seq 0: the app's first pull puts them in the technician's scope."""
    import tracemalloc

    url = fresh_database(f"{opts.db}_first")
    app = migrated_app(url)
    make = Factory(app)
    client = app.test_client()

    def grow(job: Any, count: int) -> None:
        now = datetime.now(UTC)
        with app.app_context(), unit_of_work() as session:
            insert_job_rows(session, [
                job_rows(job, job.technician.id, now + timedelta(minutes=10 * i % (12 * 24 * 60)), itertools.repeat(0),
                         kind="maintenance", order_status="dispatched", visit_status="planned", summary=f"保养 {i}",
                         logs=logs_per_visit, log_text="earlier work", arrived=False, minutes=5)
                for i in range(count)])

    def first_sync(job: Any) -> tuple[int, int, float, float]:
        auth = {"Authorization": f"Bearer {make.token(job.technician.user_id)}"}
        tracemalloc.start()
        start = time.perf_counter()
        cursor: Any = "null"
        records = pages = 0
        while True:
            follow_up = "&continuation=true" if pages else ""
            body = client.get(f"/api/v1/sync/pull?last_pulled_at={cursor}{follow_up}", headers=auth).get_json()
            pages += 1
            records += len(upserts(body))
            cursor = body["timestamp"]
            if not body["has_more"]:
                break
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        return records, pages, seconds, peak

    small_job, large_job = started_job(make, app), started_job(make, app)
    grow(small_job, visits_in_scope // 10)
    grow(large_job, visits_in_scope)
    small, large = first_sync(small_job), first_sync(large_job)
    result = {"records": large[0], "pages": large[1], "seconds": large[2], "peak_mib": large[3],
              "small_records": small[0], "small_peak_mib": small[3]}
    print(f"first sync: {large[0]:,} records in {large[1]} pages of <= 500 in {large[2]:.1f} s "
          f"({large[0] / large[2]:,.0f} records/s); peak Python memory of the pulling process {large[3]:.1f} MiB "
          f"(vs {small[3]:.1f} MiB for {small[0]:,} records)")
    return result


# ---- output and command line -------------------------------------------------------------------------

def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """A plain text table (stable layout: one header, one line per row, columns padded)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n== {title}")
    for row in [header, ["-" * w for w in widths], *rows]:
        print(" | ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(flush=True)


PARTS = {"push": bench_push, "ingest": bench_push, "scale": bench_scale, "pull": bench_scale,
         "load": bench_load, "first": bench_first_sync}


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench.sync_bench", description=__doc__.split("\n")[0])
    p.add_argument("parts", nargs="*", help=f"parts to run (same as --part): {', '.join(PARTS)}")
    p.add_argument("--part", action="append", default=[], choices=list(PARTS))
    p.add_argument("--db", default=os.environ.get("BENCH_DB", "bench_sync"),
                   help="database name prefix on the BENCH_DATABASE_URL server (<db>_<part> is dropped and created)")
    p.add_argument("--timeout", type=int, default=30,
                   help="gunicorn worker timeout, s (each request's client timeout is 5 s longer)")
    p.add_argument("--workers", type=int, default=None, help="gunicorn workers for push/load (default: config's)")
    # scale
    p.add_argument("--sizes", default="20000,200000,1000000", help="rows in the technician's scope, comma-separated")
    p.add_argument("--reps", type=int, default=20, help="incremental pulls per size")
    p.add_argument("--changes", type=int, default=100, help="changes per incremental pull")
    p.add_argument("--page-size", type=int, default=1000, help="first-pull page size")
    p.add_argument("--visits", type=int, default=20, help="visits per technician in the scale part")
    p.add_argument("--others", type=int, default=2, help="other technicians sharing as many rows (scale)")
    p.add_argument("--prebuild", action="store_true",
                   help="scale: build the scopes with `flask sync rebuild-scopes` (what an operator runs after "
                        "upgrading, no statement timeout) before the first pulls, instead of in the first page")
    p.add_argument("--scale-workers", type=int, default=2, help="gunicorn workers in the scale part")
    # push
    p.add_argument("--push-records", type=int, default=20_000)
    p.add_argument("--push-batch", type=int, default=500)
    p.add_argument("--note-chars", type=int, default=200, help="push part: characters per work log description "
                   "(the issue's workload: ~200); 0: short ones, as before 2026-12-07")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--clients", type=int, default=4)
    # load
    p.add_argument("--technicians", type=int, default=200)
    p.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "60")))
    p.add_argument("--interval", type=float, default=5.0, help="seconds between one phone's syncs")
    p.add_argument("--load-batch", type=int, default=5, help="work logs per push in the load part")
    opts = p.parse_args(argv)
    if unknown := [part for part in opts.parts if part not in PARTS]:
        p.error(f"unknown part(s) {unknown}: choose from {', '.join(PARTS)}")
    opts.sizes = [int(s) for s in opts.sizes.split(",") if s.strip()]
    opts.run = list(dict.fromkeys(opts.parts + opts.part)) or ["push", "scale", "load"]
    return opts


def main(argv: list[str]) -> None:
    opts = parse(argv)
    print(f"sync bench: code from {app_root()}, parts {opts.run}, {os.cpu_count()} CPUs, "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC", flush=True)
    for part in opts.run:
        start = time.perf_counter()
        load_before = os.getloadavg()[0]
        PARTS[part](opts)
        print(f"[{part}: {time.perf_counter() - start:.0f} s; load average {load_before:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after (the machine is shared)]", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
