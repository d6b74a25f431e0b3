"""Complaints (R-CMP-1): deadlines (24 h, 48 h when the customer could not be reached), status machine,
overdue list computed in SQL, customers see only their own, the scheduler flags an overdue complaint once."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.auth.service import SYSTEM
from fieldservice.complaints import service
from fieldservice.complaints.models import ComplaintChannel
from fieldservice.db import unit_of_work
from fieldservice.extensions import db
from fieldservice.notifications.models import Notification
from schedules import jobs
from tests.factories import Factory

PROBLEM = "application/problem+json"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _log(app: Flask, customer_id: object, *, received_at: datetime = T0, **extra: object) -> object:
    with app.app_context(), unit_of_work():
        return service.log_complaint(SYSTEM, {"customer_id": customer_id, "channel": ComplaintChannel.PHONE,
                                              "description": "安装师傅迟到两小时 the installer was 2 h late",
                                              "received_at": received_at, **extra}, now=received_at).id


def test_deadline_is_24h_and_48h_when_the_customer_could_not_be_reached(app: Flask, make: Factory) -> None:
    customer = make.customer()
    first = _log(app, customer.id)
    second = _log(app, customer.id)
    late_try = _log(app, customer.id)
    with app.app_context(), unit_of_work():
        assert service.get_complaint(SYSTEM, first).response_due_at == T0 + timedelta(hours=24)
        # unreachable within the first 24 h: the deadline becomes 48 h from receipt
        extended = service.record_contact_failed(SYSTEM, second, "电话无人接听 no answer", now=T0 + timedelta(hours=3))
        assert extended.response_due_at == T0 + timedelta(hours=48)
        # a failed attempt after the 24 h have run out does not move the deadline
        late = service.record_contact_failed(SYSTEM, late_try, "no answer", now=T0 + timedelta(hours=30))
        assert late.response_due_at == T0 + timedelta(hours=24)
    with app.app_context():
        page = service.list_complaints(SYSTEM, _page(), overdue=True, now=T0 + timedelta(hours=25))
        assert {c.id for c in page.items} == {first, late_try}
        page = service.list_complaints(SYSTEM, _page(), overdue=True, now=T0 + timedelta(hours=49))
        assert {c.id for c in page.items} == {first, second, late_try}


def _page():  # type: ignore[no-untyped-def]
    from fieldservice.common.pagination import PageRequest

    return PageRequest(page=1, page_size=50)


def test_status_machine_over_the_api(client: FlaskClient, make: Factory, headers) -> None:  # type: ignore[no-untyped-def]
    customer = make.customer("华东精密")
    job = make.dispatched_job(customer_id=customer.id)
    office_user = make.user("office")
    auth = {"Authorization": f"Bearer {make.token(office_user.id)}"}
    created = client.post("/api/v1/complaints", headers=auth, json={
        "customer_id": str(customer.id), "visit_id": str(job.visit.id), "channel": "phone",
        "description": "维修后仍然漏水 still leaking after the repair"})
    assert created.status_code == 201, created.get_json()
    c = created.get_json()
    assert c["status"] == "open" and c["work_order_id"] == str(job.order.id)
    assert c["technician_id"] == str(job.technician.id)
    url = f"/api/v1/complaints/{c['id']}"
    # no first response without an owner; no resolution before the first response
    assert client.post(f"{url}/response", headers=auth, json={"body": "已致电"}).status_code == 409
    assert client.post(f"{url}/resolution", headers=auth, json={"resolution": "x"}).status_code == 409
    # the owner must be a complaint handler
    tech_owner = client.put(f"{url}/owner", headers=auth, json={"owner_user_id": str(job.technician.user_id)})
    assert tech_owner.status_code == 422
    assert client.put(f"{url}/owner", headers=auth, json={"owner_user_id": str(office_user.id)}).status_code == 200
    responded = client.post(f"{url}/response", headers=auth, json={"body": "已致电客户，明天上门复查"})
    assert responded.status_code == 200 and responded.get_json()["status"] == "investigating"
    assert client.post(f"{url}/response", headers=auth, json={"body": "again"}).status_code == 409
    assert client.post(f"{url}/notes", headers=auth, json={"body": "密封圈安装不到位"}).status_code == 201
    resolved = client.post(f"{url}/resolution", headers=auth, json={"resolution": "免费更换密封圈"})
    assert resolved.get_json()["status"] == "resolved"
    closed = client.post(f"{url}/feedback", headers=auth, json={"feedback": "客户确认不再漏水",
                                                                 "customer_satisfied": True})
    assert closed.status_code == 200 and closed.get_json()["status"] == "closed"
    final = client.get(url, headers=auth).get_json()
    assert [n["kind"] for n in final["notes"]] == ["response", "note"]
    assert client.post(f"{url}/notes", headers=auth, json={"body": "late"}).status_code == 409
    # bad input is a problem, not a 500
    bad = client.post("/api/v1/complaints", headers=auth, json={"customer_id": "nope", "channel": "fax"})
    assert bad.status_code == 422 and bad.mimetype == PROBLEM
    unknown_product = client.post("/api/v1/complaints", headers=auth, json={
        "customer_id": str(customer.id), "channel": "phone", "description": "x", "product_id": str(uuid.uuid4())})
    assert unknown_product.status_code == 422 and unknown_product.get_json()["type"] == "/problems/unknown_reference"


def test_customer_sees_and_logs_only_their_own(client: FlaskClient, make: Factory, headers) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = make.customer(), make.customer()
    other_job = make.dispatched_job(customer_id=theirs.id)
    login = make.user("customer", customer_id=mine.id)
    auth = {"Authorization": f"Bearer {make.token(login.id)}"}
    office = headers(role="office")
    other = client.post("/api/v1/complaints", headers=office, json={
        "customer_id": str(theirs.id), "channel": "email", "description": "别人的投诉"}).get_json()
    own = client.post("/api/v1/complaints", headers=auth, json={"channel": "online", "description": "我的投诉"})
    assert own.status_code == 201 and own.get_json()["customer_id"] == str(mine.id)
    listed = client.get("/api/v1/complaints", headers=auth).get_json()["items"]
    assert [c["id"] for c in listed] == [own.get_json()["id"]]
    assert client.get(f"/api/v1/complaints/{other['id']}", headers=auth).status_code == 404
    # not about another customer's work order, nor in another customer's name
    assert client.post("/api/v1/complaints", headers=auth, json={
        "channel": "online", "description": "x", "work_order_id": str(other_job.order.id)}).status_code == 422
    assert client.post("/api/v1/complaints", headers=auth, json={
        "channel": "online", "description": "x", "customer_id": str(theirs.id)}).status_code == 404
    # customers do not handle complaints; technicians do not see them
    assert client.post(f"/api/v1/complaints/{own.get_json()['id']}/notes", headers=auth,
                       json={"body": "x"}).status_code == 403
    assert client.get("/api/v1/complaints", headers=headers(role="technician")).status_code == 403


def test_overdue_filter_over_the_api(client: FlaskClient, app: Flask, make: Factory, headers) -> None:  # type: ignore[no-untyped-def]
    customer = make.customer()
    now = datetime.now(UTC)
    old = _log(app, customer.id, received_at=now - timedelta(hours=30))
    _log(app, customer.id, received_at=now - timedelta(hours=2))
    auth = headers(role="office")
    overdue = client.get("/api/v1/complaints?overdue=true", headers=auth).get_json()
    assert [c["id"] for c in overdue["items"]] == [str(old)]
    assert client.get("/api/v1/complaints?overdue=false", headers=auth).get_json()["meta"]["total"] == 1
    assert client.get("/api/v1/complaints?overdue=maybe", headers=auth).status_code == 422


def test_scheduler_job_flags_newly_overdue_complaints_once(app: Flask, make: Factory) -> None:
    customer = make.customer()
    now = datetime.now(UTC)
    overdue = _log(app, customer.id, received_at=now - timedelta(hours=25))
    _log(app, customer.id, received_at=now - timedelta(hours=1))
    assert jobs.flag_overdue_complaints(app) == 1
    assert jobs.flag_overdue_complaints(app) == 0  # a re-run flags nothing again
    with app.app_context():
        sent = db.session.scalars(sa.select(Notification).where(Notification.kind == "complaints.overdue")).all()
        assert [n.subject_id for n in sent] == [overdue]
        assert sent[0].payload["complaint_id"] == str(overdue)


def test_scheduler_registers_the_complaint_job(app: Flask) -> None:
    from schedules.runner import build_scheduler

    job = build_scheduler(app).get_job("complaints.flag_overdue")
    assert job is not None and job.coalesce is True and job.max_instances == 1
    assert job.args == ("complaints.flag_overdue",)  # the job store keeps the id, not the app


def test_office_page_shows_overdue_complaints(client: FlaskClient, app: Flask, make: Factory, headers) -> None:  # type: ignore[no-untyped-def]
    customer = make.customer()
    now = datetime.now(UTC)
    _log(app, customer.id, received_at=now - timedelta(hours=30))
    _log(app, customer.id, received_at=now - timedelta(hours=1), description="新投诉 fresh one")
    office = headers(role="office")
    page = client.get("/office/complaints", headers=office)
    assert page.status_code == 200 and "charset=utf-8" in page.content_type
    html = page.get_data(as_text=True)
    assert html.count('<span class="badge bad">逾期</span>') == 1 and "新投诉 fresh one" in html
    only = client.get("/office/complaints?overdue=1", headers=office).get_data(as_text=True)
    assert "逾期" in only and "新投诉 fresh one" not in only
    assert client.get("/office/complaints", headers=headers(role="technician")).status_code == 403
