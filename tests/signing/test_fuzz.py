"""Property test: no body, however odd, makes the signing endpoints answer 5xx; refusals are problems."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st

from fieldservice.extensions import db
from fieldservice.records.models import ServiceRecord, Signoff
from fieldservice.signing.models import SigningLink
from tests.fuzzing import run_probes
from tests.records.conftest import finish_visit
from tests.records.test_fuzz import json_values
from tests.signing.conftest import create_link, repair_record
from tests.signing.test_signing_links import sign_body

KEYS = ["content_sha256", "signer_name", "signature_png", "strokes", "device_time", "lang", "language",
        "expires_in_hours", "x", "y", "t"]


def mutate(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    return st.dictionaries(st.sampled_from(KEYS + list(base)), json_values, max_size=3).map(
        lambda extra: {**base, **extra})


def test_signing_endpoints_never_fail_with_5xx(app: Flask, client: FlaskClient,
                                               chinese_job: Callable[..., SimpleNamespace]) -> None:
    open_job = chinese_job()
    not_done = repair_record(client, open_job)                      # work not complete: R-SIG-2 refusals
    done_job = chinese_job()
    done = repair_record(client, done_job)
    finish_visit(client, done_job)
    links = [create_link(client, not_done["id"], open_job.auth), create_link(client, done["id"], done_job.auth)]
    probes: list[tuple[str, str, dict[str, str], st.SearchStrategy[Any]]] = [
        ("post", links[0]["path"], {}, mutate(sign_body("0" * 64))),
        ("post", links[1]["path"], {}, mutate(sign_body("0" * 64))),
        ("post", f"/api/v1/records/{done['id']}/signing-links", done_job.auth,
         mutate({"language": "zh", "expires_in_hours": 2})),
    ]

    run_probes(client, probes, json_values, examples=200)
    # read back: no body signed anything, both links are still open, both records still drafts
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Signoff)) == 0
        used = db.session.scalars(sa.select(SigningLink.used_at).where(SigningLink.used_at.is_not(None))).all()
        assert used == []
        statuses = db.session.scalars(sa.select(ServiceRecord.status).where(
            ServiceRecord.id.in_([uuid.UUID(not_done["id"]), uuid.UUID(done["id"])]))).all()
        assert sorted(st_.value for st_ in statuses) == ["draft", "draft"]
