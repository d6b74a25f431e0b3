"""Sync fixtures: a technician with a job, a phone for them."""
from __future__ import annotations

from collections.abc import Callable
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
