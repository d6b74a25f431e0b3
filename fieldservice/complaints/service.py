"""Complaint use cases (R-CMP-1): log, assign an owner, first response within 24 h (48 h when the customer
could not be reached within the first 24 h), investigation notes, resolution, feedback to the customer;
overdue complaints computed in SQL from the deadline column and flagged once through the outbox; the
periodic summary ("summarized periodically") computed by aggregate queries in the database."""
from __future__ import annotations

import logging
import secrets
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.ext.compiler import compiles

from fieldservice.audit import service as audit_service
from fieldservice.auth.models import Role, User
from fieldservice.auth.service import Actor
from fieldservice.catalog.models import Product
from fieldservice.common.lookup import get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.complaints.models import (
    Complaint,
    ComplaintChannel,
    ComplaintNote,
    ComplaintStatus,
    NoteKind,
)
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


def possible_owners() -> list[User]:
    """Who may own a complaint (R-CMP-1): active office, dispatcher and admin users, by name."""
    return list(db.session.scalars(sa.select(User).where(User.role.in_(HANDLERS), User.is_active.is_(True))
                                   .order_by(User.display_name, User.id)))


def customer_names(complaints: list[Complaint]) -> dict[uuid.UUID, str]:
    ids = {c.customer_id for c in complaints}
    return dict(db.session.execute(sa.select(Customer.id, Customer.name).where(Customer.id.in_(ids))).all()) \
        if ids else {}


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


# ---- the periodic summary (R-CMP-1 "summarized periodically") ------------------------------------------

SUMMARY_DEFAULT_DAYS = 30
SUMMARY_MAX_DAYS = 366


class hours_between(sa.sql.expression.FunctionElement[float]):
    """`(later - earlier)` in hours as a float, in the database: PostgreSQL through the epoch of the
    interval, SQLite (UTC text timestamps) through julianday. NULL when either side is NULL."""

    inherit_cache = True
    type = sa.Float()


@compiles(hours_between)
def _hours_between_default(element: hours_between, compiler: Any, **kw: Any) -> str:
    earlier, later = (compiler.process(c, **kw) for c in element.clauses)
    return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 3600.0)"


@compiles(hours_between, "sqlite")
def _hours_between_sqlite(element: hours_between, compiler: Any, **kw: Any) -> str:
    earlier, later = (compiler.process(c, **kw) for c in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 24.0)"


def summary_range(start: date | None, end: date | None, *, now: datetime) -> tuple[date, date]:
    """The days summarized, both inclusive, in UTC. Default: `to` today (UTC), `from` 29 days before `to`.
    Raises ValidationFailed (422) when `from` is after `to` or the range is longer than 366 days."""
    end = end or now.astimezone(UTC).date()
    start = start or end - timedelta(days=SUMMARY_DEFAULT_DAYS - 1)
    if start > end:
        raise ValidationFailed("`from` is after `to`", errors={"query": {"from": ["after to"]}})
    if (end - start).days + 1 > SUMMARY_MAX_DAYS:
        raise ValidationFailed(f"the range is longer than {SUMMARY_MAX_DAYS} days",
                               errors={"query": {"to": [f"more than {SUMMARY_MAX_DAYS} days after from"]}})
    return start, end


def _count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _hours(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def summarize_complaints(actor: Actor, *, start: date | None = None, end: date | None = None,
                         now: datetime | None = None) -> dict[str, Any]:
    """R-CMP-1: complaints are "summarized periodically". The complaints received in [start, end] (UTC
    days, both inclusive; default the last 30 days), counted in the database (aggregate queries with GROUP
    BY, no row loaded into Python): totals, by status, by product model and by channel; overdue for their
    first response now; answered within the 24 h deadline, within the 48 h deadline (customer unreachable
    within the first 24 h) and late; resolved (a resolution stands: resolved or closed) and closed; average
    hours from receipt to the first response and to the resolution (over the complaints that have one).
    Office, dispatcher and admin only. Raises Forbidden, ValidationFailed (bad range)."""
    actor.require(*HANDLERS)
    now = now or utcnow()
    start, end = summary_range(start, end, now=now)
    lower = datetime.combine(start, time(), UTC)
    upper = datetime.combine(end + timedelta(days=1), time(), UTC)
    in_range = sa.and_(Complaint.received_at >= lower, Complaint.received_at < upper)

    answered = Complaint.first_response_at.is_not(None)
    on_time = sa.and_(answered, Complaint.first_response_at <= Complaint.response_due_at)
    totals = db.session.execute(sa.select(
        sa.func.count().label("total"),
        _count_if(overdue_clause(now)).label("overdue"),
        _count_if(answered).label("responded"),
        _count_if(sa.and_(on_time, Complaint.customer_unreachable_at.is_(None))).label("responded_within_24h"),
        _count_if(sa.and_(on_time, Complaint.customer_unreachable_at.is_not(None))).label("responded_within_48h"),
        _count_if(sa.and_(answered, Complaint.first_response_at > Complaint.response_due_at))
        .label("responded_late"),
        _count_if(Complaint.resolved_at.is_not(None)).label("resolved"),
        _count_if(Complaint.status == C.CLOSED).label("closed"),
        sa.func.avg(hours_between(Complaint.received_at, Complaint.first_response_at))
        .label("avg_hours_to_first_response"),
        sa.func.avg(hours_between(Complaint.received_at, Complaint.resolved_at)).label("avg_hours_to_resolution"),
    ).where(in_range)).mappings().one()

    by_status = {status.value: 0 for status in ComplaintStatus}
    for status, count in db.session.execute(
            sa.select(Complaint.status, sa.func.count()).where(in_range).group_by(Complaint.status)):
        by_status[ComplaintStatus(status).value] = int(count)
    by_channel = {channel.value: 0 for channel in ComplaintChannel}
    for channel, count in db.session.execute(
            sa.select(Complaint.channel, sa.func.count()).where(in_range).group_by(Complaint.channel)):
        by_channel[ComplaintChannel(channel).value] = int(count)
    count = sa.func.count(Complaint.id)
    by_product = [
        {"product_id": row.id, "model_code": row.model_code, "name": row.name, "complaints": int(row.complaints),
         "overdue": int(row.overdue), "resolved": int(row.resolved)}
        for row in db.session.execute(
            sa.select(Product.id, Product.model_code, Product.name, count.label("complaints"),
                      _count_if(overdue_clause(now)).label("overdue"),
                      _count_if(Complaint.resolved_at.is_not(None)).label("resolved"))
            .select_from(Complaint).outerjoin(Product, Product.id == Complaint.product_id).where(in_range)
            .group_by(Product.id, Product.model_code, Product.name)
            .order_by(count.desc(), Product.model_code.nulls_last()))]
    return {
        "from": start, "to": end, "as_of": now,
        **{key: int(totals[key]) for key in ("total", "overdue", "responded", "responded_within_24h",
                                             "responded_within_48h", "responded_late", "resolved", "closed")},
        "avg_hours_to_first_response": _hours(totals["avg_hours_to_first_response"]),
        "avg_hours_to_resolution": _hours(totals["avg_hours_to_resolution"]),
        "by_status": by_status, "by_channel": by_channel, "by_product": by_product,
    }
