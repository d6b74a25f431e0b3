"""Scheduler jobs: each opens an app context and one unit of work, calls one service, and logs counts.

Safe against two scheduler processes: on PostgreSQL every run first takes a transaction-scoped advisory
lock named after the job (`pg_try_advisory_xact_lock`) and skips when another process holds it; unique
keys (plan + due date, one breach per clock, notification dedupe keys) make any repeat harmless anyway.
The sender needs no lock: it claims messages with `FOR UPDATE SKIP LOCKED` and a lease.

To add a job (follow-up call tasks, complaint deadlines, reorder alerts): write a function here that calls
one service inside `_locked_run`, and add a `JobSpec` to `JOBS` below with its interval setting.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import Flask

from fieldservice.db import unit_of_work, utcnow
from fieldservice.extensions import db
from fieldservice.followups import service as followups
from fieldservice.maintenance import service as maintenance
from fieldservice.notifications import service as notifications

log = logging.getLogger(__name__)


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for a job name (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(f"fieldservice.job:{name}".encode()).digest()[:8], "big", signed=True)


def try_job_lock(name: str) -> bool:
    """Inside the current transaction: True when this process may run `name` now. On PostgreSQL a
    transaction-scoped advisory lock (released at commit/rollback); SQLite has a single writer."""
    if db.session.get_bind().dialect.name != "postgresql":
        return True
    return bool(db.session.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(advisory_key(name)))))


def _locked_run(app: Flask, name: str, work: Callable[[], Any]) -> Any:
    """One unit of work holding the job's lock; None when another scheduler process is running the job."""
    with app.app_context(), unit_of_work():
        if not try_job_lock(name):
            log.info("job %s: another scheduler process is running it; skipped", name)
            return None
        return work()


def generate_maintenance_visits(app: Flask) -> dict[str, int]:
    """Create occurrences, work orders and visits for maintenance plans due within the horizon.

    Idempotent (unique per plan and due date) and serialised with a second scheduler's run by the advisory
    lock and the change counter lock, so two scheduler processes do no double work.
    """
    result = _locked_run(app, "maintenance.generate_visits", lambda: maintenance.generate_due_occurrences(
        today=utcnow().date(), horizon_days=app.config["MAINTENANCE_HORIZON_DAYS"]))
    counts = result.as_dict() if result is not None else {"created": 0, "skipped_locked": 1}
    log.info("maintenance visits generated: %s", counts)
    return counts


def scan_sla_breaches(app: Flask) -> int:
    """R-SLA-2: record breaches of running SLA clocks as they happen and escalate each once."""
    from fieldservice.sla import service as sla

    created = _locked_run(app, "sla.scan", lambda: sla.scan_breaches(now=utcnow())) or 0
    log.info("SLA breaches recorded: %d", created)
    return created


def remind_unconfirmed_visits(app: Flask) -> int:
    """R-MNT-2 / R-REP-2: flag visits not confirmed with the customer CONFIRMATION_REMINDER_DAYS ahead."""
    from fieldservice.reminders import service as reminders

    created = _locked_run(app, "reminders.unconfirmed_visits", lambda: reminders.flag_unconfirmed_visits(
        days=app.config["CONFIRMATION_REMINDER_DAYS"], recipient=app.config["CONFIRMATION_REMINDER_TO"],
        now=utcnow())) or 0
    log.info("confirmation reminders enqueued: %d", created)
    return created


def send_notifications(app: Flask) -> dict[str, int]:
    """Deliver due outbox messages (one sender pass)."""
    from fieldservice.notifications.sender import send_due

    counts = send_due(app)
    if counts.get("claimed"):
        log.info("notifications: %s", counts)
    return counts


def flag_overdue_complaints(app: Flask) -> int:
    """Flag complaints that passed their first-response deadline (R-CMP-1) through the outbox, once each."""
    from fieldservice.complaints import service as complaints

    flagged = _locked_run(app, "complaints.flag_overdue", lambda: complaints.flag_overdue(now=utcnow())) or 0
    log.info("complaints flagged overdue: %d", flagged)
    return flagged


def create_follow_ups(app: Flask) -> dict[str, int]:
    """Backstop for the follow-up calls (R-FUP-1): finished installations and repairs without their tasks get
    them (the sign-off hook normally creates them), and the day's due and overdue calls are surfaced to the
    office as one outbox message per day (dedupe key per day: a re-run or a second scheduler sends it once).
    """
    def work() -> dict[str, int]:
        today = utcnow().date()
        created = followups.create_missing()
        summary = followups.due_summary(today)
        queued = False
        if summary.due_today or summary.overdue:
            queued = notifications.enqueue(
                "followups.due", "office", {"day": today.isoformat(), **summary.as_dict()},
                subject=f"回访 follow-up calls {today.isoformat()}: {summary.due_today} due, {summary.overdue} overdue",
                dedupe_key=f"followups.due:{today.isoformat()}")
        return {"created": created, **summary.as_dict(), "notified": int(queued)}

    counts = _locked_run(app, "followups.create", work) or {"skipped_locked": 1}
    log.info("follow-ups: %s", counts)
    return counts


def anchor_archive(app: Flask) -> dict[str, Any]:
    """Write the heads of the archive's hash chains outside the database (docs/security.md), so a rewrite
    or a truncation of the chains before this point shows in `flask verify-archive`."""
    from fieldservice.integrity.anchors import write_anchor

    result = _locked_run(app, "archive.anchor", write_anchor) or {"skipped_locked": 1}
    log.info("archive anchor: %s", result)
    return result


def beat(app: Flask) -> None:
    """The scheduler process is alive: its heartbeat row (shown by /readyz/scheduler and /metrics)."""
    from fieldservice.ops import heartbeat

    with app.app_context():
        heartbeat.beat()


@dataclass(frozen=True)
class JobSpec:
    id: str
    name: str
    func: Callable[[Flask], Any]
    interval_setting: str       # config key holding the interval
    unit: str = "minutes"       # of that setting: "minutes" or "seconds"

    def interval_seconds(self, config: Any) -> int:
        override = config.get("SCHEDULER_INTERVAL_SECONDS")
        if override:
            return max(1, int(override))
        value = int(config[self.interval_setting])
        return max(1, value * 60 if self.unit == "minutes" else value)


JOBS: tuple[JobSpec, ...] = (
    JobSpec("maintenance.generate_visits", "generate maintenance visits", generate_maintenance_visits,
            "MAINTENANCE_GENERATE_EVERY_MINUTES"),
    JobSpec("sla.scan", "SLA breach scan and escalation", scan_sla_breaches, "SLA_SCAN_EVERY_MINUTES"),
    JobSpec("reminders.unconfirmed_visits", "visit-confirmation reminders", remind_unconfirmed_visits,
            "REMINDERS_EVERY_MINUTES"),
    JobSpec("notifications.send", "send notifications", send_notifications, "NOTIFY_SEND_EVERY_SECONDS", "seconds"),
    JobSpec("complaints.flag_overdue", "flag overdue complaints (R-CMP-1)", flag_overdue_complaints,
            "COMPLAINTS_CHECK_EVERY_MINUTES"),
    JobSpec("followups.create", "follow-up call tasks (R-FUP-1)", create_follow_ups, "FOLLOWUPS_EVERY_MINUTES"),
    JobSpec("archive.anchor", "anchor the archive's chain heads outside the database", anchor_archive,
            "ARCHIVE_ANCHOR_EVERY_MINUTES"),
    JobSpec("scheduler.heartbeat", "scheduler heartbeat", beat, "SCHEDULER_HEARTBEAT_SECONDS", "seconds"),
)
JOBS_BY_ID = {spec.id: spec for spec in JOBS}

# The scheduler process's app. Jobs in a database job store are stored as a reference to `run_job` plus
# the job id (a Flask app cannot be pickled); `schedules.runner` binds the app before the scheduler starts.
_bound_app: Flask | None = None


def bind_app(app: Flask) -> None:
    global _bound_app
    _bound_app = app


def run_job(job_id: str) -> Any:
    """What the job store calls: run the job `job_id` against the bound app."""
    if _bound_app is None:
        raise RuntimeError("schedules.jobs.bind_app(app) must be called before the scheduler runs jobs")
    spec = JOBS_BY_ID.get(job_id)
    if spec is None:  # a job left in the store by an older version of the code
        log.warning("job %s is no longer defined; ignored", job_id)
        return None
    return _with_heartbeat(_bound_app, spec)


def _with_heartbeat(app: Flask, spec: JobSpec) -> Any:
    """Run a job, recording its start and its success or failure (/metrics: last success per job)."""
    from fieldservice.ops import heartbeat

    with app.app_context():
        heartbeat.record(spec.id, "started")
    try:
        result = spec.func(app)
    except Exception as err:
        with app.app_context():
            heartbeat.record(spec.id, "failure", err)
        raise
    with app.app_context():
        heartbeat.record(spec.id, "success")
    return result
