"""Scheduler jobs: each opens an app context and one unit of work, calls one service, and logs counts."""
from __future__ import annotations

import logging

from flask import Flask

from fieldservice.db import unit_of_work, utcnow
from fieldservice.maintenance import service as maintenance

log = logging.getLogger(__name__)


def generate_maintenance_visits(app: Flask) -> dict[str, int]:
    """Create occurrences, work orders and visits for maintenance plans due within the horizon.

    Idempotent (unique per plan and due date) and serialised with a second scheduler's run by the change
    counter lock, so two scheduler processes do no double work.
    """
    with app.app_context(), unit_of_work():
        result = maintenance.generate_due_occurrences(
            today=utcnow().date(), horizon_days=app.config["MAINTENANCE_HORIZON_DAYS"])
    counts = result.as_dict()
    log.info("maintenance visits generated: %s", counts)
    return counts
