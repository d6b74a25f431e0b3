"""R-REP-1: a report is taken with the customer, the product (or the customer's unit), the problem and the
channel; a simple question answered on the spot is logged as a consultation (R-CON-1), so it reaches the
consultation summary and advisory notices. The paths that create requests: `POST /api/v1/service-requests`
(servicerequests.service.create_request; no sync table, CLI or scheduler job creates them); the one that
answers: `POST /api/v1/service-requests/{id}/answer`."""
from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from fieldservice.audit.models import AuditEvent
from fieldservice.commerce.models import Consultation
from fieldservice.extensions import db
from fieldservice.servicerequests.models import ServiceRequest
from tests.factories import Factory

URL = "/api/v1/service-requests"


@pytest.fixture
def owner(make: Factory) -> SimpleNamespace:
    """A customer with one unit of a product."""
    product = make.product()
    customer = make.customer("宁波海天注塑有限公司", email="service@haitian.example.cn")
    site = make.site(customer.id)
    asset = make.asset(customer.id, site.id, product.id)
    return SimpleNamespace(customer=customer, site=site, product=product, asset=asset)


def report(owner: SimpleNamespace, **extra: Any) -> dict[str, Any]:
    return {"customer_id": str(owner.customer.id), "channel": "phone", "problem": "注塑机液压油温过高怎么办？",
            **extra}


def test_request_names_the_product_directly_or_through_the_unit(api, owner, headers) -> None:  # type: ignore[no-untyped-def]
    """R-REP-1: product_id, or asset_id whose product (and site) the request takes."""
    dispatcher = headers()
    status, body = api("post", URL, dispatcher, json=report(owner, product_id=str(owner.product.id)))
    assert status == 201 and body["product_id"] == str(owner.product.id) and body["asset_id"] is None
    status, body = api("post", URL, dispatcher, json=report(owner, asset_id=str(owner.asset.id)))
    assert status == 201 and body["product_id"] == str(owner.product.id) and body["site_id"] == str(owner.site.id)
    # a null product_id next to the unit is the unit's product, not a request without a product
    status, body = api("post", URL, dispatcher, json=report(owner, asset_id=str(owner.asset.id), product_id=None))
    assert status == 201 and body["product_id"] == str(owner.product.id)


def test_request_without_product_or_unit_is_refused(api, owner, headers, make: Factory, count_rows) -> None:  # type: ignore[no-untyped-def]
    """R-REP-1 (seen): neither product nor unit: 422 naming product_id and asset_id, nothing written; so are a
    blank problem and a unit of another product than the one named."""
    dispatcher, other_product = headers(), make.product()
    before = count_rows()
    for body in (report(owner), report(owner, product_id=None, asset_id=None)):
        status, problem = api("post", URL, dispatcher, json=body)
        assert status == 422 and problem["type"] == "/problems/validation_failed", problem
        assert set(problem["errors"]["json"]) == {"product_id", "asset_id"} and "R-REP-1" in problem["detail"]
    status, problem = api("post", URL, dispatcher, json=report(owner, product_id=str(owner.product.id), problem="  "))
    assert status == 422 and set(problem["errors"]["json"]) == {"problem"}
    status, problem = api("post", URL, dispatcher, json=report(owner, asset_id=str(owner.asset.id),
                                                               product_id=str(other_product.id)))
    assert status == 422 and set(problem["errors"]["json"]) == {"product_id"}
    assert count_rows() == before


def test_answered_request_is_a_consultation_in_the_list_the_summary_and_an_advisory(  # type: ignore[no-untyped-def]
        app: Flask, api, owner, headers, make: Factory) -> None:
    """R-REP-1 / R-CON-1 (seen): each request answered on the spot writes a consultation linked to it (the
    request's customer, product, problem as the question, the answer, the channel, the time); two on the same
    topic show as a recurring problem in the summary and become an advisory sent to the owners of the model."""
    dispatcher, office = headers(), headers(role="office")
    answered = []
    for channel in ("phone", "online"):
        status, request = api("post", URL, dispatcher, json=report(owner, asset_id=str(owner.asset.id),
                                                                   channel=channel))
        assert status == 201
        status, body = api("post", f"{URL}/{request['id']}/answer", dispatcher,
                           json={"answer": "清洗油冷却器并检查冷却水流量", "topic": "油温 oil temperature"})
        assert status == 200 and body["status"] == "answered"
        answered.append(request)
    status, page = api("get", f"/api/v1/consultations?customer_id={owner.customer.id}", dispatcher)
    assert status == 200 and page["meta"]["total"] == 2
    by_request = {c["service_request_id"]: c for c in page["items"]}
    assert set(by_request) == {r["id"] for r in answered}
    first = by_request[answered[0]["id"]]
    assert first["product_id"] == str(owner.product.id) and first["customer_id"] == str(owner.customer.id)
    assert first["question"] == "注塑机液压油温过高怎么办？" and first["answer"] == "清洗油冷却器并检查冷却水流量"
    assert first["channel"] == "phone" and by_request[answered[1]["id"]]["channel"] == "online"
    assert first["topic"] == "油温 oil temperature" and first["consulted_at"] and first["handled_by_name"]
    status, one = api("get", f"/api/v1/consultations?service_request_id={answered[1]['id']}", dispatcher)
    assert [c["id"] for c in one["items"]] == [by_request[answered[1]["id"]]["id"]]
    status, summary = api("get", "/api/v1/consultations/summary?min_count=2", dispatcher)
    assert [(r["product_id"], r["topic"], r["count"]) for r in summary] == [
        (str(owner.product.id), "油温 oil temperature", 2)]
    status, notice = api("post", "/api/v1/advisories", office, json={
        "title": "液压油温过高处理建议", "body": "请定期清洗油冷却器。", "topic": "油温 oil temperature",
        "product_ids": [str(owner.product.id)], "consultation_ids": [c["id"] for c in page["items"]]})
    assert status == 201
    status, sent = api("post", f"/api/v1/advisories/{notice['id']}/send", office)
    assert status == 200 and sent["customers"] == 1 and sent["enqueued"] == 1
    with app.app_context():
        linked = db.session.scalars(sa.select(Consultation.advisory_id).where(
            Consultation.service_request_id.in_([uuid.UUID(r["id"]) for r in answered]))).all()
        assert linked == [uuid.UUID(notice["id"])] * 2
        audit = db.session.scalar(sa.select(AuditEvent.details).where(
            AuditEvent.action == "service_request.answer", AuditEvent.entity_id == uuid.UUID(answered[0]["id"])))
        assert audit["consultation_id"] == first["id"]


def test_an_answer_without_topic_takes_the_problems_first_line_and_is_logged_once(  # type: ignore[no-untyped-def]
        app: Flask, api, owner, headers, count_rows) -> None:
    """R-CON-1: the default topic is the problem's first line; a request is answered (and logged) once."""
    dispatcher = headers()
    status, request = api("post", URL, dispatcher, json=report(
        owner, product_id=str(owner.product.id), problem="报警 E-21 是什么意思？\n昨天开始出现"))
    status, body = api("post", f"{URL}/{request['id']}/answer", dispatcher, json={"answer": "润滑油位低，请加油"})
    assert status == 200
    before = count_rows()
    status, problem = api("post", f"{URL}/{request['id']}/answer", dispatcher, json={"answer": "再答一次"})
    assert status == 409 and problem["current_status"] == "answered"
    assert count_rows() == before
    with app.app_context():
        [consultation] = db.session.scalars(sa.select(Consultation).where(
            Consultation.service_request_id == uuid.UUID(request["id"]))).all()
        assert consultation.topic == "报警 E-21 是什么意思？"
        assert consultation.question == "报警 E-21 是什么意思？\n昨天开始出现"
        assert db.session.get(ServiceRequest, uuid.UUID(request["id"])).answer == "润滑油位低，请加油"


def test_consultations_do_not_import_the_service_request_service() -> None:
    """R-CON-1 wiring: the service-request service calls consultations.log_consultation, never the reverse
    (no new import circle): the consultation and report-date modules import in a fresh interpreter with the
    service-request service blocked."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import importlib.abc, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "fieldservice.servicerequests.service":
                    raise ImportError(name + " is blocked")
        sys.meta_path.insert(0, Block())
        import fieldservice.commerce.consultations, fieldservice.commerce.report_dates, fieldservice.commerce.returns
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
