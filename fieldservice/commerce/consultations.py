"""Technical consultations and advisory notices (R-CON-1, R-REP-1).

Simple questions are answered on the spot and logged as consultations (customer, product model, topic,
question, answer, who, when). The office summarises them by product and topic and turns a recurring
problem into an advisory notice, sent through the notification outbox to every customer owning an
affected product model (their assets), one message per customer. Sending again only reaches customers
who did not get it yet (dedupe key per notice and customer); delivery status per customer is the status
of that customer's notification.
"""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from fieldservice.assets.models import Asset, AssetStatus
from fieldservice.audit import service as audit_service
from fieldservice.auth.service import Actor
from fieldservice.catalog.models import Product
from fieldservice.commerce.models import AdvisoryNotice, AdvisoryStatus, Consultation
from fieldservice.common.lookup import get_or_404, get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.customers.models import Customer
from fieldservice.db import utcnow
from fieldservice.errors import ValidationFailed
from fieldservice.extensions import db
from fieldservice.notifications import service as notifications
from fieldservice.notifications.models import Channel

ADVISORY_KIND = "advisory_notice"


# ---- consultations -------------------------------------------------------------------------------

def log_consultation(actor: Actor, data: dict[str, Any], *, now: datetime | None = None) -> Consultation:
    """Log a question answered on the spot (R-CON-1): through `POST /consultations`, or by
    servicerequests.service.answer_request for a service request answered on the spot (R-REP-1), which
    passes `service_request_id` (this module never imports the service-request service)."""
    now = now or utcnow()
    if data.get("customer_id"):
        get_ref(Customer, data["customer_id"], "customer_id", "customer")
    if data.get("product_id"):
        get_ref(Product, data["product_id"], "product_id", "product")
    consultation = Consultation(consulted_at=data.pop("consulted_at", None) or now, handled_by_id=actor.user_id,
                                handled_by_name=actor.display_name[:120], **data)
    db.session.add(consultation)
    db.session.flush()
    audit_service.record(actor, "consultation.log", consultation, {
        "topic": consultation.topic, "product_id": consultation.product_id,
        "service_request_id": consultation.service_request_id}, at=now)
    return consultation


def _filtered(stmt: sa.Select[Any], *, product_id: uuid.UUID | None, topic: str | None,
              customer_id: uuid.UUID | None, since: datetime | None, until: datetime | None,
              service_request_id: uuid.UUID | None = None) -> sa.Select[Any]:
    if service_request_id:
        stmt = stmt.where(Consultation.service_request_id == service_request_id)
    if product_id:
        stmt = stmt.where(Consultation.product_id == product_id)
    if topic:
        stmt = stmt.where(Consultation.topic == topic)
    if customer_id:
        stmt = stmt.where(Consultation.customer_id == customer_id)
    if since:
        stmt = stmt.where(Consultation.consulted_at >= since)
    if until:
        stmt = stmt.where(Consultation.consulted_at < until)
    return stmt


def list_consultations(page: PageRequest, *, product_id: uuid.UUID | None = None, topic: str | None = None,
                       customer_id: uuid.UUID | None = None, since: datetime | None = None,
                       until: datetime | None = None, service_request_id: uuid.UUID | None = None) -> Page:
    stmt = sa.select(Consultation).order_by(Consultation.consulted_at.desc(), Consultation.id)
    return paginate(_filtered(stmt, product_id=product_id, topic=topic, customer_id=customer_id, since=since,
                              until=until, service_request_id=service_request_id), page)


def summarise(*, since: datetime | None = None, until: datetime | None = None,
              min_count: int = 1) -> list[dict[str, Any]]:
    """The periodic summary (R-CON-1): consultations per product model and topic, most frequent first."""
    count = sa.func.count(Consultation.id).label("count")
    stmt = (sa.select(Consultation.product_id, Product.model_code, Consultation.topic, count,
                      sa.func.min(Consultation.consulted_at).label("first_at"),
                      sa.func.max(Consultation.consulted_at).label("last_at"))
            .outerjoin(Product, Product.id == Consultation.product_id)
            .group_by(Consultation.product_id, Product.model_code, Consultation.topic)
            .having(count >= min_count).order_by(count.desc(), Consultation.topic).limit(500))
    stmt = _filtered(stmt, product_id=None, topic=None, customer_id=None, since=since, until=until)
    return [dict(row._mapping) for row in db.session.execute(stmt)]


# ---- advisory notices ----------------------------------------------------------------------------

def create_advisory(actor: Actor, data: dict[str, Any], *, now: datetime | None = None) -> AdvisoryNotice:
    """A draft notice for product models; consultations it grew from are linked to it."""
    now = now or utcnow()
    product_ids = list(dict.fromkeys(data["product_ids"]))
    for product_id in product_ids:
        get_ref(Product, product_id, "product_ids", "product")
    notice = AdvisoryNotice(title=data["title"], body=data["body"], topic=data.get("topic"),
                            product_ids=[str(p) for p in product_ids], status=AdvisoryStatus.DRAFT,
                            created_by_id=actor.user_id)
    db.session.add(notice)
    db.session.flush()
    consultation_ids = data.get("consultation_ids") or []
    if consultation_ids:
        found = list(db.session.scalars(sa.select(Consultation).where(Consultation.id.in_(consultation_ids))))
        if len(found) != len(set(consultation_ids)):
            raise ValidationFailed("consultation_ids: unknown consultation",
                                   errors={"json": {"consultation_ids": ["unknown consultation"]}})
        for consultation in found:
            consultation.advisory_id = notice.id
    audit_service.record(actor, "advisory.create", notice, {"title": notice.title, "product_ids": product_ids,
                                                            "consultations": len(consultation_ids)}, at=now)
    return notice


def get_advisory(advisory_id: uuid.UUID) -> AdvisoryNotice:
    return get_or_404(AdvisoryNotice, advisory_id, "advisory notice")


def list_advisories(page: PageRequest) -> Page:
    return paginate(sa.select(AdvisoryNotice).order_by(AdvisoryNotice.created_at.desc(), AdvisoryNotice.id), page)


def affected_customers(notice: AdvisoryNotice) -> list[Customer]:
    """Every customer owning a unit (not retired) of an affected product model."""
    product_ids = [uuid.UUID(p) for p in notice.product_ids]
    owners = sa.select(Asset.customer_id).where(Asset.product_id.in_(product_ids),
                                                Asset.status != AssetStatus.RETIRED)
    return list(db.session.scalars(sa.select(Customer).where(Customer.id.in_(owners))
                                   .order_by(Customer.name, Customer.id)))


def send_advisory(actor: Actor, advisory_id: uuid.UUID, *, now: datetime | None = None) -> dict[str, Any]:
    """Enqueue one message per affected customer (email when the customer has one, else kept as a record).
    Idempotent: a customer already notified is not notified again; new owners since the last send are."""
    now = now or utcnow()
    notice = get_advisory(advisory_id)
    customers = affected_customers(notice)
    before = _message_count(notice)
    for customer in customers:
        channel = Channel.EMAIL if customer.email else Channel.RECORD
        notifications.enqueue(
            ADVISORY_KIND, customer.email or f"customer:{customer.id}",
            {"advisory_id": str(notice.id), "customer_id": str(customer.id), "customer_name": customer.name,
             "title": notice.title, "body": notice.body}, channel=channel, subject=notice.title,
            dedupe_key=f"advisory:{notice.id}:{customer.id}", about=notice, now=now)
    # counted, not summed from enqueue()'s return value: on PostgreSQL the ORM insert's rowcount does not
    # tell an ON CONFLICT DO NOTHING skip from an insert
    enqueued = _message_count(notice) - before
    notice.status = AdvisoryStatus.SENT
    notice.first_sent_at = notice.first_sent_at or now
    notice.last_sent_at = now
    audit_service.record(actor, "advisory.send", notice, {"customers": len(customers), "enqueued": enqueued}, at=now)
    return {"advisory_id": notice.id, "customers": len(customers), "enqueued": enqueued,
            "already_notified": len(customers) - enqueued}


def _message_count(notice: AdvisoryNotice) -> int:
    from fieldservice.notifications.models import Notification

    return db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.subject_type == notice.__tablename__, Notification.subject_id == notice.id)) or 0


def delivery_status(advisory_id: uuid.UUID) -> list[dict[str, Any]]:
    """Per customer: the notification's channel, status, attempts and times."""
    notice = get_advisory(advisory_id)
    return [{"customer_id": n.payload.get("customer_id"), "customer_name": n.payload.get("customer_name"),
             "recipient": n.recipient, "channel": n.channel.value, "status": n.status.value, "attempts": n.attempts,
             "created_at": n.created_at, "sent_at": n.sent_at, "last_error": n.last_error, "notification_id": n.id}
            for n in notifications.notifications_about(notice)]
