"""Liveness and readiness probes."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify

from fieldservice.auth.decorators import public
from fieldservice.extensions import db
from fieldservice.ops import heartbeat

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz() -> Response:
    """The process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
@public
def readyz() -> tuple[Response, int]:
    """The database answers a query (503 otherwise). The scheduler's heartbeat is reported but does not make a
    web node unready (a load balancer would take every node out for one dead scheduler): probe
    /readyz/scheduler for that."""
    try:
        db.session.execute(sa.text("SELECT 1"))
        scheduler = heartbeat.scheduler_status(current_app.config["SCHEDULER_STALE_SECONDS"])
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok", scheduler=scheduler), 200


@bp.get("/readyz/scheduler")
@public
def scheduler_ready() -> tuple[Response, int]:
    """The scheduler process beat within SCHEDULER_STALE_SECONDS: 200; stale or never seen: 503 (alert on it)."""
    try:
        scheduler = heartbeat.scheduler_status(current_app.config["SCHEDULER_STALE_SECONDS"])
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(scheduler), 200 if scheduler["status"] == "ok" else 503
