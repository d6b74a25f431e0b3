"""Installation sheets by sync push (issue 12): the same R-INS-3/4/5 rules as the API. A sheet that does not
follow its product is quarantined (validation_failed); a sign-off of a sheet whose unit differs from the
contract, or whose commissioning, checklist or training is not complete, is quarantined with the reason,
nothing lost, and the asset is left as registered."""
from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from fieldservice.assets.models import Asset
from fieldservice.extensions import db
from fieldservice.records.models import ServiceRecord
from tests.factories import Factory
from tests.records.conftest import (
    CHECKLIST,
    contract_content,
    finish_visit,
    installation_content,
    sheet_for,
)
from tests.sync.test_records_push import _draft, _hash, _rejections, _signoff

Job = Callable[..., SimpleNamespace]


def _sheet_then_signoff(client: FlaskClient, phone: Any, job: SimpleNamespace, content: dict[str, Any], *,
                        first: dict[str, Any] | None = None) -> tuple[str, str]:
    """The phone writes the sheet offline (`first`, else `content`) and syncs; the work is reported complete
    (API; the lifecycle gate wants the sheet written and no contract mismatch open); with `first`, the phone
    then edits the draft to `content` and syncs; the customer signs the server's canonical hash on the phone.
    Returns (record id, sign-off id), the sign-off not pushed yet."""
    phone.sync()
    record_id = _draft(phone, job, "installation_sheet", first or content)
    result = phone.sync()
    assert result["accepted"] == 1 and result["rejected"] == 0, result
    finish_visit(client, job)
    if first is not None:
        phone.sync()
        phone.edit("service_records", record_id, content_json=json.dumps(content, ensure_ascii=False))
        result = phone.sync()
        assert result["accepted"] == 1 and result["rejected"] == 0, result
    signoff_id = _signoff(phone, record_id, _hash(client, phone, record_id), content=content)
    return record_id, signoff_id


def _codes(rejection: Any) -> list[str]:
    return [c["code"] for c in rejection.unmet_conditions or []]


def test_r_ins_3_pushed_signoff_of_a_sheet_whose_unit_differs_from_the_contract_is_quarantined(
        app: Flask, client: FlaskClient, make: Factory, contract_job: Job, phone_for) -> None:  # type: ignore[no-untyped-def]
    """R-INS-3: the phone's sheet says expected SN-7, found SN-7; the contract line says SN-1. The pushed
    sign-off is quarantined with the reason (before: accepted, and the asset's serial rewritten)."""
    job = contract_job()
    phone = phone_for(job.technician)
    record_id, signoff_id = _sheet_then_signoff(client, phone, job,
                                                contract_content(job, serial="SN-7", typed_serial="SN-7"),
                                                first=contract_content(job))
    result = phone.sync()
    assert result["rejected"] == 1 and result["accepted"] == 0, result
    [rejection] = _rejections(app)
    assert (rejection.table_name, rejection.record_id) == ("signoffs", signoff_id)
    assert rejection.reason_code == "conditions_not_met" and "contract_mismatch" in _codes(rejection)
    assert "SN-1" in rejection.reason and "SN-7" in rejection.reason
    assert rejection.payload["signature_png"]  # nothing lost
    with app.app_context():
        assert not db.session.get(ServiceRecord, uuid.UUID(record_id)).is_signed
        asset = db.session.get(Asset, job.asset.id)
        assert asset.serial_number == "SN-1" and asset.status.value == "awaiting_installation"
    phone.sync()
    assert phone.get("signoffs", signoff_id)["sync_status"] == "rejected"


def test_r_ins_4_pushed_sheet_with_an_item_the_product_does_not_define_is_quarantined(
        app: Flask, client: FlaskClient, make: Factory, job_of: Job, phone_for) -> None:  # type: ignore[no-untyped-def]
    """R-INS-4: the same validation as the API (apply_pushed_record -> create_record): a commissioning item
    that is not a parameter of the product is quarantined, not stored."""
    job = job_of("installation")
    phone = phone_for(job.technician)
    phone.sync()
    record_id = _draft(phone, job, "installation_sheet",
                       installation_content(commissioning=[{"item": "电压", "measured": 220, "unit": "V"}]))
    result = phone.sync()
    assert result["rejected"] == 1, result
    [rejection] = _rejections(app)
    assert (rejection.table_name, rejection.record_id, rejection.reason_code) == (
        "service_records", record_id, "validation_failed")
    assert json.loads(rejection.payload["content_json"])["commissioning"][0]["item"] == "电压"
    with app.app_context():
        assert db.session.get(ServiceRecord, uuid.UUID(record_id)) is None


def test_r_ins_4_5_pushed_signoff_with_steps_not_done_and_no_training_is_quarantined(
        app: Flask, client: FlaskClient, make: Factory, job_of: Job, phone_for) -> None:  # type: ignore[no-untyped-def]
    """R-INS-4/5: a checklist step not done and training neither given nor excused: the pushed sign-off is
    quarantined as installation_incomplete, naming both (before: accepted)."""
    job = job_of("installation")
    phone = phone_for(job.technician)
    content = sheet_for(job, install_steps=[{"step": CHECKLIST[0], "done": True}], training={"given": False})
    record_id, signoff_id = _sheet_then_signoff(client, phone, job, content)
    result = phone.sync()
    assert result["rejected"] == 1, result
    [rejection] = _rejections(app)
    assert rejection.record_id == signoff_id and rejection.reason_code == "conditions_not_met"
    assert _codes(rejection) == ["install_step_not_done", "training_not_recorded"]
    assert CHECKLIST[1] in rejection.reason and "training" in rejection.reason
    with app.app_context():
        assert not db.session.get(ServiceRecord, uuid.UUID(record_id)).is_signed


def test_r_ins_4_pushed_signoff_with_a_value_out_of_the_products_range_is_quarantined(
        app: Flask, client: FlaskClient, make: Factory, job_of: Job, phone_for) -> None:  # type: ignore[no-untyped-def]
    """R-INS-4: out of the product's range on the sync path: quarantined as commissioning_out_of_range."""
    job = job_of("installation")
    phone = phone_for(job.technician)
    content = sheet_for(job, commissioning=[{"item": "输出压力", "measured": 7.5, "unit": "bar",
                                             "expected_min": 4, "expected_max": 5}])
    _, signoff_id = _sheet_then_signoff(client, phone, job, content)
    assert phone.sync()["rejected"] == 1
    [rejection] = _rejections(app)
    assert rejection.record_id == signoff_id and _codes(rejection) == ["commissioning_out_of_range"]
