"""The scheduler process's heartbeat: each job run records its start, success or failure in
`scheduler_heartbeats` (one row per job, plus the row `scheduler` written every SCHEDULER_HEARTBEAT_SECONDS by
the process itself), so a dead or stuck scheduler shows in /readyz, /readyz/scheduler and /metrics."""
from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from fieldservice.db import unit_of_work, utcnow
from fieldservice.extensions import db

log = logging.getLogger(__name__)

PROCESS_ROW = "scheduler"


class SchedulerHeartbeat(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "scheduler_heartbeats"

    job_id: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    last_started_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_failure_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    runs: Mapped[int] = mapped_column(default=0)
    failures: Mapped[int] = mapped_column(default=0)
    host: Mapped[str | None] = mapped_column(sa.String(200))
    pid: Mapped[int | None]


def _row(job_id: str) -> SchedulerHeartbeat:
    row = db.session.get(SchedulerHeartbeat, job_id)
    if row is None:
        row = SchedulerHeartbeat(job_id=job_id, runs=0, failures=0)
        db.session.add(row)
    row.host, row.pid = socket.gethostname()[:200], os.getpid()
    return row


def record(job_id: str, outcome: str, error: BaseException | None = None, *, now: datetime | None = None) -> None:
    """`outcome`: started, success or failure (own short transaction; a database that is down only logs)."""
    now = now or utcnow()
    try:
        with unit_of_work():
            row = _row(job_id)
            if outcome == "started":
                row.last_started_at = now
            elif outcome == "success":
                row.last_success_at, row.runs = now, (row.runs or 0) + 1
            else:
                row.last_failure_at, row.failures = now, (row.failures or 0) + 1
                row.last_error = f"{type(error).__name__}: {error}"[:500] if error else None
    except sa.exc.SQLAlchemyError as err:
        log.warning("heartbeat of %s not recorded: %s", job_id, type(err).__name__)


def rows() -> list[SchedulerHeartbeat]:
    return list(db.session.scalars(sa.select(SchedulerHeartbeat).order_by(SchedulerHeartbeat.job_id)))


def scheduler_status(stale_after_seconds: int, *, now: datetime | None = None) -> dict[str, Any]:
    """`ok` when the process beat within `stale_after_seconds`, `stale` when it beat before, `unknown` when
    no scheduler ever ran against this database."""
    now = now or utcnow()
    row = db.session.get(SchedulerHeartbeat, PROCESS_ROW)
    if row is None or row.last_success_at is None:
        return {"status": "unknown", "last_beat_at": None, "age_seconds": None}
    age = (now - row.last_success_at).total_seconds()
    status = "ok" if age <= stale_after_seconds else "stale"
    return {"status": status, "last_beat_at": row.last_success_at.isoformat(), "age_seconds": round(age, 1),
            "host": row.host, "pid": row.pid}


def beat() -> None:
    """The process row (the scheduler's own heartbeat job)."""
    record(PROCESS_ROW, "success")


def stale_threshold(config: Any) -> timedelta:
    return timedelta(seconds=int(config["SCHEDULER_STALE_SECONDS"]))
