"""Record test fixtures: a job of each kind with its technician's login, content samples, and helpers
that finish the visit and sign with the server's own canonical hash."""
from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Callable
from datetime import date
from types import SimpleNamespace
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image

from tests.factories import Factory


def png_b64(size: tuple[int, int] = (60, 20)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, (255, 255, 255)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


# R-INS-4: the installation procedure of the products that `job_of("installation")` makes
PARAMETERS = [{"name": "输出压力", "unit": "bar", "min": 4, "max": 5}]
CHECKLIST = ["固定地脚螺栓", "接通电源并检查接地"]


def installation_content(**overrides: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "unpacking": {"inspected_on": "2026-11-20",
                      "parties": {"sales": "王销售", "delivery": "李物流", "customer_representative": "张代表"}},
        "packaging": {"damaged": False},
        "contract_check": [
            {"item": "model", "expected": "XR-200", "found": "XR-200"},
            {"item": "serial_number", "expected": "SN-1", "found": "SN-1"},
        ],
        "commissioning": [{"item": "输出压力", "measured": 4.2, "unit": "bar", "expected_min": 4, "expected_max": 5}],
        "install_steps": [{"step": step, "done": True} for step in CHECKLIST],
        "training": {"given": True, "trainer": "Tech", "trainees": ["操作员 A"], "topics": ["开机", "日常清洁"]},
        "installed_serial_number": "SN-1",
        "installed_on": "2026-11-21",
    }
    content.update(overrides)
    return content


def sheet_for(job: SimpleNamespace, **overrides: Any) -> dict[str, Any]:
    """An installation sheet for `job` whose model line states the job's product (R-INS-3: the server checks
    the model delivered against it), otherwise `installation_content(**overrides)`."""
    content = installation_content(**overrides)
    model = job.product.model_code
    checks = [c for c in content["contract_check"] if c["item"] != "model"]
    content["contract_check"] = [{"item": "model", "expected": model, "found": model}, *checks]
    return content


def repair_content(**overrides: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "reported_fault": "不制冷 no cooling",
        "diagnosis": {"cause": "compressor relay burnt", "difficulty": "medium", "estimated_cost_minor": 35000,
                      "estimated_hours": 1.5, "repair_location": "on_site"},
        "cause_explained": True,
        "work_done": "replaced the relay",
        "parts_replaced": [{"part": "relay", "quantity": 1, "serial_in": "R-NEW-1", "serial_out": "R-OLD-9"}],
        "test_result": {"passed": True, "details": "cools to 4 °C in 20 min"},
        "retraining": {"given": True, "trainees": ["张三"], "topics": ["door seal care"]},
    }
    content.update(overrides)
    return content


def maintenance_content(**overrides: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "plan_items": [{"item": "clean filters", "done": True}, {"item": "check belts", "done": True, "note": "ok"}],
        "findings": "belt slightly worn",
        "measurements": [{"name": "current", "value": 3.1, "unit": "A"}],
        "training": {"given": False},
    }
    content.update(overrides)
    return content


ACCEPTED = {"outcome": "accepted", "comments": "满意"}


@pytest.fixture
def job_of(make: Factory) -> Callable[..., SimpleNamespace]:
    """A work order of `kind` with one visit assigned to a certified technician who has a login. The product
    of an installation job has the commissioning PARAMETERS and the CHECKLIST (R-INS-4) unless
    `procedure=False`; `asset_id` makes it the installation of that (registered) unit."""

    def build(kind: str = "repair", *, customer_id: uuid.UUID | None = None, warranty_months: int = 12,
              procedure: bool | None = None, **order: Any) -> SimpleNamespace:
        line = make.product_line()
        if procedure if procedure is not None else kind == "installation":
            order_product = {"commissioning_parameters": PARAMETERS, "installation_checklist": CHECKLIST}
        else:
            order_product = {}
        product = make.product(line.id, warranty_months=warranty_months, **order_product)
        tech = make.technician(certified_for=[line.id])
        order = make.work_order(kind=kind, product_id=product.id, customer_id=customer_id, **order)
        visit = make.visit(order.id, technician_id=tech.id)
        auth = {"Authorization": f"Bearer {make.token(tech.user_id)}"}
        return SimpleNamespace(order=order, visit=visit, technician=tech, product=product, auth=auth)

    return build


CONFIGURATION = "标准配置 220V/50Hz"


@pytest.fixture
def contract_job(make: Factory) -> Callable[..., SimpleNamespace]:
    """An installation job for a unit sold on a contract: the contract line (the product with PARAMETERS
    and CHECKLIST, serial `serial`, CONFIGURATION), the asset registered on that line and awaiting
    installation, the installation work order naming the asset, one visit, its technician's login."""
    from fieldservice.assets.models import AssetStatus
    from fieldservice.auth.service import SYSTEM
    from fieldservice.contracts import service as contracts

    def build(*, serial: str = "SN-1", configuration: str | None = CONFIGURATION) -> SimpleNamespace:
        customer = make.customer()
        site = make.site(customer.id)
        product_line = make.product_line()
        product = make.product(product_line.id, warranty_months=24, commissioning_parameters=PARAMETERS,
                               installation_checklist=CHECKLIST)
        contract = make._run(lambda: contracts.create_contract(SYSTEM, {
            "number": f"HT-{customer.id.hex[:10]}", "customer_id": customer.id, "signed_on": date(2026, 10, 8),
            "lines": [{"product_id": product.id, "serial_number": serial, "configuration": configuration,
                       "unit_price_minor": 86_000_00, "sale_date": date(2026, 10, 8)}]}))
        line_id = make._run(lambda: contracts.get_contract(SYSTEM, contract.id).lines[0]).id
        asset = make.asset(customer.id, site.id, product.id, contract_line_id=line_id, serial_number=serial,
                           status=AssetStatus.AWAITING_INSTALLATION)
        tech = make.technician(certified_for=[product_line.id])
        order = make.work_order(kind="installation", customer_id=customer.id, site_id=site.id,
                                product_id=product.id, asset_id=asset.id)
        visit = make.visit(order.id, technician_id=tech.id)
        auth = {"Authorization": f"Bearer {make.token(tech.user_id)}"}
        return SimpleNamespace(order=order, visit=visit, technician=tech, product=product, asset=asset,
                               contract=contract, line_id=line_id, serial=serial, auth=auth)

    return build


def contract_content(job: SimpleNamespace, *, serial: str | None = None, typed_serial: str | None = None,
                     **overrides: Any) -> dict[str, Any]:
    """An installation sheet of a `contract_job` whose checks agree with its contract, unless `serial` (the
    serial found and installed) or `typed_serial` (the serial typed as expected) say otherwise."""
    found = serial or job.serial
    check = [{"item": "model", "expected": job.product.model_code, "found": job.product.model_code},
             {"item": "serial_number", "expected": typed_serial or job.serial, "found": found},
             {"item": "configuration", "expected": CONFIGURATION, "found": CONFIGURATION}]
    return installation_content(contract_check=check, installed_serial_number=found, **overrides)


JOB_RECORD = {"installation": ("installation_sheet", installation_content),
              "repair": ("repair_record", repair_content),
              "maintenance": ("maintenance_record", maintenance_content)}


def write_job_record(client: FlaskClient, job: SimpleNamespace) -> dict[str, Any] | None:
    """The record the job's kind requires (installation sheet, repair or maintenance record), written on the
    visit unless one is there: the lifecycle gate refuses "work complete" without it (R-INS-6, R-REP-5,
    R-MNT-3). Returns the record written, or None when the visit had one."""
    kind, content = JOB_RECORD[str(job.order.kind)]
    body = sheet_for(job) if kind == "installation_sheet" else content()
    r = client.post("/api/v1/records", json={"kind": kind, "visit_id": str(job.visit.id), "content": body},
                    headers=job.auth)  # not a GET first: that read would be in the archive read log
    if r.status_code == 409 and "existing_id" in r.get_json():
        return None  # the visit has its record already
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()  # type: ignore[no-any-return]


def finish_visit(client: FlaskClient, job: SimpleNamespace, *, work_complete: bool = True) -> dict[str, Any] | None:
    """Arrival, then departure; with the work complete, the job's record is written first if missing (that
    record is returned)."""
    base = f"/api/v1/visits/{job.visit.id}"
    r = client.post(f"{base}/arrival", json={}, headers=job.auth)
    assert r.status_code == 200, r.get_data(as_text=True)
    written = write_job_record(client, job) if work_complete else None
    r = client.post(f"{base}/departure", json={"work_complete": work_complete}, headers=job.auth)
    assert r.status_code == 200, r.get_data(as_text=True)
    return written


def create_record(client: FlaskClient, job: SimpleNamespace, kind: str, content: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/api/v1/records", json={"kind": kind, "visit_id": str(job.visit.id), "content": content},
                    headers=job.auth)
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.get_json()  # type: ignore[no-any-return]


def server_hash(client: FlaskClient, job: SimpleNamespace, record_id: str) -> str:
    r = client.get(f"/api/v1/records/{record_id}/canonical", headers=job.auth)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["content_sha256"]  # type: ignore[no-any-return]


def signoff_body(content_sha256: str, **overrides: Any) -> dict[str, Any]:
    body = {"content_sha256": content_sha256, "signer_name": "张客户", "signer_role": "customer",
            "signature_png": png_b64(), "strokes": [[{"x": 1, "y": 2, "t": 0}, {"x": 3.5, "y": 4, "t": 16}]],
            "device_id": "phone-7", "device_time": "2026-11-23T10:00:00+08:00", "latitude": 31.2, "longitude": 121.5}
    body.update(overrides)
    return body


def sign(client: FlaskClient, job: SimpleNamespace, record_id: str, **overrides: Any):  # type: ignore[no-untyped-def]
    body = signoff_body(server_hash(client, job, record_id), **overrides)
    return client.post(f"/api/v1/records/{record_id}/signoff", json=body, headers=job.auth)
