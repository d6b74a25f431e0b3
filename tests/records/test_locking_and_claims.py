"""Optimistic locking of record drafts (PATCH with If-Match or lock_version) and carrier damage claims
made from installation sheets (R-INS-2)."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from fieldservice.claims.models import CarrierClaim
from fieldservice.extensions import db
from fieldservice.photos.models import Photo
from tests.factories import Factory
from tests.records.conftest import create_record, installation_content, repair_content
from tests.records.test_records_api import _photo, post_record, problem

Job = Callable[..., SimpleNamespace]
Counts = Callable[[], dict[str, int]]


# ---- optimistic locking ----------------------------------------------------------------------------

def test_get_sends_the_version_as_etag_and_patch_with_if_match_moves_it(client: FlaskClient, job_of: Job) -> None:
    job = job_of("repair")
    record = create_record(client, job, "repair_record", repair_content())
    url = f"/api/v1/records/{record['id']}"
    r = client.get(url, headers=job.auth)
    assert r.headers["ETag"] == '"1"' and r.get_json()["lock_version"] == 1
    r = client.patch(url, headers={**job.auth, "If-Match": '"1"'}, json={"content": repair_content(work_done="新的")})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.headers["ETag"] == '"2"' and r.get_json()["lock_version"] == 2
    assert r.get_json()["content"]["work_done"] == "新的"


def test_stale_if_match_is_412_naming_the_current_version_and_overwrites_nothing(
        client: FlaskClient, job_of: Job, count_rows: Counts) -> None:
    job = job_of("repair")
    record = create_record(client, job, "repair_record", repair_content())
    url = f"/api/v1/records/{record['id']}"
    # two screens read version 1; the first saves
    assert client.patch(url, headers=job.auth, json={"content": repair_content(work_done="first"),
                                                     "lock_version": 1}).status_code == 200
    before = count_rows()
    body = problem(client.patch(url, headers={**job.auth, "If-Match": '"1"'},
                                json={"content": repair_content(work_done="second")}), 412, "precondition_failed")
    assert body["current_version"] == 2 and body["current_etag"] == '"2"'
    body = problem(client.patch(url, headers=job.auth, json={"content": repair_content(work_done="second"),
                                                             "lock_version": 1}), 409, "stale_version")
    assert body["current_version"] == 2
    assert count_rows() == before
    assert client.get(url, headers=job.auth).get_json()["content"]["work_done"] == "first"


def test_patch_without_a_version_is_428_and_bad_if_match_is_422(client: FlaskClient, job_of: Job,
                                                                count_rows: Counts) -> None:
    job = job_of("repair")
    record = create_record(client, job, "repair_record", repair_content())
    url = f"/api/v1/records/{record['id']}"
    before = count_rows()
    body = problem(client.patch(url, headers=job.auth, json={"content": repair_content(work_done="x")}), 428,
                   "precondition_required")
    assert body["current_version"] == 1
    problem(client.patch(url, headers={**job.auth, "If-Match": "*garbage*"}, json={"content": repair_content()}),
            422, "validation_failed")
    problem(client.patch(url, headers=job.auth, json={"content": repair_content(), "lock_version": "1"}), 422,
            "validation_failed")
    assert count_rows() == before


# ---- carrier damage claims (R-INS-2) ---------------------------------------------------------------

def _damaged(photo_ids: list[str], **extra: Any) -> dict[str, Any]:
    return installation_content(packaging={"damaged": True, "description": "外箱破损 crushed corner",
                                           "photo_ids": photo_ids, **extra})


def test_r_ins_2_damage_with_photos_opens_one_claim(app: Flask, client: FlaskClient, job_of: Job,
                                                    headers: Any) -> None:
    job = job_of("installation")
    photo = _photo(client, job)
    record = create_record(client, job, "installation_sheet",
                           _damaged([photo["id"]], carrier_name="顺丰速运", waybill_no="SF123"))
    office = headers(role="office")
    listed = client.get("/api/v1/carrier-claims", headers=office).get_json()
    assert listed["meta"]["total"] == 1
    claim = listed["items"][0]
    assert claim["status"] == "open" and claim["record_root_id"] == record["id"]
    assert claim["photo_ids"] == [photo["id"]] and claim["carrier_name"] == "顺丰速运"
    assert claim["customer_id"] == str(job.order.customer_id) and claim["description"].startswith("外箱破损")
    with app.app_context():
        assert str(db.session.get(Photo, uuid.UUID(photo["id"])).damage_claim_id) == claim["id"]
    # editing the draft refreshes the open claim, never a second one
    second = _photo(client, job)
    r = client.patch(f"/api/v1/records/{record['id']}", headers=job.auth,
                     json={"content": _damaged([photo["id"], second["id"]], carrier_name="顺丰速运"),
                           "lock_version": record["lock_version"]})
    assert r.status_code == 200, r.get_data(as_text=True)
    listed = client.get("/api/v1/carrier-claims", headers=office).get_json()
    assert listed["meta"]["total"] == 1 and listed["items"][0]["photo_ids"] == [photo["id"], second["id"]]
    # the technician of the job sees it, another technician does not
    assert client.get(f"/api/v1/carrier-claims/{claim['id']}", headers=job.auth).status_code == 200
    other = job_of("installation")
    problem(client.get(f"/api/v1/carrier-claims/{claim['id']}", headers=other.auth), 404, "not_found")
    assert client.get("/api/v1/carrier-claims", headers=other.auth).get_json()["items"] == []


def test_r_ins_2_damage_without_photos_is_422_and_no_claim(client: FlaskClient, job_of: Job,
                                                           count_rows: Counts) -> None:
    job = job_of("installation")
    before = count_rows()
    body = problem(post_record(client, job, "installation_sheet", _damaged([])), 422, "validation_failed")
    assert "photo" in str(body["errors"])
    assert count_rows() == before
    record = create_record(client, job, "installation_sheet", installation_content())
    before = count_rows()
    problem(client.patch(f"/api/v1/records/{record['id']}", headers=job.auth,
                         json={"content": _damaged([]), "lock_version": 1}), 422, "validation_failed")
    assert count_rows() == before and before["carrier_claims"] == 0


def test_office_works_a_claim_open_submitted_settled(client: FlaskClient, job_of: Job, headers: Any,
                                                     count_rows: Counts) -> None:
    job = job_of("installation")
    create_record(client, job, "installation_sheet", _damaged([_photo(client, job)["id"]]))
    office = headers(role="office")
    claim = client.get("/api/v1/carrier-claims", headers=office).get_json()["items"][0]
    url = f"/api/v1/carrier-claims/{claim['id']}"
    before = count_rows()
    body = problem(client.patch(url, headers=office, json={"status": "submitted"}), 422, "validation_failed")
    assert "carrier_name" in str(body["errors"])
    problem(client.patch(url, headers=office, json={"status": "settled"}), 409, "invalid_transition")
    problem(client.patch(url, headers=office, json={"amount_minor": -5}), 422, "validation_failed")
    problem(client.patch(url, headers=job.auth, json={"notes": "x"}), 403, "forbidden")
    assert count_rows() == before
    r = client.patch(url, headers=office, json={"status": "submitted", "carrier_name": "德邦物流", "waybill_no": "DB-9",
                                                "amount_minor": 125000, "currency": "CNY", "version": claim["version"]})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.get_json()["status"] == "submitted" and r.get_json()["amount_minor"] == 125000
    problem(client.patch(url, headers=office, json={"notes": "late", "version": claim["version"]}), 409,
            "stale_version")
    problem(client.patch(url, headers=office, json={"status": "settled"}), 422, "validation_failed")
    r = client.patch(url, headers=office, json={"status": "settled", "settled_amount_minor": 100000})
    assert r.status_code == 200 and r.get_json()["status"] == "settled"
    problem(client.patch(url, headers=office, json={"notes": "after"}), 409, "invalid_transition")
    problem(client.patch(url, headers=office, json={"status": "rejected"}), 409, "invalid_transition")


def test_claim_made_once_for_a_record_and_its_correction(app: Flask, client: FlaskClient, job_of: Job,
                                                         make: Factory) -> None:
    """A correction (new version) of a damaged sheet keeps the one claim of the record."""
    from tests.records.conftest import finish_visit, sign

    job = job_of("installation")
    photo = _photo(client, job)
    record = create_record(client, job, "installation_sheet", _damaged([photo["id"]]))
    finish_visit(client, job)
    assert sign(client, job, record["id"]).status_code == 201
    r = client.post(f"/api/v1/records/{record['id']}/corrections", headers=job.auth,
                    json={"content": _damaged([photo["id"]], description="两处破损"), "reason": "second dent found"})
    assert r.status_code == 201, r.get_data(as_text=True)
    with app.app_context():
        claims = db.session.scalars(db.select(CarrierClaim)).all()
        assert len(claims) == 1
        assert str(claims[0].record_root_id) == record["id"] and claims[0].description == "两处破损"
        assert str(claims[0].record_id) == r.get_json()["id"]
