"""Record test fixtures: a job of each kind with its technician's login, content samples, and helpers
that finish the visit and sign with the server's own canonical hash."""
from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Callable
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
        "training": {"given": True, "trainer": "Tech", "trainees": ["操作员 A"], "topics": ["开机", "日常清洁"]},
        "installed_serial_number": "SN-1",
        "installed_on": "2026-11-21",
    }
    content.update(overrides)
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
    """A work order of `kind` with one visit assigned to a certified technician who has a login."""

    def build(kind: str = "repair", *, customer_id: uuid.UUID | None = None, warranty_months: int = 12) -> SimpleNamespace:
        line = make.product_line()
        product = make.product(line.id, warranty_months=warranty_months)
        tech = make.technician(certified_for=[line.id])
        order = make.work_order(kind=kind, product_id=product.id, customer_id=customer_id)
        visit = make.visit(order.id, technician_id=tech.id)
        auth = {"Authorization": f"Bearer {make.token(tech.user_id)}"}
        return SimpleNamespace(order=order, visit=visit, technician=tech, product=product, auth=auth)

    return build


JOB_RECORD = {"installation": ("installation_sheet", installation_content),
              "repair": ("repair_record", repair_content),
              "maintenance": ("maintenance_record", maintenance_content)}


def write_job_record(client: FlaskClient, job: SimpleNamespace) -> dict[str, Any] | None:
    """The record the job's kind requires (installation sheet, repair or maintenance record), written on the
    visit unless one is there: the lifecycle gate refuses "work complete" without it (R-INS-6, R-REP-5,
    R-MNT-3). Returns the record written, or None when the visit had one."""
    kind, content = JOB_RECORD[str(job.order.kind)]
    r = client.post("/api/v1/records", json={"kind": kind, "visit_id": str(job.visit.id), "content": content()},
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
