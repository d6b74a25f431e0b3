"""Prometheus metrics at `/metrics` (prometheus-client, text format).

Per process, counted as requests run: requests by endpoint, method and status, their latency, sync pushes and
pulls with their record counts and sizes. Read from the database at each scrape (so every web process reports
the same truth): quarantined sync records, the notification outbox backlog and the age of its oldest message,
each scheduler job's last success and the scheduler's heartbeat age, and this process's connection pool.

Under gunicorn with several workers set PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py does) so a scrape sums
the per-request metrics of every worker. `METRICS_TOKEN` set: the scrape must send it as a bearer token.
"""
from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from fieldservice.db import utcnow

log = logging.getLogger(__name__)

# Multiprocess mode keeps each process's values in files there: the folder must exist before the first metric.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

# Process-wide by nature (one set per process, like the logging module's loggers); apps share them.
REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("fieldservice_http_requests_total", "HTTP requests by endpoint, method and status",
                   ["endpoint", "method", "status"], registry=REGISTRY)
LATENCY = Histogram("fieldservice_http_request_duration_seconds", "HTTP request latency by endpoint and method",
                    ["endpoint", "method"], registry=REGISTRY,
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
SYNC_PUSHES = Counter("fieldservice_sync_pushes_total", "Sync pushes by outcome (applied, refused)",
                      ["outcome"], registry=REGISTRY)
SYNC_PUSH_RECORDS = Counter("fieldservice_sync_push_records_total", "Records in applied pushes, by result",
                            ["result"], registry=REGISTRY)
SYNC_PUSH_BYTES = Histogram("fieldservice_sync_push_bytes", "Size of sync push bodies", registry=REGISTRY,
                            buckets=(1e3, 1e4, 1e5, 1e6, 5e6, 2e7))
SYNC_PULLS = Counter("fieldservice_sync_pulls_total", "Sync pulls (pages) by status", ["status"], registry=REGISTRY)
SYNC_PULL_BYTES = Histogram("fieldservice_sync_pull_bytes", "Size of sync pull answers", registry=REGISTRY,
                            buckets=(1e3, 1e4, 1e5, 1e6, 5e6, 2e7))


def _start_timer() -> None:
    g.metrics_started = time.perf_counter()


def _endpoint() -> str:
    return request.url_rule.rule if request.url_rule is not None else "unmatched"


def _observe(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is None or request.path == "/metrics":
        return response
    endpoint, method = _endpoint(), request.method
    REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
    LATENCY.labels(endpoint, method).observe(time.perf_counter() - started)
    if request.endpoint == "sync.Push":
        _observe_push(response)
    elif request.endpoint == "sync.Pull":
        SYNC_PULLS.labels(str(response.status_code)).inc()
        if response.status_code == 200 and not response.direct_passthrough:
            SYNC_PULL_BYTES.observe(response.calculate_content_length() or 0)
    return response


def _observe_push(response: Response) -> None:
    SYNC_PUSH_BYTES.observe(request.content_length or 0)
    if response.status_code != 200:
        SYNC_PUSHES.labels("refused").inc()
        return
    body = response.get_json(silent=True) or {}
    SYNC_PUSHES.labels("applied").inc()
    for result, key in (("accepted", "accepted"), ("merged", "merged"), ("quarantined", "rejected")):
        SYNC_PUSH_RECORDS.labels(result).inc(int(body.get(key) or 0))


class DatabaseCollector(Collector):
    """Gauges read at scrape time from the database and the pool of the app that serves /metrics."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from fieldservice.extensions import db

        up = GaugeMetricFamily("fieldservice_database_up", "1 when the database answered this scrape")
        try:
            families = list(self._from_database(db))
            up.add_metric([], 1)
        except sa.exc.SQLAlchemyError as err:
            db.session.rollback()
            log.warning("metrics: database unavailable (%s)", type(err).__name__)
            families = []
            up.add_metric([], 0)
        yield up
        yield from families
        yield from self._pool(db)

    def _from_database(self, db: Any) -> Iterator[GaugeMetricFamily]:
        from fieldservice.notifications.models import Notification, NotificationStatus
        from fieldservice.ops import heartbeat
        from sync.models import SyncRejection

        now = utcnow()
        yield _count_by_status(db, SyncRejection.status, "fieldservice_sync_quarantine_records",
                               "Quarantined sync records by status")
        yield _count_by_status(db, Notification.status, "fieldservice_outbox_messages",
                               "Notification outbox messages by status")
        oldest = db.session.scalar(sa.select(sa.func.min(Notification.created_at))
                                   .where(Notification.status == NotificationStatus.PENDING))
        age = GaugeMetricFamily("fieldservice_outbox_oldest_pending_age_seconds",
                                "Age of the oldest undelivered outbox message (0: none waiting)")
        age.add_metric([], max((now - _aware(oldest)).total_seconds(), 0.0) if oldest else 0.0)
        yield age

        last = GaugeMetricFamily("fieldservice_scheduler_job_last_success_timestamp_seconds",
                                 "Unix time of each scheduler job's last successful run", labels=["job"])
        failures = GaugeMetricFamily("fieldservice_scheduler_job_failures", "Failed runs per scheduler job",
                                     labels=["job"])
        beat_age = GaugeMetricFamily("fieldservice_scheduler_heartbeat_age_seconds",
                                     "Seconds since the scheduler process last beat (-1: never)")
        beat = -1.0
        for row in heartbeat.rows():
            if row.job_id == heartbeat.PROCESS_ROW:
                beat = (now - _aware(row.last_success_at)).total_seconds() if row.last_success_at else -1.0
                continue
            if row.last_success_at:
                last.add_metric([row.job_id], _aware(row.last_success_at).timestamp())
            failures.add_metric([row.job_id], row.failures or 0)
        beat_age.add_metric([], beat)
        yield last
        yield failures
        yield beat_age
        db.session.rollback()  # end the read transaction: a scrape holds nothing open

    def _pool(self, db: Any) -> Iterator[GaugeMetricFamily]:
        pool = db.engine.pool
        family = GaugeMetricFamily("fieldservice_db_pool_connections", "This process's connection pool",
                                   labels=["state"])
        for state in ("size", "checkedout", "overflow", "checkedin"):
            fn = getattr(pool, state, None)
            if callable(fn):
                family.add_metric([state], fn())
        yield family


def _count_by_status(db: Any, column: Any, name: str, text: str) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, text, labels=["status"])
    for status, count in db.session.execute(sa.select(column, sa.func.count()).group_by(column)):
        family.add_metric([status.value], count)
    return family


def _aware(value: Any) -> Any:
    from datetime import UTC

    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def metrics_view() -> Response:
    """The Prometheus scrape (public unless METRICS_TOKEN is set)."""
    from fieldservice.errors import problem

    token = current_app.config.get("METRICS_TOKEN")
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.encode()):
            return problem(401, "Authentication required", "send the metrics token as a bearer token",
                           code="unauthenticated")
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(DatabaseCollector(current_app._get_current_object()))  # type: ignore[attr-defined]
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


class _Forward(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Any]:
        return iter(self.registry.collect())


def init_app(app: Flask) -> None:
    if not app.config.get("METRICS_ENABLED", True):
        return
    from fieldservice.auth.decorators import public

    app.before_request(_start_timer)
    app.after_request(_observe)
    app.add_url_rule("/metrics", "metrics", public(metrics_view))
