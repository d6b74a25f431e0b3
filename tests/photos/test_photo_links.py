"""A photo's record_id and damage_claim_id must be of the photo's own work order: one technician cannot tag a
photo onto another customer's record or carrier claim (R-ARC-3: it would list in that customer's archive).
Both upload doors (multipart and tus) refuse with 422 and store nothing."""
from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import Factory
from tests.photos.conftest import TusClient, jpeg_bytes
from tests.photos.test_photos_api import post_photo


@pytest.fixture
def foreign(app: Flask, make: Factory) -> SimpleNamespace:
    """Another customer's job with a record and a carrier claim."""
    other = make.dispatched_job()
    record = make.job_record(other.visit.id)
    return SimpleNamespace(record_id=record.id, claim_id=make.carrier_claim(record, other.order).id)


@pytest.mark.parametrize("link", ["record_id", "damage_claim_id", "unknown record", "unknown claim"])
def test_a_photo_cannot_be_tagged_onto_another_jobs_record_or_claim(client: FlaskClient, job: SimpleNamespace,
                                                                    foreign: SimpleNamespace, count_rows,  # type: ignore[no-untyped-def]
                                                                    link: str) -> None:
    """R-ARC-3 / R-INS-2: multipart and tus, 422 problem naming the field, nothing written."""
    field = "record_id" if "record" in link else "damage_claim_id"
    value = {"record_id": foreign.record_id, "damage_claim_id": foreign.claim_id}.get(link, uuid.uuid4())
    fields = {field: value, "kind": "packaging_damage" if field == "damage_claim_id" else "fault"}
    before = count_rows()
    response = post_photo(client, job.auth, jpeg_bytes(), visit_id=job.visit.id, **fields)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json" and field in str(response.get_json()["errors"])
    created = TusClient(client, job.auth).create(1000, visit_id=job.visit.id, **fields)
    assert created.status_code == 422 and field in str(created.get_json()["errors"])
    assert count_rows() == before


def test_a_photo_of_the_jobs_own_record_is_accepted(client: FlaskClient, job: SimpleNamespace, make: Factory) -> None:
    record = make.job_record(job.visit.id)
    response = post_photo(client, job.auth, jpeg_bytes(), visit_id=job.visit.id, kind="fault", record_id=record.id)
    assert response.status_code == 201 and response.get_json()["record_id"] == str(record.id)
