"""Single use under concurrency: the same link posted by several requests at once signs exactly once."""
from __future__ import annotations

import threading
from collections.abc import Callable
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.extensions import db
from fieldservice.records.models import Signoff
from tests.records.conftest import finish_visit
from tests.signing.conftest import create_link, repair_record
from tests.signing.test_signing_links import page_hash, sign_body


@pytest.mark.postgres
def test_concurrent_uses_of_one_link_sign_once(app: Flask, client: FlaskClient,
                                               chinese_job: Callable[..., SimpleNamespace]) -> None:
    job = chinese_job()
    record = repair_record(client, job)
    finish_visit(client, job)
    link = create_link(client, record["id"], job.auth)
    shown = page_hash(client.get(link["path"]).get_data(as_text=True))
    barrier = threading.Barrier(4)
    statuses: list[int] = []

    def use() -> None:
        local = app.test_client()
        barrier.wait()
        statuses.append(local.post(link["path"], json=sign_body(shown)).status_code)

    threads = [threading.Thread(target=use) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(statuses) == 4 and statuses.count(201) == 1, statuses
    assert all(s == 410 for s in statuses if s != 201), statuses        # the others: signing_link_used
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Signoff)) == 1
