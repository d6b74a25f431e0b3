"""gunicorn settings for production (`gunicorn -c gunicorn.conf.py wsgi:app`); every value can be changed by
the environment variable named beside it. See docs/deploy.md for sizing."""
from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", str(min(2 * multiprocessing.cpu_count() + 1, 8))))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
# tus chunks and sync pushes of slow phones: long enough for a 20 MB push over a poor link, short enough that a
# stuck worker is replaced
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# a worker restarts after this many requests (bounded memory), staggered so they do not restart together
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "200"))
# behind a TLS-terminating proxy: trust its X-Forwarded-* (set FORWARDED_ALLOW_IPS to the proxy's address)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
preload_app = False  # each worker builds its own app, engine pool and S3 client after the fork (but the master
# imports the code first: on_starting below), so a code upgrade is a restart of gunicorn (a new container), not a HUP

# Logs to stdout/stderr (the container's log driver collects them). The access log is one JSON object per
# line with the request id the app echoes in X-Request-ID, so access and application lines join up.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
access_log_format = (
    '{"time": "%(t)s", "logger": "gunicorn.access", "remote": "%(h)s", "method": "%(m)s", "path": "%(U)s", '
    '"query": "%(q)s", "status": %(s)s, "bytes": "%(B)s", "duration_us": %(D)s, "user_agent": "%(a)s", '
    '"request_id": "%({x-request-id}o)s"}'
)

# Prometheus metrics summed over every worker (fieldservice/ops/metrics.py reads this directory at a scrape)
_metrics_dir = os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR",
                                     os.path.join(tempfile.gettempdir(), "fieldservice-metrics"))


def on_starting(server):  # noqa: ANN001, ANN201 - gunicorn hook
    """A fresh metrics directory per master start (stale files of dead workers would count forever); then the
    application's modules imported once in the master, so that every worker forked from it (at start and at each
    restart after max_requests) only builds its app: about 1 s of CPU instead of 4 on a 2-core machine."""
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)
    if os.environ.get("GUNICORN_IMPORT_CODE_IN_MASTER", "1") == "1":
        try:
            from fieldservice import import_code

            failed = import_code()
        except Exception as err:  # noqa: BLE001 - the workers import the code themselves and report it
            server.log.warning("could not import the application in the master: %r", err)
        else:
            if failed:
                server.log.warning("modules not imported in the master: %s", ", ".join(failed))


# Python's cycle collector and a long-lived worker: once the app is built a worker holds ~280,000 objects that
# live as long as it does (modules, mappers, schemas, compiled SQL). Every full collection walked all of them
# (100-300 ms of CPU on the 2-core test machine, in the middle of whichever request triggered it: a latency
# spike at p95/p99 under load). The worker freezes them once its app is built (gc.freeze: moved to a permanent
# generation the collector skips; CPython's documented recipe for forking servers); cycles made by requests
# are still collected. GUNICORN_GC_FREEZE=0 turns it off. docs/benchmarks.md has the measurement.
gc_freeze = os.environ.get("GUNICORN_GC_FREEZE", "1") == "1"


def post_worker_init(worker):  # noqa: ANN001, ANN201 - gunicorn hook
    """After the worker has built its app: collect once, then freeze everything that survived (see gc_freeze)."""
    if gc_freeze:
        import gc

        gc.collect()
        gc.freeze()
        worker.log.debug("gc: %d objects frozen after the app was built", gc.get_freeze_count())


def child_exit(server, worker):  # noqa: ANN001, ANN201 - gunicorn hook
    """A dead worker's live gauges are dropped (its counters stay summed)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
