"""Consultations and advisory notices (R-CON-1): logged by product and topic, summarised, and a recurring
problem sent to every customer owning an affected model through the outbox, once per customer."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Flask

from fieldservice.extensions import db
from fieldservice.notifications.models import Notification


def test_consultations_are_logged_and_filtered(api, headers, make) -> None:  # type: ignore[no-untyped-def]
    dispatcher = headers(role="dispatcher")
    pump, fan = make.product(), make.product()
    customer = make.customer()
    for product, topic in ((pump, "噪音 noise"), (pump, "噪音 noise"), (pump, "报警 alarm"), (fan, "噪音 noise")):
        status, body = api("post", "/api/v1/consultations", dispatcher, json={
            "customer_id": str(customer.id), "product_id": str(product.id), "topic": topic,
            "question": "开机后有异响怎么办?", "answer": "检查地脚螺栓是否松动"})
        assert status == 201 and body["handled_by_name"]
    status, page = api("get", f"/api/v1/consultations?product_id={pump.id}&topic=噪音 noise", dispatcher)
    assert page["meta"]["total"] == 2
    status, summary = api("get", "/api/v1/consultations/summary?min_count=2", dispatcher)
    assert [(r["product_id"], r["topic"], r["count"]) for r in summary] == [(str(pump.id), "噪音 noise", 2)]
    assert api("post", "/api/v1/consultations", dispatcher, json={"topic": "x"})[0] == 422
    assert api("get", "/api/v1/consultations?colour=red", dispatcher)[0] == 422
    assert api("get", "/api/v1/consultations", headers(role="technician"))[0] == 403


def test_advisory_goes_once_to_every_owner_of_the_model(app: Flask, api, headers, make) -> None:  # type: ignore[no-untyped-def]
    office = headers(role="office")
    model, other_model = make.product(), make.product()
    owner = make.customer("甲公司", email="a@example.cn")
    site = make.site(owner.id)
    make.asset(owner.id, site.id, model.id)
    make.asset(owner.id, site.id, model.id)              # two units: still one message
    no_email = make.customer("乙工厂")
    make.asset(no_email.id, make.site(no_email.id).id, model.id)
    retired = make.customer("丙")
    make.asset(retired.id, make.site(retired.id).id, model.id, status="retired")
    bystander = make.customer("丁")
    make.asset(bystander.id, make.site(bystander.id).id, other_model.id)
    status, consultation = api("post", "/api/v1/consultations", office, json={
        "product_id": str(model.id), "topic": "过热 overheating", "question": "电机过热"})
    status, notice = api("post", "/api/v1/advisories", office, json={
        "title": "电机过热处理建议", "body": "请清理散热风道。", "product_ids": [str(model.id)],
        "consultation_ids": [consultation["id"]]})
    assert status == 201 and notice["status"] == "draft"
    status, sent = api("post", f"/api/v1/advisories/{notice['id']}/send", office)
    assert status == 200 and sent["customers"] == 2 and sent["enqueued"] == 2
    status, deliveries = api("get", f"/api/v1/advisories/{notice['id']}/deliveries", office)
    by_customer = {d["customer_id"]: d for d in deliveries}
    assert set(by_customer) == {str(owner.id), str(no_email.id)}
    assert by_customer[str(owner.id)]["channel"] == "email" and by_customer[str(owner.id)]["status"] == "pending"
    assert by_customer[str(no_email.id)]["channel"] == "record"
    # re-sending does not duplicate; a new owner since then gets theirs
    newcomer = make.customer("戊", email="e@example.cn")
    make.asset(newcomer.id, make.site(newcomer.id).id, model.id)
    status, again = api("post", f"/api/v1/advisories/{notice['id']}/send", office)
    assert again["enqueued"] == 1 and again["already_notified"] == 2
    with app.app_context():
        rows = db.session.scalars(sa.select(Notification).where(Notification.kind == "advisory_notice")).all()
        assert len(rows) == 3 and all(r.payload["title"] == "电机过热处理建议" for r in rows)
    status, linked = api("get", "/api/v1/consultations?topic=过热 overheating", office)
    assert linked["items"][0]["advisory_id"] == notice["id"]


def test_advisory_input_and_roles(api, headers) -> None:  # type: ignore[no-untyped-def]
    office = headers(role="office")
    import uuid

    assert api("post", "/api/v1/advisories", office, json={"title": "x", "body": "y", "product_ids": []})[0] == 422
    status, body = api("post", "/api/v1/advisories", office, json={
        "title": "x", "body": "y", "product_ids": [str(uuid.uuid4())]})
    assert status == 422 and body["type"] == "/problems/unknown_reference"
    assert api("post", f"/api/v1/advisories/{uuid.uuid4()}/send", office)[0] == 404
    assert api("post", "/api/v1/advisories", headers(role="dispatcher"), json={})[0] == 403
