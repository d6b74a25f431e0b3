"""Issue 14: intake (R-REP-1), the work-order page and its status changes through the lifecycle gate, the sync
quarantine, notifications and stock, each through the same services as the API."""
from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.extensions import db
from fieldservice.servicerequests.models import RequestStatus, ServiceRequest
from fieldservice.workorders.models import WorkOrder
from sync.models import RejectionStatus, SyncRejection
from tests.factories import Factory
from tests.web.helpers import get_row, quarantined

Headers = Callable[..., dict[str, str]]


def test_intake_takes_a_report_and_opens_a_work_order_r_rep_1(app: Flask, client: FlaskClient, make: Factory,
                                                              headers: Headers,
                                                              count_rows: Callable[..., dict[str, int]]) -> None:
    """R-REP-1: a report without product or unit is refused in place (422, nothing written); a complete one is
    saved; the dispatcher opens a work order from it; another is answered on the spot as a consultation."""
    customer = make.customer("华东精密制造有限公司", phone="0512-6666 0001")
    site = make.site(customer.id)
    product = make.product(name="数控车床 CK6150")
    auth = headers(role="dispatcher")
    form = client.get("/office/requests", headers=auth).get_data(as_text=True)
    assert "华东精密制造有限公司" in form and "登记报修" in form
    before = count_rows()
    refused = client.post("/office/requests", headers=auth, data={
        "customer_id": str(customer.id), "channel": "phone", "problem": "主轴异响"})
    assert refused.status_code == 422 and "product_id" in refused.get_data(as_text=True)
    assert count_rows() == before
    made = client.post("/office/requests", headers=auth, data={
        "customer_id": str(customer.id), "product_id": str(product.id), "site_id": str(site.id), "channel": "phone",
        "problem": "主轴异响，加工精度下降", "reporter_name": "张工", "reporter_phone": "138 0000 0000"})
    assert made.status_code == 303
    with app.app_context():
        request_id = db.session.scalars(sa.select(ServiceRequest.id)).one()
    page = client.get(f"/office/requests/{request_id}", headers=auth).get_data(as_text=True)
    assert "主轴异响，加工精度下降" in page and "开工单" in page
    opened = client.post(f"/office/requests/{request_id}/work-order", headers=auth,
                         data={"kind": "repair", "priority": "high"})
    assert opened.status_code == 303 and "/office/work-orders/" in opened.headers["Location"]
    job = client.get(opened.headers["Location"], headers=auth).get_data(as_text=True)
    assert "主轴异响" in job and "安排上门" in job and "高" in job
    assert get_row(app, ServiceRequest, request_id).status is RequestStatus.WORK_ORDER_OPENED
    question = client.post("/office/requests", headers=auth, data={
        "customer_id": str(customer.id), "product_id": str(product.id), "channel": "phone",
        "problem": "冷却液多久更换一次？"})
    assert question.status_code == 303
    question_id = question.headers["Location"].split("/")[-1].split("?")[0]
    answered = client.post(f"/office/requests/{question_id}/answer", headers=auth, data={"answer": "每三个月更换一次"})
    assert answered.status_code == 303
    assert get_row(app, ServiceRequest, question_id).status is RequestStatus.ANSWERED


def test_work_order_page_shows_the_job_and_the_gate_refusal_of_a_status_change(
        app: Flask, client: FlaskClient, make: Factory, headers: Headers) -> None:
    job = make.dispatched_job()
    auth = headers(role="dispatcher")
    page = client.get(f"/office/work-orders/{job.order.id}", headers=auth)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "已派工" in html and job.technician.name in html
    assert 'id="visits"' in html and 'id="sla"' in html and 'id="audit"' in html
    listing = client.get("/office/work-orders", headers=auth).get_data(as_text=True)
    assert job.order.number in listing
    refused = client.post(f"/office/work-orders/{job.order.id}/transition", headers=auth, data={"to": "new"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 409 and 'data-code="visits_planned"' in html and "R-REP-2" in html
    no_reason = client.post(f"/office/work-orders/{job.order.id}/transition", headers=auth, data={"to": "cancelled"})
    assert no_reason.status_code == 422
    done = client.post(f"/office/work-orders/{job.order.id}/transition", headers=auth,
                       data={"to": "cancelled", "reason": "客户撤回"})
    assert done.status_code == 303 and get_row(app, WorkOrder, job.order.id).status.value == "cancelled"


def test_dispatcher_resolves_a_quarantined_push_with_its_reasons(app: Flask, client: FlaskClient, make: Factory,
                                                                 headers: Headers) -> None:
    job = quarantined(app, client, make)
    auth = headers(role="dispatcher")
    page = client.get("/office/quarantine", headers=auth).get_data(as_text=True)
    assert 'data-code="visit_in_progress"' in page and "R-SIG-2" in page and 'data-code="record_missing"' in page
    empty = client.post(f"/office/quarantine/{job.rejection_id}/resolve", headers=auth, data={"note": " "})
    assert empty.status_code == 422
    done = client.post(f"/office/quarantine/{job.rejection_id}/resolve", headers=auth,
                       data={"note": "已电话通知技术员先报离开"})
    assert done.status_code == 303
    row = get_row(app, SyncRejection, job.rejection_id)
    assert row.status is RejectionStatus.RESOLVED and row.resolution_note == "已电话通知技术员先报离开"
    again = client.post(f"/office/quarantine/{job.rejection_id}/resolve", headers=auth, data={"note": "再次"})
    assert again.status_code == 409
    assert client.post(f"/office/quarantine/{job.rejection_id}/resolve", headers=headers(role="office"),
                       data={"note": "x"}).status_code == 403


def test_failed_notifications_are_listed_and_sent_again(app: Flask, client: FlaskClient, headers: Headers) -> None:
    from datetime import UTC, datetime

    from fieldservice.db import unit_of_work
    from fieldservice.notifications import service
    from fieldservice.notifications.models import Notification, NotificationStatus

    with app.app_context(), unit_of_work():
        service.enqueue("parts.reorder", "parts-keeper", {"part_number": "LS-FLT-200"}, subject="补货 LS-FLT-200",
                        now=datetime.now(UTC))
        row = db.session.scalars(sa.select(Notification)).one()
        row.status, row.last_error = NotificationStatus.FAILED, "HTTP 410 Gone"
        notification_id = row.id
    auth = headers(role="office")
    page = client.get("/office/notifications", headers=auth).get_data(as_text=True)
    assert "HTTP 410 Gone" in page and "重新发送" in page
    assert client.post(f"/office/notifications/{notification_id}/retry", headers=auth).status_code == 303
    assert get_row(app, Notification, notification_id).status is NotificationStatus.PENDING
    assert client.post(f"/office/notifications/{notification_id}/retry", headers=auth).status_code == 409
    assert client.get("/office/notifications", headers=headers(role="parts_keeper")).status_code == 403


def test_parts_keeper_receives_and_transfers_stock_and_sees_what_is_low(app: Flask, client: FlaskClient,
                                                                       make: Factory, headers: Headers) -> None:
    from fieldservice.auth.service import SYSTEM
    from fieldservice.db import unit_of_work
    from fieldservice.parts import service as parts
    from fieldservice.parts.models import LocationKind

    tech = make.technician(name="王建国")
    with app.app_context(), unit_of_work():
        part = parts.create_part(SYSTEM, {"part_number": "LS-FLT-200", "name": "冷却液滤芯", "is_approved": True,
                                          "unit_cost_minor": 3000, "currency": "CNY", "safety_stock": 10})
        warehouse = parts.create_location(SYSTEM, {"code": "WH-SH", "name": "上海仓", "kind": LocationKind.WAREHOUSE})
        van = parts.create_location(SYSTEM, {"code": "VAN-WANG", "name": "王师傅的车", "kind": LocationKind.VAN,
                                             "technician_id": tech.id})
        part_id, warehouse_id, van_id = part.id, warehouse.id, van.id
    keeper = headers(role="parts_keeper")
    home = client.get("/office/", headers=keeper).get_data(as_text=True)
    assert "低于安全库存的备件" in home
    received = client.post("/office/stock/receipts", headers=keeper, data={
        "part_id": str(part_id), "location_id": str(warehouse_id), "quantity": "12", "reason": "DN-001"})
    assert received.status_code == 303
    moved = client.post("/office/stock/transfers", headers=keeper, data={
        "part_id": str(part_id), "from_location_id": str(warehouse_id), "to_location_id": str(van_id), "quantity": "4"})
    assert moved.status_code == 303
    page = client.get("/office/stock", headers=keeper).get_data(as_text=True)
    assert "低于安全库存" in page and "LS-FLT-200" in page and 'class="miss"' in page   # 8 < 10 at WH-SH
    too_many = client.post("/office/stock/transfers", headers=keeper, data={
        "part_id": str(part_id), "from_location_id": str(warehouse_id), "to_location_id": str(van_id), "quantity": "99"})
    assert too_many.status_code in (409, 422) and 'role="alert"' in too_many.get_data(as_text=True)
    assert client.get("/office/stock", headers=headers(role="technician")).status_code == 403
