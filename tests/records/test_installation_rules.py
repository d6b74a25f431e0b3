"""Installation sheets over the JSON API against the contract and the product (issue 12): R-INS-3 (the server
compares the unit delivered with the contract line; only the back office resolves a mismatch, with who and
why), R-INS-4 (commissioning parameters and checklist of the product), R-INS-5 (training given or a reason),
R-INS-1 (party names of only spaces), R-INS-6 (signing never rewrites the asset's identity silently)."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.assets.models import Asset
from fieldservice.audit.models import AuditEvent
from fieldservice.auth.service import SYSTEM
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.records import installation
from fieldservice.records import service as records_service
from fieldservice.records.models import ContractMismatchResolution, ServiceRecord
from fieldservice.workorders.models import WorkOrder
from tests.factories import Factory
from tests.records.conftest import (
    CHECKLIST,
    contract_content,
    create_record,
    finish_visit,
    installation_content,
    sheet_for,
    sign,
)
from tests.records.test_records_api import post_record, problem

Job = Callable[..., SimpleNamespace]
Counts = Callable[[], dict[str, int]]


def resolutions_url(job: SimpleNamespace) -> str:
    return f"/api/v1/work-orders/{job.order.id}/contract-resolutions"


def headers(make: Factory, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make.token(make.user(role).id)}"}


def finished_with(client: FlaskClient, job: SimpleNamespace, content: dict[str, Any]) -> dict[str, Any]:
    """The sheet is written as the contract says, the visit is reported complete (the lifecycle gate lets it:
    no mismatch yet), then the technician edits the draft to `content` before the customer signs: a mismatch
    can only reach the sign-off this way (R-INS-3 blocks the completion)."""
    record = create_record(client, job, "installation_sheet", contract_content(job))
    finish_visit(client, job)
    r = patch(client, job, record, content)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()  # type: ignore[no-any-return]


def unmet(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(code, rule) of each condition the lifecycle gate found unmet."""
    return [(c["code"], c["rule"]) for c in body["unmet_conditions"]]


def mismatches(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for c in body["unmet_conditions"] if c["code"] == "contract_mismatch"
            for m in c["details"]["mismatches"]]


def patch(client: FlaskClient, job: SimpleNamespace, record: dict[str, Any], content: dict[str, Any]) -> Any:
    current = client.get(f"/api/v1/records/{record['id']}", headers=job.auth).get_json()["lock_version"]
    return client.patch(f"/api/v1/records/{record['id']}", headers=job.auth,
                        json={"content": content, "lock_version": current})


# ---- R-INS-3: the contract is the source of truth -------------------------------------------------------

def test_r_ins_3_api_signoff_refused_when_the_unit_differs_from_the_contract_whatever_the_sheet_says(
        app: Flask, client: FlaskClient, contract_job: Job, make: Factory, count_rows: Counts) -> None:
    """R-INS-3: the sheet says expected SN-7, found SN-7 (no mismatch on its face), but the contract line
    says SN-1: the server compares with the contract and refuses the sign-off; the asset keeps its serial
    and stays awaiting installation (before: signed, and the asset's serial rewritten to SN-7)."""
    job = contract_job()
    record = finished_with(client, job, contract_content(job, serial="SN-7", typed_serial="SN-7"))
    before = count_rows()
    body = problem(sign(client, job, record["id"]), 409, "contract_mismatch")
    assert mismatches(body) == [{"item": "serial_number", "expected": "SN-1", "found": "SN-7",
                                 "record_id": record["id"]}]
    assert ("contract_mismatch", "R-INS-3") in unmet(body)
    assert count_rows()["signoffs"] == before["signoffs"] == 0
    asset = make.get(Asset, job.asset.id)
    assert asset.serial_number == "SN-1" and asset.status == "awaiting_installation" and asset.install_date is None
    with app.app_context():
        assert not db.session.get(ServiceRecord, uuid.UUID(record["id"])).is_signed


def test_r_ins_3_model_configuration_and_typed_expected_are_checked_against_the_contract_line(
        app: Flask, client: FlaskClient, contract_job: Job) -> None:
    """R-INS-3: model (the line's product), configuration (the line's) and a typed `expected` that differs
    from the contract are each reported; a contract item the sheet does not check at all blocks too."""
    job = contract_job()
    content = contract_content(job)
    content["contract_check"] = [
        {"item": "model", "expected": job.product.model_code, "found": "XR-100"},
        {"item": "serial_number", "expected": "SN-0", "found": "SN-1"},
        {"item": "configuration", "expected": "豪华配置", "found": "豪华配置"},
    ]
    record = create_record(client, job, "installation_sheet", content)
    with app.app_context():
        order = db.session.get(WorkOrder, job.order.id)
        found = {(m["item"], m["expected"], m["found"]) for m in installation.open_contract_mismatches(order)}
    assert found == {("model", job.product.model_code, "XR-100"), ("serial_number", "SN-1", "SN-0"),
                     ("configuration", "标准配置 220V/50Hz", "豪华配置")}
    # without a model line the sheet has not checked the model the contract states
    content["contract_check"] = contract_content(job)["contract_check"][1:]
    assert patch(client, job, record, content).status_code == 200
    finish_visit(client, job)
    body = problem(sign(client, job, record["id"]), 409, "contract_check_missing")
    assert unmet(body) == [("contract_check_missing", "R-INS-3")]


def test_r_ins_3_departure_refused_for_a_mismatch_only_the_server_sees(client: FlaskClient, contract_job: Job,
                                                                       make: Factory) -> None:
    """R-INS-3 (check_visit_can_complete): the visit's departure with the work complete is refused for the
    server-detected mismatch, naming the sheet."""
    job = contract_job()
    record = create_record(client, job, "installation_sheet", contract_content(job, serial="SN-7", typed_serial="SN-7"))
    base = f"/api/v1/visits/{job.visit.id}"
    assert client.post(f"{base}/arrival", json={}, headers=job.auth).status_code == 200
    body = problem(client.post(f"{base}/departure", json={"work_complete": True}, headers=job.auth), 409,
                   "contract_mismatch")
    assert mismatches(body)[0]["record_id"] == record["id"] and "SN-1" in body["detail"]
    assert make.get(WorkOrder, job.order.id).status == "in_progress"


def test_r_ins_3_resolution_endpoint_roles_problems_and_audit(app: Flask, client: FlaskClient, contract_job: Job,
                                                             make: Factory, count_rows: Counts) -> None:
    """R-INS-3: only the back office resolves (403 for the technician), a blank reason is 422, a mismatch that
    is not open is 409, and a resolution is recorded with who, when and why and audited."""
    job = contract_job()
    record = finished_with(client, job, contract_content(job, serial="SN-7", typed_serial="SN-7"))
    url = resolutions_url(job)
    body = {"item": "serial_number", "resolution": "合同变更单 3：SN-7 替换 SN-1"}
    office = headers(make, "office")
    before = count_rows()
    problem(client.post(url, json=body, headers=job.auth), 403, "forbidden")
    problem(client.post(url, json={**body, "resolution": "   \u3000 "}, headers=office), 422, "validation_failed")
    problem(client.post(url, json={**body, "item": "model"}, headers=office), 409, "no_open_mismatch")
    problem(client.post(url, json={**body, "found": "SN-8"}, headers=office), 409, "no_open_mismatch")
    problem(client.post(f"/api/v1/work-orders/{uuid.uuid4()}/contract-resolutions", json=body, headers=office),
            404, "not_found")
    assert count_rows() == before
    listed = client.get(url, headers=job.auth).get_json()
    assert listed["open_mismatches"] == [{"item": "serial_number", "expected": "SN-1", "found": "SN-7",
                                          "record_id": record["id"]}] and listed["resolutions"] == []
    dispatcher = make.user("dispatcher")
    r = client.post(url, json=body, headers={"Authorization": f"Bearer {make.token(dispatcher.id)}"})
    assert r.status_code == 201, r.get_data(as_text=True)
    resolution = r.get_json()
    assert (resolution["item"], resolution["expected"], resolution["found"]) == ("serial_number", "SN-1", "SN-7")
    assert resolution["resolved_by_id"] == str(dispatcher.id) and resolution["resolution"] == body["resolution"]
    problem(client.post(url, json=body, headers=headers(make, "admin")), 409, "no_open_mismatch")  # resolved once
    listed = client.get(url, headers=job.auth).get_json()   # the job's technician reads it
    assert listed["open_mismatches"] == [] and [x["id"] for x in listed["resolutions"]] == [resolution["id"]]
    other = make.technician()
    problem(client.get(url, headers={"Authorization": f"Bearer {make.token(other.user_id)}"}), 404, "not_found")
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "contract_mismatch.resolve")).one()
        assert event.entity_id == uuid.UUID(resolution["id"]) and event.actor_user_id == dispatcher.id
        assert event.details["found"] == "SN-7" and event.details["resolution"] == body["resolution"]


def test_r_ins_6_signing_after_the_resolution_updates_the_asset_serial_with_the_resolution_in_the_audit(
        app: Flask, client: FlaskClient, contract_job: Job, make: Factory) -> None:
    """R-INS-3/6: once the back office resolved SN-1 -> SN-7, the sheet is signed and the unit enters the
    archive: in service, install date, warranty, serial SN-7, the change audited with the resolution's id."""
    job = contract_job()
    record = finished_with(client, job, contract_content(job, serial="SN-7"))
    problem(sign(client, job, record["id"]), 409, "contract_mismatch")
    office = make.user("office")
    r = client.post(resolutions_url(job), json={"item": "serial_number", "resolution": "客户确认，合同变更单 3"},
                    headers={"Authorization": f"Bearer {make.token(office.id)}"})
    assert r.status_code == 201, r.get_data(as_text=True)
    signed = sign(client, job, record["id"])
    assert signed.status_code == 201, signed.get_data(as_text=True)
    asset = make.get(Asset, job.asset.id)
    assert asset.serial_number == "SN-7" and asset.status == "in_service"
    assert str(asset.install_date) == "2026-11-21" and str(asset.warranty_end) == "2028-11-20"
    assert make.get(WorkOrder, job.order.id).asset_id == job.asset.id
    with app.app_context():
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "asset.update",
                                                              AuditEvent.entity_id == job.asset.id)).one()
        assert event.details["serial_number"] == ["SN-1", "SN-7"]
        assert event.details["resolution_id"] == r.get_json()["id"]
        assert event.details["status"] == ["awaiting_installation", "in_service"]


def test_r_ins_6_registering_the_asset_refuses_a_serial_change_without_a_resolution(
        app: Flask, client: FlaskClient, contract_job: Job) -> None:
    """R-INS-6: `_register_asset` (what signing the sheet runs) never rewrites the registered serial by
    itself: 409 asset_serial_differs, the asset unchanged."""
    job = contract_job()
    with app.app_context(), pytest.raises(records_service.AssetIdentityConflict) as refused:
        with unit_of_work():
            order = db.session.get(WorkOrder, job.order.id)
            records_service._register_asset(SYSTEM, order, contract_content(job, serial="SN-7"),  # noqa: SLF001
                                            datetime.now(UTC))
    assert refused.value.status == 409 and refused.value.extra["asset_serial_number"] == "SN-1"
    with app.app_context():
        asset = db.session.get(Asset, job.asset.id)
        assert asset.serial_number == "SN-1" and asset.status.value == "awaiting_installation"


def test_r_ins_6_a_unit_awaiting_installation_is_not_put_in_service_by_hand(client: FlaskClient, contract_job: Job,
                                                                            make: Factory) -> None:
    """R-INS-6: the unit enters service only through its signed installation sheet."""
    job = contract_job()
    problem(client.patch(f"/api/v1/assets/{job.asset.id}", json={"status": "in_service"},
                         headers=headers(make, "dispatcher")), 409, "invalid_transition")
    assert make.get(Asset, job.asset.id).status == "awaiting_installation"


# ---- R-INS-4: the product's commissioning parameters and checklist -------------------------------------

def test_r_ins_4_commissioning_items_and_ranges_follow_the_product(client: FlaskClient, job_of: Job,
                                                                   count_rows: Counts) -> None:
    """R-INS-4: an item that is not a parameter of the product, a range other than the product's, or no range
    at all is refused on create and on update of the draft (422), and nothing is written."""
    job = job_of("installation")
    before = count_rows()
    for commissioning, field in (
            ([{"item": "电压", "measured": 220, "unit": "V"}], "item"),
            ([{"item": "输出压力", "measured": 4.2, "unit": "bar", "expected_min": 3, "expected_max": 5}], "expected_min"),
            ([{"item": "输出压力", "measured": 4.2, "unit": "bar"}], "expected_max"),
            ([{"item": "输出压力", "measured": 4.2, "unit": "psi", "expected_min": 4, "expected_max": 5}], "unit")):
        body = problem(post_record(client, job, "installation_sheet", installation_content(commissioning=commissioning)),
                       422, "validation_failed")
        assert field in body["errors"]["json"]["content"]["commissioning"]["0"], body
    body = problem(post_record(client, job, "installation_sheet",
                               installation_content(install_steps=[{"step": "随便装一下", "done": True}])),
                   422, "validation_failed")
    assert "install_steps" in body["errors"]["json"]["content"]
    assert count_rows() == before
    record = create_record(client, job, "installation_sheet", installation_content())
    unknown = installation_content(commissioning=[{"item": "电压", "measured": 220}])
    problem(patch(client, job, record, unknown), 422, "validation_failed")


def test_r_ins_4_every_parameter_measured_in_the_products_range_and_every_step_done_to_sign(
        client: FlaskClient, job_of: Job, make: Factory, count_rows: Counts) -> None:
    """R-INS-4: to sign, every parameter of the product is measured within the product's range and every
    step of its checklist is done (before: nothing was checked against the product)."""
    job = job_of("installation")
    steps = [{"step": CHECKLIST[0], "done": True}, {"step": CHECKLIST[1], "done": False, "note": "没有接地端子"}]
    record = create_record(client, job, "installation_sheet", sheet_for(job, install_steps=steps))
    finish_visit(client, job)
    before = count_rows()
    body = problem(sign(client, job, record["id"]), 409, "install_step_not_done")
    assert unmet(body) == [("install_step_not_done", "R-INS-4")]
    assert CHECKLIST[1] in body["detail"]
    assert count_rows()["signoffs"] == before["signoffs"]
    out = sheet_for(job, commissioning=[{"item": "输出压力", "measured": 5.5, "unit": "bar",
                                         "expected_min": 4, "expected_max": 5}])
    assert patch(client, job, record, out).status_code == 200
    body = problem(sign(client, job, record["id"]), 409, "commissioning_out_of_range")
    assert unmet(body) == [("commissioning_out_of_range", "R-INS-4")] and "5.5" in body["detail"]
    assert patch(client, job, record, sheet_for(job)).status_code == 200
    assert sign(client, job, record["id"]).status_code == 201


def test_r_ins_4_a_parameter_added_to_the_product_must_be_measured(app: Flask, client: FlaskClient, job_of: Job,
                                                                   make: Factory) -> None:
    """R-INS-4: the product's parameters at signing count: one added after the draft was written and not
    measured blocks the signature (installation_incomplete, commissioning_missing)."""
    job = job_of("installation")
    record = create_record(client, job, "installation_sheet", sheet_for(job))
    finish_visit(client, job)
    parameters = [{"name": "输出压力", "unit": "bar", "min": 4, "max": 5}, {"name": "噪声", "unit": "dB", "min": 0, "max": 70}]
    r = client.patch(f"/api/v1/products/{job.product.id}", json={"commissioning_parameters": parameters},
                     headers=headers(make, "admin"))
    assert r.status_code == 200, r.get_data(as_text=True)
    body = problem(sign(client, job, record["id"]), 409, "commissioning_missing")
    assert [code for code, _ in unmet(body)] == ["commissioning_missing"] and "噪声" in body["detail"]


def test_r_ins_4_a_product_without_a_procedure_keeps_the_sheets_own_items_and_ranges(client: FlaskClient,
                                                                                    job_of: Job) -> None:
    """R-INS-4: a product that defines no parameters nor checklist: the sheet's items and ranges are used."""
    job = job_of("installation", procedure=False)
    free = [{"item": "pressure", "measured": 6.5, "expected_min": 4, "expected_max": 5}, {"item": "noise", "measured": 60}]
    record = create_record(client, job, "installation_sheet",
                           sheet_for(job, commissioning=free, install_steps=[{"step": "自定步骤", "done": True}]))
    finish_visit(client, job)
    problem(sign(client, job, record["id"]), 409, "commissioning_out_of_range")
    free[0]["measured"] = 4.5
    assert patch(client, job, record, sheet_for(job, commissioning=free)).status_code == 200
    assert sign(client, job, record["id"]).status_code == 201


# ---- R-INS-5 and R-INS-1 ---------------------------------------------------------------------------

def test_r_ins_5_training_not_given_needs_a_recorded_reason_to_sign(client: FlaskClient, job_of: Job,
                                                                    count_rows: Counts) -> None:
    """R-INS-5: a draft may say training was not given; signing needs it given or the reason recorded
    (before: "not given" was signed as is)."""
    job = job_of("installation")
    record = create_record(client, job, "installation_sheet", sheet_for(job, training={"given": False}))
    finish_visit(client, job)
    before = count_rows()
    body = problem(sign(client, job, record["id"]), 409, "training_not_recorded")
    assert unmet(body) == [("training_not_recorded", "R-INS-5")]
    assert count_rows()["signoffs"] == before["signoffs"]
    blank = sheet_for(job, training={"given": False, "not_given_reason": "  "})
    assert patch(client, job, record, blank).status_code == 200
    problem(sign(client, job, record["id"]), 409, "training_not_recorded")
    excused = sheet_for(job, training={"given": False, "not_given_reason": "客户操作员休假，约定 12 月 3 日补训"})
    assert patch(client, job, record, excused).status_code == 200
    assert sign(client, job, record["id"]).status_code == 201


@pytest.mark.parametrize("name", ["   ", "\u3000\u3000", " \t "])
def test_r_ins_1_party_names_of_only_whitespace_are_refused(client: FlaskClient, job_of: Job, count_rows: Counts,
                                                            name: str) -> None:
    """R-INS-1: a party "present" whose name is only spaces names nobody: 422, nothing written."""
    job = job_of("installation")
    content = installation_content()
    content["unpacking"]["parties"]["delivery"] = name
    before = count_rows()
    body = problem(post_record(client, job, "installation_sheet", content), 422, "validation_failed")
    assert body["errors"]["json"]["content"]["unpacking"]["parties"]["delivery"] == ["must not be blank"]
    assert count_rows() == before


# ---- the rules module alone -------------------------------------------------------------------------

def test_sheet_sign_problems_lists_every_rule_and_ignores_other_kinds(app: Flask, client: FlaskClient,
                                                                      contract_job: Job) -> None:
    """installation.sheet_sign_problems: one list of {code, rule, message} for the lifecycle gate."""
    job = contract_job()
    content = contract_content(job, serial="SN-7", training={"given": False},
                               install_steps=[{"step": CHECKLIST[0], "done": True}],
                               commissioning=[{"item": "输出压力", "measured": 9, "expected_min": 4, "expected_max": 5}])
    record = create_record(client, job, "installation_sheet", content)
    with app.app_context():
        sheet = db.session.get(ServiceRecord, uuid.UUID(record["id"]))
        order = db.session.get(WorkOrder, job.order.id)
        problems = installation.sheet_sign_problems(sheet, order)
        assert [(p["code"], p["rule"]) for p in problems] == [
            ("contract_mismatch", "R-INS-3"), ("commissioning_out_of_range", "R-INS-4"),
            ("install_step_not_done", "R-INS-4"), ("training_not_recorded", "R-INS-5")]
        assert all(set(p) == {"code", "rule", "message"} and p["message"] for p in problems)
        sheet.kind = type(sheet.kind)("repair_record")
        assert installation.sheet_sign_problems(sheet, order) == []
        db.session.rollback()
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ContractMismatchResolution)) == 0
