"""The read log refuses changes; the draft lock holds between two sessions that both read version 1."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from fieldservice.archive import service
from fieldservice.archive.models import ArchiveRead, ArchiveReadImmutable
from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.records.models import ServiceRecord
from tests.records.conftest import create_record, repair_content


def test_read_log_rows_cannot_be_changed_or_deleted(app: Flask) -> None:
    with app.app_context():
        with unit_of_work():
            row = service.log_read(SYSTEM, "customer", uuid.uuid4(), via="api")
        row_id = row.id
        with pytest.raises(ArchiveReadImmutable), unit_of_work():
            db.session.get(ArchiveRead, row_id).via = "page"
        with pytest.raises(ArchiveReadImmutable), unit_of_work():
            db.session.delete(db.session.get(ArchiveRead, row_id))
        assert db.session.get(ArchiveRead, row_id).via == "api"
        with pytest.raises(ValueError):
            service.log_read(SYSTEM, "customer", uuid.uuid4(), via="email")


def test_two_sessions_saving_the_same_draft_version_the_second_loses(app: Flask, client: FlaskClient,
                                                                     job_of: Callable[..., SimpleNamespace]) -> None:
    """Both read version 1 and passed any version check; the later UPDATE ... WHERE lock_version = 1 matches
    no row and fails instead of overwriting (the API maps it to 409 stale_version)."""
    job = job_of("repair")
    record_id = uuid.UUID(create_record(client, job, "repair_record", repair_content())["id"])
    with app.app_context():
        engine = db.engine
    with Session(engine) as first, Session(engine) as second:
        a = first.get(ServiceRecord, record_id)
        b = second.get(ServiceRecord, record_id)
        assert a.lock_version == b.lock_version == 1
        a.content = repair_content(work_done="first")
        first.commit()
        b.content = repair_content(work_done="second")
        with pytest.raises(StaleDataError):
            second.commit()
        second.rollback()
    with app.app_context():
        stored = db.session.scalar(sa.select(ServiceRecord).where(ServiceRecord.id == record_id))
        assert stored.content["work_done"] == "first" and stored.lock_version == 2
