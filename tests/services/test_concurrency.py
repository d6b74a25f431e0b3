"""Two dispatchers at once: the technician row lock keeps a technician from being double-booked."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from flask import Flask

from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.errors import TechnicianUnavailable
from fieldservice.extensions import db
from fieldservice.visits import service as visits
from fieldservice.visits.models import Visit
from tests.factories import Factory, tomorrow_at


@pytest.mark.postgres
def test_concurrent_overlapping_assignments_only_one_wins(app: Flask, make: Factory) -> None:
    line = make.product_line()
    product = make.product(line.id)
    tech = make.technician(certified_for=[line.id])
    rounds = 5
    for round_no in range(rounds):
        start = tomorrow_at(8 + round_no * 2)
        pair = [make.visit(make.work_order(product_id=product.id).id, start=start, hours=1.5) for _ in range(2)]
        barrier = threading.Barrier(2)
        outcomes: list[str] = []

        def assign(visit_id, barrier=barrier, outcomes=outcomes) -> None:  # type: ignore[no-untyped-def]
            with app.app_context():
                barrier.wait()
                try:
                    with unit_of_work():
                        visits.assign_technician(SYSTEM, visit_id, tech.id)
                    outcomes.append("ok")
                except TechnicianUnavailable:
                    outcomes.append("refused")

        threads = [threading.Thread(target=assign, args=(v.id,)) for v in pair]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert sorted(outcomes) == ["ok", "refused"], outcomes
    with app.app_context():
        assigned = db.session.scalar(sa.select(sa.func.count()).select_from(Visit).where(Visit.technician_id == tech.id))
    assert assigned == rounds
