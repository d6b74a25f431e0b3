"""Lifecycle fixtures: the records and sync fixtures (a job of each kind, a phone), and a few steps of a job
done the way a person does them over the API."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.extensions import db
from fieldservice.records.models import ServiceRecord
from fieldservice.technicians.models import Certification
from sync.models import RejectionStatus, SyncRejection
from tests.records.conftest import job_of, png_b64  # noqa: F401
from tests.sync.conftest import phone_for  # noqa: F401


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def ago(minutes: float) -> datetime:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).replace(microsecond=0)


def office(make: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {make.token(make.user('office').id)}"}


def dispatcher(make: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {make.token(make.user('dispatcher').id)}"}


def arrive(client: FlaskClient, job: SimpleNamespace) -> Any:
    return client.post(f"/api/v1/visits/{job.visit.id}/arrival", json={}, headers=job.auth)


def depart(client: FlaskClient, job: SimpleNamespace, *, work_complete: bool = True) -> Any:
    return client.post(f"/api/v1/visits/{job.visit.id}/departure", json={"work_complete": work_complete},
                       headers=job.auth)


def transition(client: FlaskClient, job: SimpleNamespace, to: str, auth: dict[str, str] | None = None,
               **body: Any) -> Any:
    return client.post(f"/api/v1/work-orders/{job.order.id}/transitions", json={"to": to, **body},
                       headers=auth or job.auth)


def status(client: FlaskClient, job: SimpleNamespace) -> tuple[str, str]:
    """(work order status, visit status) as the technician reads them."""
    order = client.get(f"/api/v1/work-orders/{job.order.id}", headers=job.auth).get_json()["status"]
    visit = client.get(f"/api/v1/visits/{job.visit.id}", headers=job.auth).get_json()["status"]
    return order, visit


def record_status(app: Flask, record_id: str) -> str:
    with app.app_context():
        return db.session.get(ServiceRecord, uuid.UUID(record_id)).status.value  # type: ignore[union-attr]


def revoke_certifications(client: FlaskClient, make: Any, technician_id: uuid.UUID) -> None:
    """Revoke every certification of the technician through the API, as the office does."""
    with make.app.app_context():
        ids = list(db.session.scalars(sa.select(Certification.id).where(Certification.technician_id == technician_id)))
    auth = {"Authorization": f"Bearer {make.token(make.user('admin').id)}"}
    for cert_id in ids:
        r = client.post(f"/api/v1/certifications/{cert_id}/revocation", headers=auth)
        assert r.status_code == 200, r.get_data(as_text=True)


def open_rejections(app: Flask, table: str) -> list[SyncRejection]:
    with app.app_context():
        return list(db.session.scalars(sa.select(SyncRejection).where(
            SyncRejection.table_name == table, SyncRejection.status == RejectionStatus.OPEN)))


def pushed_signoff(phone: Any, record_id: str, sha: str) -> str:
    return phone.create("signoffs", record_id=record_id, content_sha256=sha, signer_name="张客户",
                        signer_role="customer", signature_png=png_b64(), strokes_json=json.dumps([[{"x": 1, "y": 2}]]),
                        content_json=None, device_id="phone-7", device_time=ms(ago(1)), latitude=None,
                        longitude=None)


def canonical_hash(client: FlaskClient, auth: dict[str, str], record_id: str) -> str:
    r = client.get(f"/api/v1/records/{record_id}/canonical", headers=auth)
    assert r.status_code == 200, r.get_data(as_text=True)
    return r.get_json()["content_sha256"]  # type: ignore[no-any-return]
