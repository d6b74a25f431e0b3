"""Complaint use cases (R-CMP-1): log, assign an owner, first response within 24 h (48 h when the customer
could not be reached within the first 24 h), investigation notes, resolution, feedback to the customer;
overdue complaints computed in SQL from the deadline column and flagged once through the outbox."""
from __future__ import annotations

import logging
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from fieldservice.audit import service as audit_service
from fieldservice.auth.models import Role, User
from fieldservice.auth.service import Actor
from fieldservice.catalog.models import Product
from fieldservice.common.lookup import get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.complaints.models import Complaint, ComplaintNote, ComplaintStatus, NoteKind
from fieldservice.customers.models import Customer
from fieldservice.db import utcnow
from fieldservice.errors import Conflict, InvalidTransition, NotFound, StaleVersion, ValidationFailed
from fieldservice.extensions import db
from fieldservice.notifications import service as notifications
from fieldservice.notifications.models import Channel
from fieldservice.visits.models import Visit
from fieldservice.workorders.models import WorkOrder

log = logging.getLogger(__name__)

C = ComplaintStatus
FIRST_RESPONSE = timedelta(hours=24)
FIRST_RESPONSE_UNREACHABLE = timedelta(hours=48)
HANDLERS = (Role.OFFICE, Role.DISPATCHER, Role.ADMIN)


def overdue_clause(now: datetime) -> sa.ColumnElement[bool]:
    """Overdue = no first response yet and the deadline has passed (one indexed test in SQL)."""
    return sa.and_(Complaint.status == C.OPEN, Complaint.first_response_at.is_(None),
                   Complaint.response_due_at < now)


def _scope(stmt: sa.Select[Any], actor: Actor) -> sa.Select[Any]:
    """A customer sees only their own complaints; office, dispatchers and admins see all; others none."""
    if actor.role in HANDLERS:
        return stmt
    if actor.role is Role.CUSTOMER and actor.customer_id is not None:
        return stmt.where(Complaint.customer_id == actor.customer_id)
    return stmt.where(sa.false())


def get_complaint(actor: Actor, complaint_id: uuid.UUID, *, lock: bool = False) -> Complaint:
    stmt = _scope(sa.select(Complaint), actor).where(Complaint.id == complaint_id)
    complaint = db.session.scalar(stmt.with_for_update() if lock else stmt)
    if complaint is None:
        raise NotFound(f"complaint {complaint_id} not found")
    return complaint


def list_complaints(actor: Actor, page: PageRequest, *, status: ComplaintStatus | None = None,
                    overdue: bool | None = None, customer_id: uuid.UUID | None = None,
                    owner_user_id: uuid.UUID | None = None, received_from: datetime | None = None,
                    received_to: datetime | None = None, now: datetime | None = None) -> Page:
    now = now or utcnow()
    stmt = _scope(sa.select(Complaint), actor).order_by(Complaint.response_due_at, Complaint.id)
    if status:
        stmt = stmt.where(Complaint.status == status)
    if overdue is True:
        stmt = stmt.where(overdue_clause(now))
    elif overdue is False:
        stmt = stmt.where(sa.not_(overdue_clause(now)))
    for column, value in ((Complaint.customer_id, customer_id), (Complaint.owner_user_id, owner_user_id)):
        if value is not None:
            stmt = stmt.where(column == value)
    if received_from:
        stmt = stmt.where(Complaint.received_at >= received_from)
    if received_to:
        stmt = stmt.where(Complaint.received_at < received_to)
    return paginate(stmt, page)


def _owner(user_id: uuid.UUID) -> User:
    user = get_ref(User, user_id, "owner_user_id", "user")
    if user.role not in HANDLERS or not user.is_active:
        raise ValidationFailed("the owner is an active office, dispatcher or admin user",
                               errors={"json": {"owner_user_id": ["not a complaint handler"]}})
    return user


def log_complaint(actor: Actor, data: dict[str, Any], *, now: datetime | None = None) -> Complaint:
    """Log a complaint (time, customer, product, issue). A customer may log only their own; the related
    work order / visit must belong to the same customer. The first-response deadline is 24 h from receipt."""
    now = now or utcnow()
    if actor.role is Role.CUSTOMER:
        if data.get("customer_id") not in (None, actor.customer_id):
            raise NotFound("customer not found")
        data["customer_id"] = actor.customer_id
        data.pop("owner_user_id", None)
        data["received_at"] = now
    else:
        actor.require(*HANDLERS)
    if data.get("customer_id") is None:
        raise ValidationFailed("customer_id is required", errors={"json": {"customer_id": ["required"]}})
    get_ref(Customer, data["customer_id"], "customer_id", "customer")
    received_at = data.get("received_at") or now
    if received_at > now + timedelta(minutes=5):
        raise ValidationFailed("received_at is in the future", errors={"json": {"received_at": ["in the future"]}})
    order = visit = None
    if data.get("visit_id"):
        visit = get_ref(Visit, data["visit_id"], "visit_id", "visit")
        if data.get("work_order_id") not in (None, visit.work_order_id):
            raise ValidationFailed("the visit belongs to another work order")
        data["work_order_id"] = visit.work_order_id
    if data.get("work_order_id"):
        order = get_ref(WorkOrder, data["work_order_id"], "work_order_id", "work order")
        if order.customer_id != data["customer_id"]:
            raise ValidationFailed("the work order belongs to another customer",
                                   errors={"json": {"work_order_id": ["another customer's work order"]}})
    if data.get("owner_user_id"):
        _owner(data["owner_user_id"])
    if data.get("product_id"):
        get_ref(Product, data["product_id"], "product_id", "product")
    complaint = Complaint(
        number=f"CMP-{received_at:%Y%m%d}-{secrets.token_hex(3).upper()}", customer_id=data["customer_id"],
        work_order_id=order.id if order else None, visit_id=visit.id if visit else None,
        product_id=data.get("product_id") or (order.product_id if order else None),
        technician_id=visit.technician_id if visit else None, channel=data["channel"],
        description=data["description"], received_at=received_at, owner_user_id=data.get("owner_user_id"),
        response_due_at=received_at + FIRST_RESPONSE, created_by_id=actor.user_id)
    db.session.add(complaint)
    db.session.flush()
    audit_service.record(actor, "complaint.logged", complaint, {"customer_id": complaint.customer_id,
                                                                "channel": complaint.channel}, at=now)
    return complaint


def _editable(actor: Actor, complaint_id: uuid.UUID, version: int | None) -> Complaint:
    actor.require(*HANDLERS)
    complaint = get_complaint(actor, complaint_id, lock=True)
    if version is not None and version != complaint.version:
        raise StaleVersion(f"complaint is at version {complaint.version}, you edited {version}")
    return complaint


def _note(actor: Actor, complaint: Complaint, kind: NoteKind, body: str, at: datetime) -> ComplaintNote:
    note = ComplaintNote(complaint_id=complaint.id, kind=kind, body=body, author_user_id=actor.user_id,
                         author_name=actor.display_name, created_at=at)
    db.session.add(note)
    return note


def assign_owner(actor: Actor, complaint_id: uuid.UUID, owner_user_id: uuid.UUID, *,
                 version: int | None = None) -> Complaint:
    complaint = _editable(actor, complaint_id, version)
    if complaint.status is C.CLOSED:
        raise InvalidTransition(f"complaint {complaint.number} is closed")
    _owner(owner_user_id)
    diff = audit_service.changes(complaint, {"owner_user_id": owner_user_id})
    db.session.flush()
    audit_service.record(actor, "complaint.owner_assigned", complaint, diff)
    return complaint


def add_note(actor: Actor, complaint_id: uuid.UUID, body: str, *, now: datetime | None = None) -> ComplaintNote:
    """An investigation note (any status but closed)."""
    now = now or utcnow()
    complaint = _editable(actor, complaint_id, None)
    if complaint.status is C.CLOSED:
        raise InvalidTransition(f"complaint {complaint.number} is closed")
    note = _note(actor, complaint, NoteKind.NOTE, body, now)
    db.session.flush()
    audit_service.record(actor, "complaint.note_added", complaint, {"note_id": note.id}, at=now)
    return note


def record_contact_failed(actor: Actor, complaint_id: uuid.UUID, body: str, *, now: datetime | None = None,
                          version: int | None = None) -> Complaint:
    """R-CMP-1: the customer could not be reached. If it happens within the first 24 h (before the
    response deadline), the deadline becomes 48 h from receipt; later attempts do not move it."""
    now = now or utcnow()
    complaint = _editable(actor, complaint_id, version)
    if complaint.status is not C.OPEN:
        raise InvalidTransition(f"complaint {complaint.number} already had its first response",
                                current_status=complaint.status.value)
    _note(actor, complaint, NoteKind.CONTACT_FAILED, body, now)
    extended = False
    if complaint.customer_unreachable_at is None and now <= complaint.received_at + FIRST_RESPONSE:
        complaint.customer_unreachable_at = now
        complaint.response_due_at = complaint.received_at + FIRST_RESPONSE_UNREACHABLE
        extended = True
    db.session.flush()
    audit_service.record(actor, "complaint.contact_failed", complaint,
                         {"deadline_extended": extended, "response_due_at": complaint.response_due_at}, at=now)
    return complaint


def record_first_response(actor: Actor, complaint_id: uuid.UUID, body: str, *, responded_at: datetime | None = None,
                          now: datetime | None = None, version: int | None = None) -> Complaint:
    """The first response to the customer (what they were told). Needs an owner; open → investigating."""
    now = now or utcnow()
    complaint = _editable(actor, complaint_id, version)
    if complaint.owner_user_id is None:
        raise Conflict(f"complaint {complaint.number} has no owner; assign one first (R-CMP-1)")
    at = responded_at or now
    if at > now + timedelta(minutes=5) or at < complaint.received_at:
        raise ValidationFailed("responded_at must lie between receipt and now")
    complaint.transition(C.INVESTIGATING)
    complaint.first_response_at = at
    _note(actor, complaint, NoteKind.RESPONSE, body, now)
    db.session.flush()
    audit_service.record(actor, "complaint.responded", complaint,
                         {"late": at > complaint.response_due_at}, at=now)
    return complaint


def resolve(actor: Actor, complaint_id: uuid.UUID, resolution: str, *, now: datetime | None = None,
            version: int | None = None) -> Complaint:
    now = now or utcnow()
    complaint = _editable(actor, complaint_id, version)
    complaint.transition(C.RESOLVED)
    complaint.resolution, complaint.resolved_at = resolution, now
    db.session.flush()
    audit_service.record(actor, "complaint.resolved", complaint, {}, at=now)
    return complaint


def reopen(actor: Actor, complaint_id: uuid.UUID, reason: str, *, now: datetime | None = None,
           version: int | None = None) -> Complaint:
    """The resolution did not work: back to investigating with a note saying why."""
    now = now or utcnow()
    complaint = _editable(actor, complaint_id, version)
    complaint.transition(C.INVESTIGATING)
    complaint.resolved_at = None
    _note(actor, complaint, NoteKind.NOTE, f"reopened: {reason}", now)
    db.session.flush()
    audit_service.record(actor, "complaint.reopened", complaint, {"reason": reason}, at=now)
    return complaint


def record_feedback(actor: Actor, complaint_id: uuid.UUID, feedback: str, customer_satisfied: bool | None, *,
                    now: datetime | None = None, version: int | None = None) -> Complaint:
    """The resolution was fed back to the customer: resolved → closed."""
    now = now or utcnow()
    complaint = _editable(actor, complaint_id, version)
    complaint.transition(C.CLOSED)
    complaint.feedback, complaint.customer_satisfied, complaint.closed_at = feedback, customer_satisfied, now
    db.session.flush()
    audit_service.record(actor, "complaint.closed", complaint, {"customer_satisfied": customer_satisfied}, at=now)
    return complaint


def flag_overdue(*, now: datetime | None = None) -> int:
    """Scheduler: each complaint that became overdue gets one outbox notification (dedupe key per complaint
    and deadline, plus `overdue_notified_at`), so re-runs and a second scheduler do nothing twice."""
    now = now or utcnow()
    rows = list(db.session.scalars(sa.select(Complaint).where(overdue_clause(now),
                                                              Complaint.overdue_notified_at.is_(None))
                                   .order_by(Complaint.response_due_at).with_for_update(skip_locked=True)))
    recipient = current_app.config["COMPLAINTS_ALERT_RECIPIENT"]
    for complaint in rows:
        notifications.enqueue(
            "complaints.overdue", recipient,
            {"complaint_id": str(complaint.id), "number": complaint.number,
             "customer_id": str(complaint.customer_id), "response_due_at": complaint.response_due_at.isoformat(),
             "owner_user_id": str(complaint.owner_user_id) if complaint.owner_user_id else None},
            channel=Channel.RECORD, subject=f"投诉逾期 complaint overdue {complaint.number}",
            dedupe_key=f"complaint-overdue:{complaint.id}:{complaint.response_due_at.isoformat()}",
            about=complaint, now=now)
        complaint.overdue_notified_at = now
    db.session.flush()
    if rows:
        log.info("complaints flagged overdue: %d", len(rows))
    return len(rows)
