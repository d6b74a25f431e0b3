"""Service records and sign-offs over the API, one test (or more) per rule: R-INS-1..6, R-REP-3/5/7,
R-MNT-3, R-SIG-1..3, R-ARC-3 (light)."""
from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from fieldservice.assets.models import Asset
from fieldservice.workorders.models import WorkOrder
from tests.factories import Factory
from tests.problems import problem
from tests.records.conftest import (
    ACCEPTED,
    create_record,
    finish_visit,
    installation_content,
    maintenance_content,
    png_b64,
    repair_content,
    server_hash,
    sheet_for,
    sign,
    signoff_body,
)

Job = Callable[..., SimpleNamespace]
Counts = Callable[[], dict[str, int]]


def post_record(client: FlaskClient, job: SimpleNamespace, kind: str, content: Any):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/records", json={"kind": kind, "visit_id": str(job.visit.id), "content": content},
                       headers=job.auth)


def post_signoff(client: FlaskClient, job: Any, record_id: str, body: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/records/{record_id}/signoff", headers=job.auth, json=body)


# ---- installation sheet ---------------------------------------------------------------------------

def test_r_ins_1_unpacking_records_the_three_parties(client: FlaskClient, job_of: Job, count_rows: Counts) -> None:
    job = job_of("installation")
    before = count_rows()
    content = installation_content()
    del content["unpacking"]["parties"]["delivery"]
    body = problem(post_record(client, job, "installation_sheet", content), 422, "validation_failed")
    assert "delivery" in str(body["errors"])
    assert count_rows() == before
    record = create_record(client, job, "installation_sheet", installation_content())
    assert record["status"] == "draft" and record["version_no"] == 1
    assert record["content"]["unpacking"]["parties"] == {"sales": "王销售", "delivery": "李物流",
                                                         "customer_representative": "张代表"}


def _photo(client: FlaskClient, job: SimpleNamespace) -> dict[str, Any]:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (200, 10, 10)).save(buf, format="PNG")
    response = client.post("/api/v1/photos", headers=job.auth, content_type="multipart/form-data", data={
        "visit_id": str(job.visit.id), "kind": "packaging_damage", "file": (io.BytesIO(buf.getvalue()), "d.png", "image/png")})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()  # type: ignore[no-any-return]


def test_r_ins_2_packaging_damage_needs_photos_signed_by_their_hash(client: FlaskClient, job_of: Job,
                                                                    count_rows: Counts) -> None:
    job = job_of("installation")
    before = count_rows()
    damaged = {"damaged": True, "description": "crushed corner"}
    problem(post_record(client, job, "installation_sheet", installation_content(packaging=damaged)), 422,
            "validation_failed")
    unknown = {**damaged, "photo_ids": [str(uuid.uuid4())]}
    problem(post_record(client, job, "installation_sheet", installation_content(packaging=unknown)), 422,
            "unknown_reference")
    assert count_rows() == before
    photo = _photo(client, job)
    record = create_record(client, job, "installation_sheet",
                           installation_content(packaging={**damaged, "photo_ids": [photo["id"]]}))
    canonical = client.get(f"/api/v1/records/{record['id']}/canonical", headers=job.auth).get_json()
    assert f'"photo_sha256":["{photo["sha256"]}"]' in canonical["canonical_json"]
    assert photo["id"] not in canonical["canonical_json"]


def test_r_ins_3_contract_mismatch_blocks_signing_until_resolved(client: FlaskClient, job_of: Job,
                                                                 count_rows: Counts, make: Factory) -> None:
    """R-INS-3: a mismatch blocks signing until the back office resolves it; the technician's own `resolved`
    on the sheet is a note and lifts nothing (before: it did)."""
    job = job_of("installation")
    record = create_record(client, job, "installation_sheet", sheet_for(job))
    finish_visit(client, job)
    # the draft is edited after the work was reported complete: the delivered serial differs from the contract
    check = [{"item": "serial_number", "expected": "SN-1", "found": "SN-9"}]
    r = client.patch(f"/api/v1/records/{record['id']}", headers=job.auth,
                     json={"content": sheet_for(job, contract_check=check), "lock_version": record["lock_version"]})
    assert r.status_code == 200, r.get_data(as_text=True)
    record = r.get_json()
    signed = signoff_body(server_hash(client, job, record["id"]))  # that read is logged (R-ARC-3): count after it
    before = count_rows()
    body = problem(post_signoff(client, job, record["id"], signed), 409, "contract_mismatch")
    assert "SN-9" in body["detail"]
    assert count_rows() == before
    resolved = [{**check[0], "resolved": True}]
    problem(client.patch(f"/api/v1/records/{record['id']}", headers=job.auth,
                       json={"content": sheet_for(job, contract_check=resolved)}), 422, "validation_failed")
    resolved[0]["resolution"] = "sales confirmed SN-9 replaces SN-1 (contract amendment 3)"
    r = client.patch(f"/api/v1/records/{record['id']}", headers=job.auth,
                     json={"content": sheet_for(job, contract_check=resolved, installed_serial_number="SN-9"),
                           "lock_version": record["lock_version"]})
    assert r.status_code == 200, r.get_data(as_text=True)
    body = problem(sign(client, job, record["id"]), 409, "contract_mismatch")
    [mismatch] = [c for c in body["unmet_conditions"] if c["code"] == "contract_mismatch"]
    assert mismatch["details"]["mismatches"] == [{"item": "serial_number", "expected": "SN-1", "found": "SN-9",
                                                  "record_id": record["id"]}]
    office = {"Authorization": f"Bearer {make.token(make.user('office').id)}"}
    r = client.post(f"/api/v1/work-orders/{job.order.id}/contract-resolutions", headers=office,
                    json={"item": "serial_number", "resolution": "contract amendment 3: SN-9 replaces SN-1"})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert sign(client, job, record["id"]).status_code == 201


def test_r_ins_3_contract_mismatch_blocks_completing_the_installation(client: FlaskClient, job_of: Job,
                                                                      make: Factory) -> None:
    job = job_of("installation")
    check = [{"item": "model", "expected": "XR-200", "found": "XR-100"}]
    record = create_record(client, job, "installation_sheet", installation_content(contract_check=check))
    base = f"/api/v1/visits/{job.visit.id}"
    assert client.post(f"{base}/arrival", json={}, headers=job.auth).status_code == 200
    body = problem(client.post(f"{base}/departure", json={"work_complete": True}, headers=job.auth), 409,
                   "contract_mismatch")
    assert body["unmet_conditions"][0]["details"]["mismatches"][0]["record_id"] == record["id"]
    assert make.get(WorkOrder, job.order.id).status == "in_progress"
    fixed = [{"item": "model", "expected": "XR-200", "found": "XR-200"}]
    assert client.patch(f"/api/v1/records/{record['id']}", headers=job.auth,
                        json={"content": installation_content(contract_check=fixed),
                              "lock_version": record["lock_version"]}).status_code == 200
    r = client.post(f"{base}/departure", json={"work_complete": True}, headers=job.auth)
    assert r.status_code == 200, r.get_data(as_text=True)


def test_r_ins_4_commissioning_values_against_expected_range(client: FlaskClient, job_of: Job) -> None:
    job = job_of("installation")
    bad_range = [{"item": "输出压力", "measured": 4.2, "expected_min": 5, "expected_max": 4}]
    problem(post_record(client, job, "installation_sheet", installation_content(commissioning=bad_range)), 422,
            "validation_failed")
    out = [{"item": "输出压力", "measured": 6.5, "unit": "bar", "expected_min": 4, "expected_max": 5}]
    record = create_record(client, job, "installation_sheet", sheet_for(job, commissioning=out))
    finish_visit(client, job)
    body = problem(sign(client, job, record["id"]), 409, "commissioning_out_of_range")
    assert "输出压力" in body["detail"] and "6.5" in body["detail"]


def test_r_ins_5_training_names_who_and_topics(client: FlaskClient, job_of: Job) -> None:
    job = job_of("installation")
    body = problem(post_record(client, job, "installation_sheet",
                               installation_content(training={"given": True, "topics": ["start-up"]})),
                   422, "validation_failed")
    assert "trainees" in str(body["errors"])
    record = create_record(client, job, "installation_sheet", installation_content())
    assert record["content"]["training"]["trainees"] == ["操作员 A"]


def test_r_ins_6_signed_installation_sheet_registers_the_asset(client: FlaskClient, job_of: Job, make: Factory) -> None:
    job = job_of("installation", warranty_months=24)
    record = create_record(client, job, "installation_sheet", installation_content())
    finish_visit(client, job)
    r = sign(client, job, record["id"])
    assert r.status_code == 201, r.get_data(as_text=True)
    order = make.get(WorkOrder, job.order.id)
    asset = make.get(Asset, order.asset_id)
    assert asset.serial_number == "SN-1" and asset.customer_id == job.order.customer_id
    assert str(asset.install_date) == "2026-11-21" and str(asset.warranty_start) == "2026-11-21"
    assert str(asset.warranty_end) == "2028-11-20"
    assert asset.status == "in_service"


# ---- repair, maintenance, acceptance --------------------------------------------------------------

def test_r_rep_3_diagnosis_is_required_and_checked(client: FlaskClient, job_of: Job, count_rows: Counts) -> None:
    job = job_of("repair")
    before = count_rows()
    bad = repair_content()
    bad["diagnosis"] = {**bad["diagnosis"], "repair_location": "moon"}
    problem(post_record(client, job, "repair_record", bad), 422, "validation_failed")
    no_diagnosis = repair_content()
    del no_diagnosis["diagnosis"]
    problem(post_record(client, job, "repair_record", no_diagnosis), 422, "validation_failed")
    assert count_rows() == before
    record = create_record(client, job, "repair_record", repair_content())
    assert record["content"]["diagnosis"]["repair_location"] == "on_site"
    assert record["content"]["diagnosis"]["estimated_hours"] == 1.5


def test_r_rep_5_repair_record_with_parts_serials_is_signed(client: FlaskClient, job_of: Job) -> None:
    job = job_of("repair")
    record = create_record(client, job, "repair_record", repair_content())
    assert record["content"]["parts_replaced"][0] == {"part": "relay", "quantity": 1, "serial_in": "R-NEW-1",
                                                      "serial_out": "R-OLD-9"}
    finish_visit(client, job)
    r = sign(client, job, record["id"])
    assert r.status_code == 201, r.get_data(as_text=True)
    signoff = r.get_json()
    assert signoff["content_sha256"] == server_hash(client, job, record["id"])
    assert signoff["signer_name"] == "张客户" and signoff["device_id"] == "phone-7"
    got = client.get(f"/api/v1/records/{record['id']}", headers=job.auth).get_json()
    assert got["status"] == "signed" and got["content_sha256"] == signoff["content_sha256"]
    assert got["signoff"]["signed_at"]


def test_record_kind_must_fit_the_work_order(client: FlaskClient, job_of: Job) -> None:
    job = job_of("repair")
    problem(post_record(client, job, "maintenance_record", maintenance_content()), 422, "validation_failed")


@pytest.mark.parametrize("outcome, status", [("accepted", "signed"), ("rejected", "rework")])
def test_r_rep_7_acceptance_signs_the_work_order_or_sends_it_to_rework(client: FlaskClient, job_of: Job,
                                                                       make: Factory, outcome: str, status: str) -> None:
    job = job_of("repair")
    content = ACCEPTED if outcome == "accepted" else {"outcome": "rejected", "rejection_reason": "still noisy"}
    record = create_record(client, job, "work_order_acceptance", content)
    repair_record = finish_visit(client, job)
    assert make.get(WorkOrder, job.order.id).status == "work_complete"
    if outcome == "accepted":  # R-REP-5: the repair record is signed before the job is accepted
        problem(sign(client, job, record["id"]), 409, "record_unsigned")
        assert repair_record is not None and sign(client, job, repair_record["id"]).status_code == 201
    r = sign(client, job, record["id"])
    assert r.status_code == 201, r.get_data(as_text=True)
    assert make.get(WorkOrder, job.order.id).status == status


def test_r_rep_7_rejection_needs_a_reason(client: FlaskClient, job_of: Job) -> None:
    job = job_of("repair")
    problem(post_record(client, job, "work_order_acceptance", {"outcome": "rejected"}), 422, "validation_failed")


def test_r_mnt_3_maintenance_record_is_filled_and_signed(client: FlaskClient, job_of: Job) -> None:
    job = job_of("maintenance")
    problem(post_record(client, job, "maintenance_record", maintenance_content(plan_items=[])), 422,
            "validation_failed")
    record = create_record(client, job, "maintenance_record", maintenance_content())
    finish_visit(client, job)
    assert sign(client, job, record["id"]).status_code == 201


def test_r_fup_2_satisfaction_survey_filled_by_the_customer(client: FlaskClient, job_of: Job) -> None:
    job = job_of("repair")
    problem(post_record(client, job, "satisfaction_survey", {"ratings": {"response_time": 6, "attitude": 5,
                                                                         "quality": 5, "overall": 5}}),
            422, "validation_failed")
    survey = {"ratings": {"response_time": 4, "attitude": 5, "quality": 5, "overall": 5}, "comments": "师傅很专业"}
    record = create_record(client, job, "satisfaction_survey", survey)
    finish_visit(client, job)
    assert sign(client, job, record["id"]).status_code == 201


# ---- sign-off rules --------------------------------------------------------------------------------

def test_r_sig_2_sign_before_the_work_is_complete_is_409(client: FlaskClient, job_of: Job, count_rows: Counts) -> None:
    job = job_of("repair")
    record = create_record(client, job, "repair_record", repair_content())
    signed = signoff_body(server_hash(client, job, record["id"]))  # that read is logged (R-ARC-3): count after it
    before = count_rows()
    body = problem(post_signoff(client, job, record["id"], signed), 409, "work_not_complete")
    assert body["unmet_conditions"][0]["details"]["work_order_status"] == "dispatched"
    assert count_rows() == before
    finish_visit(client, job, work_complete=False)
    before = count_rows()
    problem(post_signoff(client, job, record["id"], signed), 409, "work_not_complete")
    assert count_rows() == before


def test_r_sig_1_hash_mismatch_is_refused(client: FlaskClient, job_of: Job, count_rows: Counts) -> None:
    job = job_of("repair")
    record = create_record(client, job, "repair_record", repair_content())
    finish_visit(client, job)
    before = count_rows()
    body = problem(client.post(f"/api/v1/records/{record['id']}/signoff", headers=job.auth,
                               json=signoff_body("0" * 64)), 409, "content_hash_mismatch")
    assert count_rows() == before
    assert body["server_sha256"] == server_hash(client, job, record["id"])


@pytest.mark.parametrize("override", [
    {"signature_png": "not base64!"},
    {"signature_png": "aGVsbG8gd29ybGQ="},                       # base64 of text
    {"signature_png": png_b64((5000, 1))},                       # too wide
    {"signature_png": None, "strokes": None},                    # no signature at all
    {"strokes": [[]]},
    {"strokes": [[{"x": "a", "y": 1}]]},
    {"signer_role": "neighbour"},
    {"device_time": "2026-11-23T10:00:00"},                      # naive time
    {"latitude": 200},
])
def test_r_sig_1_bad_signatures_are_422(client: FlaskClient, job_of: Job, count_rows: Counts,
                                        override: dict[str, Any]) -> None:
    job = job_of("repair")
    record = create_record(client, job, "repair_record", repair_content())
    finish_visit(client, job)
    body = signoff_body(server_hash(client, job, record["id"]), **override)
    body = {k: v for k, v in body.items() if v is not None}
    before = count_rows()
    r = client.post(f"/api/v1/records/{record['id']}/signoff", headers=job.auth, json=body)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert count_rows() == before


def test_strokes_alone_are_a_signature(client: FlaskClient, job_of: Job) -> None:
    job = job_of("repair")
    record = create_record(client, job, "repair_record", repair_content())
    finish_visit(client, job)
    r = sign(client, job, record["id"], signature_png=None)
    assert r.status_code == 422  # null is not a PNG
    body = signoff_body(server_hash(client, job, record["id"]))
    del body["signature_png"]
    r = client.post(f"/api/v1/records/{record['id']}/signoff", headers=job.auth, json=body)
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["signature_png_sha256"] is None


def test_r_sig_3_signed_record_is_immutable_and_signed_once(client: FlaskClient, job_of: Job,
                                                            count_rows: Counts) -> None:
    job = job_of("repair")
    record = create_record(client, job, "repair_record", repair_content())
    finish_visit(client, job)
    assert sign(client, job, record["id"]).status_code == 201
    again = signoff_body(server_hash(client, job, record["id"]))  # that read is logged (R-ARC-3): count after it
    before = count_rows()
    problem(client.patch(f"/api/v1/records/{record['id']}", headers=job.auth,
                       json={"content": repair_content(work_done="something else")}), 409, "record_signed")
    problem(post_signoff(client, job, record["id"], again), 409, "already_signed")
    assert count_rows() == before


def test_r_sig_3_correction_is_a_new_version_with_its_own_signature(client: FlaskClient, job_of: Job) -> None:
    job = job_of("repair")
    v1 = create_record(client, job, "repair_record", repair_content())
    finish_visit(client, job)
    problem(client.post(f"/api/v1/records/{v1['id']}/corrections", headers=job.auth,
                        json={"content": repair_content(), "reason": "typo"}), 409, "conflict")  # a draft: edit it
    assert sign(client, job, v1["id"]).status_code == 201
    r = client.post(f"/api/v1/records/{v1['id']}/corrections", headers=job.auth,
                    json={"content": repair_content(work_done="replaced the relay and the fuse"), "reason": "fuse"})
    assert r.status_code == 201, r.get_data(as_text=True)
    v2 = r.get_json()
    assert (v2["version_no"], v2["previous_version_id"], v2["status"]) == (2, v1["id"], "draft")
    assert v2["root_id"] == v1["id"]
    problem(client.post(f"/api/v1/records/{v1['id']}/corrections", headers=job.auth,
                        json={"content": repair_content(), "reason": "again"}), 409, "record_superseded")
    assert sign(client, job, v2["id"]).status_code == 201
    got = client.get(f"/api/v1/records/{v1['id']}", headers=job.auth).get_json()
    assert got["content"]["work_done"] == "replaced the relay"  # the old version is unchanged
    assert [(v["version_no"], v["status"]) for v in got["versions"]] == [(1, "signed"), (2, "signed")]
    assert got["versions"][0]["content_sha256"] != got["versions"][1]["content_sha256"]


def test_one_record_of_a_kind_per_visit(client: FlaskClient, job_of: Job) -> None:
    job = job_of("repair")
    create_record(client, job, "repair_record", repair_content())
    problem(post_record(client, job, "repair_record", repair_content()), 409, "conflict")


# ---- access ------------------------------------------------------------------------------------------

def test_r_arc_3_customers_read_only_their_own_records(client: FlaskClient, job_of: Job, make: Factory,
                                                       headers: Callable[..., dict[str, str]]) -> None:
    job = job_of("repair")
    record = create_record(client, job, "repair_record", repair_content())
    url = f"/api/v1/records/{record['id']}"
    own = headers(make.user("customer", customer_id=job.order.customer_id).id)
    other = headers(make.user("customer", customer_id=make.customer().id).id)
    assert client.get(url, headers=own).status_code == 200
    problem(client.get(url, headers=other), 404, "not_found")
    problem(client.get(f"{url}/canonical", headers=other), 404, "not_found")
    assert client.get("/api/v1/records", headers=other).get_json()["items"] == []
    assert len(client.get("/api/v1/records", headers=own).get_json()["items"]) == 1
    other_tech = job_of("repair")
    problem(client.get(url, headers=other_tech.auth), 404, "not_found")
    problem(client.patch(url, headers=other_tech.auth, json={"content": repair_content()}), 404, "not_found")
    assert client.get(url, headers=headers(role="office")).status_code == 200
    problem(client.get(url, headers=headers(role="parts_keeper")), 403, "forbidden")
    problem(client.post("/api/v1/records", headers=headers(role="office"),
                        json={"kind": "repair_record", "visit_id": str(job.visit.id), "content": {}}), 403, "forbidden")
    problem(client.post(f"{url}/signoff", headers=own, json=signoff_body("0" * 64)), 403, "forbidden")


def test_dispatcher_may_write_a_draft_for_the_technician(client: FlaskClient, job_of: Job,
                                                         headers: Callable[..., dict[str, str]]) -> None:
    job = job_of("repair")
    r = client.post("/api/v1/records", headers=headers(role="dispatcher"), json={
        "kind": "repair_record", "visit_id": str(job.visit.id), "content": repair_content()})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert r.get_json()["technician_id"] == str(job.technician.id)


@pytest.mark.parametrize("body", [
    {},
    {"kind": "repair_record", "visit_id": "nope", "content": {}},
    {"kind": "poem", "visit_id": str(uuid.uuid4()), "content": {}},
    {"kind": "repair_record", "visit_id": str(uuid.uuid4()), "content": []},
    {"kind": "repair_record", "content": {}},
    {"kind": "repair_record", "visit_id": "VISIT", "content": "x", "extra": 1},
])
def test_bad_create_bodies_are_4xx(client: FlaskClient, job_of: Job, body: dict[str, Any], count_rows: Counts) -> None:
    job = job_of("repair")
    body = {k: (str(job.visit.id) if v == "VISIT" else v) for k, v in body.items()}
    before = count_rows()
    r = client.post("/api/v1/records", headers=job.auth, json=body)
    assert 400 <= r.status_code < 500, r.get_data(as_text=True)
    assert count_rows() == before


@pytest.mark.parametrize("content", [
    {"reported_fault": "x" * 6000},
    repair_content(diagnosis={"cause": "c", "difficulty": "low", "estimated_cost_minor": -1, "estimated_hours": 1,
                              "repair_location": "on_site"}),
    repair_content(diagnosis={"cause": "c", "difficulty": "low", "estimated_cost_minor": 1,
                              "estimated_hours": "NaN", "repair_location": "on_site"}),
    repair_content(parts_replaced=[{"part": "\x00"}]),
    repair_content(photo_ids=["not-a-uuid"]),
    repair_content(unknown_field=1),
])
def test_bad_content_is_422(client: FlaskClient, job_of: Job, content: dict[str, Any], count_rows: Counts) -> None:
    job = job_of("repair")
    before = count_rows()
    problem(post_record(client, job, "repair_record", content), 422, "validation_failed")
    assert count_rows() == before


def test_unknown_record_is_404(client: FlaskClient, job_of: Job) -> None:
    job = job_of("repair")
    missing = uuid.uuid4()
    problem(client.get(f"/api/v1/records/{missing}", headers=job.auth), 404, "not_found")
    problem(client.post(f"/api/v1/records/{missing}/signoff", headers=job.auth, json=signoff_body("0" * 64)),
            404, "not_found")
