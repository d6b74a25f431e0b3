"""Sync fixtures: a technician with a job, a phone for them."""
from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from flask import Flask

from tests.factories import Factory
from tests.records.conftest import contract_job, job_of  # noqa: F401 - installation jobs (test_installation_push.py)
from tests.sync.phone import Phone


@pytest.fixture
def phone_for(app: Flask, make: Factory) -> Callable[..., Phone]:
    def build(technician: SimpleNamespace, **kwargs: object) -> Phone:
        return Phone(app.test_client(), make.token(technician.user_id), **kwargs)  # type: ignore[arg-type]

    return build


@pytest.fixture
def on_site(make: Factory, phone_for):  # type: ignore[no-untyped-def]
    """A technician on site (the visit under way two hours after its start), with their phone synced."""
    now = datetime.now(UTC).replace(microsecond=0)
    job = make.dispatched_job(start=now - timedelta(hours=2))
    phone = phone_for(job.technician)
    phone.sync()
    phone.edit("visits", job.visit.id, status="in_progress",
               arrived_at=int((now - timedelta(hours=1)).timestamp() * 1000))
    assert phone.sync()["accepted"] == 1
    return job, phone
