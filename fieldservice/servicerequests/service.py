"""Service request use cases: take a report (R-REP-1), answer a consultation (R-CON-1), open a work order.

A request answered on the spot becomes a consultation through commerce.consultations.log_consultation
(that module knows nothing of this one: the dependency runs one way)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fieldservice.assets.models import Asset
from fieldservice.audit import service as audit_service
from fieldservice.auth.service import Actor
from fieldservice.catalog.models import Product
from fieldservice.commerce import consultations
from fieldservice.commerce.models import Consultation
from fieldservice.common.lookup import get_or_404, get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.customers.models import Customer
from fieldservice.customers.service import site_ref
from fieldservice.db import utcnow
from fieldservice.errors import InvalidTransition, ValidationFailed
from fieldservice.extensions import db
from fieldservice.lifecycle.events import ServiceRequestAnswered, ServiceRequestCreated, publish
from fieldservice.scoping import require_customer_visible, visible_customer_ids
from fieldservice.servicerequests.models import Channel, RequestStatus, ServiceRequest
from fieldservice.workorders import service as workorders
from fieldservice.workorders.models import WorkOrder, WorkOrderKind

TOPIC_LENGTH = Consultation.__table__.c.topic.type.length


def _asset_of_customer(asset_id: uuid.UUID, customer_id: uuid.UUID) -> Asset:
    asset = get_ref(Asset, asset_id, "asset_id", "asset")
    if asset.customer_id != customer_id:
        raise ValidationFailed("asset_id: the asset belongs to another customer",
                               errors={"json": {"asset_id": ["belongs to another customer"]}})
    return asset


def _require_report(data: dict[str, Any]) -> None:
    """R-REP-1: the product (directly or through the unit) and a problem that is not blank (422, naming the
    fields)."""
    missing: dict[str, list[str]] = {}
    if not data.get("product_id") and not data.get("asset_id"):
        message = "name the product (product_id) or the customer's unit (asset_id)"
        missing.update(product_id=[message], asset_id=[message])
    if not (data.get("problem") or "").strip():
        missing["problem"] = ["describe the problem"]
    if missing:
        raise ValidationFailed(f"a service request needs the customer, the product or unit, the problem and the "
                               f"channel (R-REP-1): {', '.join(sorted(missing))} missing", errors={"json": missing})


def create_request(actor: Actor, data: dict[str, Any], *, now: datetime | None = None) -> ServiceRequest:
    """R-REP-1: a report names the customer, the product (product_id, or asset_id whose product it takes) and
    the problem, and the channel it came by. Raises ValidationFailed (neither product nor unit, a blank
    problem, a unit of another product or customer) and ReferenceNotFound, before anything is written."""
    _require_report(data)
    get_ref(Customer, data["customer_id"], "customer_id", "customer")
    if data.get("asset_id"):
        asset = _asset_of_customer(data["asset_id"], data["customer_id"])
        if data.get("product_id") and data["product_id"] != asset.product_id:
            raise ValidationFailed("product_id: the unit (asset_id) is of another product",
                                   errors={"json": {"product_id": ["not the product of asset_id"]}})
        data["product_id"] = asset.product_id
        data["site_id"] = data.get("site_id") or asset.site_id
    if data.get("site_id"):
        site_ref(data["customer_id"], data["site_id"])
    get_ref(Product, data["product_id"], "product_id", "product")
    data.setdefault("reported_at", now or utcnow())
    request = ServiceRequest(created_by_id=actor.user_id, **data)
    db.session.add(request)
    db.session.flush()
    audit_service.record(actor, "service_request.create", request, {"channel": request.channel})
    publish(ServiceRequestCreated(request, actor, now or utcnow()))  # e.g. R-SLA-1: answered within 24 h
    return request


def list_requests(actor: Actor, page: PageRequest, *, status: RequestStatus | None = None,
                  customer_id: uuid.UUID | None = None, channel: Channel | None = None) -> Page:
    stmt = sa.select(ServiceRequest).order_by(ServiceRequest.reported_at.desc(), ServiceRequest.id)
    visible = visible_customer_ids(actor)
    if visible is not None:
        stmt = stmt.where(ServiceRequest.customer_id.in_(visible))
    if status:
        stmt = stmt.where(ServiceRequest.status == status)
    if customer_id:
        stmt = stmt.where(ServiceRequest.customer_id == customer_id)
    if channel:
        stmt = stmt.where(ServiceRequest.channel == channel)
    return paginate(stmt, page)


def get_request(actor: Actor, request_id: uuid.UUID) -> ServiceRequest:
    request = get_or_404(ServiceRequest, request_id, "service request")
    require_customer_visible(actor, request.customer_id, f"service request {request_id}")
    return request


def _require_open(request: ServiceRequest, action: str) -> None:
    if request.status is not RequestStatus.OPEN:
        raise InvalidTransition(f"cannot {action}: the request is {request.status.value}",
                                current_status=request.status.value, allowed_transitions=[])


def update_request(actor: Actor, request_id: uuid.UUID, data: dict[str, Any]) -> ServiceRequest:
    request = get_request(actor, request_id)
    _require_open(request, "edit the request")
    if data.get("asset_id"):
        _asset_of_customer(data["asset_id"], request.customer_id)
    if data.get("site_id"):
        site_ref(request.customer_id, data["site_id"])
    diff = audit_service.changes(request, data)
    if diff:
        audit_service.record(actor, "service_request.update", request, diff)
    return request


def answer_request(actor: Actor, request_id: uuid.UUID, answer: str, *, topic: str | None = None,
                   now: datetime | None = None) -> ServiceRequest:
    """R-REP-1 / R-CON-1: a simple question answered on the spot is logged as a consultation (the request's
    customer and product, its problem as the question, the answer, its channel, now), linked to the request,
    so it counts in the consultation summary and for advisory notices. `topic` groups recurring questions
    in the summary (default: the problem's first line)."""
    now = now or utcnow()
    request = get_request(actor, request_id)
    _require_open(request, "answer the request")
    request.status = RequestStatus.ANSWERED
    request.answer = answer
    consultation = consultations.log_consultation(actor, {
        "customer_id": request.customer_id, "product_id": request.product_id,
        "topic": (topic or request.problem.strip().splitlines()[0])[:TOPIC_LENGTH], "question": request.problem,
        "answer": answer, "channel": request.channel.value, "consulted_at": now, "service_request_id": request.id,
    }, now=now)
    audit_service.record(actor, "service_request.answer", request, {"consultation_id": consultation.id}, at=now)
    publish(ServiceRequestAnswered(request, "answered", actor, now))
    return request


def close_request(actor: Actor, request_id: uuid.UUID, reason: str | None) -> ServiceRequest:
    request = get_request(actor, request_id)
    if request.status is RequestStatus.CLOSED:
        raise InvalidTransition("the request is already closed", current_status="closed", allowed_transitions=[])
    request.status = RequestStatus.CLOSED
    audit_service.record(actor, "service_request.close", request, {"reason": reason})
    publish(ServiceRequestAnswered(request, "closed", actor, utcnow()))
    return request


def open_work_order(actor: Actor, request_id: uuid.UUID, data: dict[str, Any],
                    *, now: datetime | None = None) -> WorkOrder:
    """Turn a request into a work order (R-REP-1). Product and site come from the request or its asset."""
    request = get_request(actor, request_id)
    _require_open(request, "open a work order")
    order_data = {
        "kind": data.get("kind", WorkOrderKind.REPAIR),
        "customer_id": request.customer_id,
        "site_id": data.get("site_id") or request.site_id,
        "asset_id": request.asset_id,
        "product_id": data.get("product_id") or request.product_id,
        "summary": data.get("summary") or request.problem[:200],
        "description": data.get("description") or request.problem,
        "service_request_id": request.id,
    }
    for key in ("priority", "id"):
        if key in data:
            order_data[key] = data[key]
    missing = {k: ["required: the request does not name it"] for k in ("site_id", "product_id") if not order_data[k]}
    if missing:
        raise ValidationFailed("the work order needs a site and a product", errors={"json": missing})
    order = workorders.create_work_order(actor, order_data, now=now)
    request.status = RequestStatus.WORK_ORDER_OPENED
    audit_service.record(actor, "service_request.work_order_opened", request, {"work_order_id": order.id})
    publish(ServiceRequestAnswered(request, "work_order", actor, now or utcnow(), work_order_id=order.id))
    return order
