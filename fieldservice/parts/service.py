"""Parts and stock use cases (R-PRT-1, R-REP-6) and defective part returns (R-REP-9).

Every stock change goes through `_post`: it locks the (part, location) balance row, refuses a change that
would make on-hand negative (409 insufficient_stock), appends the ledger line and updates the balance in
the same transaction. The balance table's CHECK (on_hand >= 0) backs the rule up in the database.
"""
from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from fieldservice.audit import service as audit_service
from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.changes import ensure_counter_locked
from fieldservice.commerce import consent as commerce_consent
from fieldservice.common.lookup import get_or_404, get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.common.search import contains
from fieldservice.db import insert_unless_exists, utcnow
from fieldservice.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from fieldservice.extensions import db
from fieldservice.notifications import service as notifications
from fieldservice.notifications.models import Channel
from fieldservice.parts.models import (
    DefectiveReturn,
    DefectOutcome,
    DefectStatus,
    LocationKind,
    MovementKind,
    Part,
    PartSerial,
    PartSerialStatus,
    StockBalance,
    StockCount,
    StockCountLine,
    StockCountStatus,
    StockLocation,
    StockMovement,
)
from fieldservice.scoping import can_see_work_order
from fieldservice.technicians.models import Technician
from fieldservice.visits.models import Visit
from fieldservice.workorders.models import WorkOrder, WorkOrderStatus

log = logging.getLogger(__name__)

STOCK_STAFF = (Role.PARTS_KEEPER, Role.OFFICE, Role.ADMIN)
QUALITY_CONTROL = (Role.PARTS_KEEPER, Role.OFFICE, Role.ADMIN)
ISSUABLE_ORDER_STATUSES = frozenset({WorkOrderStatus.DISPATCHED, WorkOrderStatus.IN_PROGRESS,
                                     WorkOrderStatus.WORK_COMPLETE, WorkOrderStatus.REWORK})


class InsufficientStock(Conflict):
    """On-hand would go below zero (R-PRT-1: the ledger never shows negative stock)."""

    code, title = "insufficient_stock", "Not enough stock"


class PartNotApproved(DomainError):
    """R-REP-6: only genuine or company-approved parts are used on jobs."""

    status, code, title = 422, "part_not_approved", "Part not approved for use"


class PartNotInCatalog(DomainError):
    """R-REP-6: a part used on a job is a catalog part (its part number is known)."""

    status, code, title = 422, "part_not_in_catalog", "No such part in the catalog"


class SerialMismatch(DomainError):
    status, code, title = 422, "serial_mismatch", "Serial numbers do not match the stock"


# ---- catalog -------------------------------------------------------------------------------------

def create_part(actor: Actor, data: dict[str, Any]) -> Part:
    actor.require(*STOCK_STAFF)
    if db.session.scalar(sa.select(Part.id).where(Part.part_number == data["part_number"])) is not None:
        raise Conflict(f"part number {data['part_number']} already exists")
    part = Part(**data)
    db.session.add(part)
    db.session.flush()
    audit_service.record(actor, "part.created", part, {"part_number": part.part_number})
    return part


def update_part(actor: Actor, part_id: uuid.UUID, data: dict[str, Any]) -> Part:
    actor.require(*STOCK_STAFF)
    part = get_or_404(Part, part_id)
    diff = audit_service.changes(part, data)
    if diff:
        audit_service.record(actor, "part.updated", part, diff)
    return part


def get_part(actor: Actor, part_id: uuid.UUID) -> Part:
    return get_or_404(Part, part_id)


def list_parts(actor: Actor, page: PageRequest, *, q: str | None = None, approved: bool | None = None) -> Page:
    stmt = sa.select(Part).order_by(Part.part_number, Part.id)
    if q:
        stmt = stmt.where(sa.or_(contains(Part.part_number, q), contains(Part.name, q)))
    if approved is not None:
        stmt = stmt.where(Part.is_approved.is_(approved))
    return paginate(stmt, page)


# ---- locations -----------------------------------------------------------------------------------

def create_location(actor: Actor, data: dict[str, Any]) -> StockLocation:
    actor.require(*STOCK_STAFF)
    kind = data["kind"]
    technician_id = data.get("technician_id")
    if kind is LocationKind.VAN:
        if technician_id is None:
            raise ValidationFailed("a van belongs to a technician: give technician_id",
                                   errors={"json": {"technician_id": ["required for a van"]}})
        get_ref(Technician, technician_id, "technician_id")
        if db.session.scalar(sa.select(StockLocation.id).where(StockLocation.technician_id == technician_id)):
            raise Conflict("this technician already has a van location")
    elif technician_id is not None:
        raise ValidationFailed("only a van is linked to a technician",
                               errors={"json": {"technician_id": ["only for kind van"]}})
    if db.session.scalar(sa.select(StockLocation.id).where(StockLocation.code == data["code"])) is not None:
        raise Conflict(f"location code {data['code']} already exists")
    location = StockLocation(**data)
    db.session.add(location)
    db.session.flush()
    audit_service.record(actor, "stock_location.created", location, {"code": location.code, "kind": kind})
    return location


def _location_scope(stmt: sa.Select[Any], actor: Actor) -> sa.Select[Any]:
    """Technicians see only their own van; back office and parts keepers see every location."""
    if actor.role is Role.TECHNICIAN:
        if actor.technician_id is None:
            return stmt.where(sa.false())
        return stmt.where(StockLocation.technician_id == actor.technician_id)
    if actor.role in (*STOCK_STAFF, Role.DISPATCHER):
        return stmt
    return stmt.where(sa.false())


def get_location(actor: Actor, location_id: uuid.UUID) -> StockLocation:
    location = db.session.scalar(_location_scope(sa.select(StockLocation), actor).where(StockLocation.id == location_id))
    if location is None:
        raise NotFound(f"stock location {location_id} not found")
    return location


def list_locations(actor: Actor, page: PageRequest, *, kind: LocationKind | None = None) -> Page:
    stmt = _location_scope(sa.select(StockLocation), actor).order_by(StockLocation.code, StockLocation.id)
    if kind:
        stmt = stmt.where(StockLocation.kind == kind)
    return paginate(stmt, page)


def van_of(technician_id: uuid.UUID) -> StockLocation | None:
    return db.session.scalar(sa.select(StockLocation).where(StockLocation.technician_id == technician_id))


# ---- the ledger ----------------------------------------------------------------------------------

def _lock_balance(part_id: uuid.UUID, location_id: uuid.UUID) -> StockBalance:
    """The balance row for (part, location), created if missing, locked FOR UPDATE until commit and
    re-read so a concurrent writer's committed change is seen."""
    now = utcnow()
    insert_unless_exists(db.session, StockBalance, {
        "id": uuid.uuid4(), "part_id": part_id, "location_id": location_id, "on_hand": 0, "below_safety": False,
        "breach_no": 0, "change_seq": 0, "created_at": now, "updated_at": now}, key=["part_id", "location_id"])
    return db.session.scalars(
        sa.select(StockBalance).where(StockBalance.part_id == part_id, StockBalance.location_id == location_id)
        .with_for_update().execution_options(populate_existing=True)).one()


def take_locks() -> None:
    """Writers of stock also number synced rows: take the change counter first, then balance rows, in one
    order for everybody (no deadlock between a balance lock and the counter lock)."""
    session = db.session()
    if not session.in_nested_transaction():
        ensure_counter_locked(session)


def _post(actor: Actor, part: Part, location: StockLocation, quantity: int, kind: MovementKind, *,
          group_id: uuid.UUID, now: datetime, movement_id: uuid.UUID | None = None, **fields: Any) -> StockMovement:
    """Append one ledger line and move the balance by `quantity`, refusing a negative on-hand."""
    balance = _lock_balance(part.id, location.id)
    if balance.on_hand + quantity < 0:
        raise InsufficientStock(
            f"{part.part_number} at {location.code}: on hand {balance.on_hand}, requested {-quantity}",
            part_id=str(part.id), location_id=str(location.id), on_hand=balance.on_hand, requested=-quantity)
    balance.on_hand += quantity
    balance.updated_at = now
    movement = StockMovement(id=movement_id or uuid.uuid4(), group_id=group_id, kind=kind, part_id=part.id,
                             location_id=location.id, quantity=quantity, actor_user_id=actor.user_id,
                             occurred_at=fields.pop("occurred_at", None) or now, created_at=now, updated_at=now,
                             **fields)
    db.session.add(movement)
    _check_safety_stock(part, location, balance, now)
    return movement


def _check_safety_stock(part: Part, location: StockLocation, balance: StockBalance, now: datetime) -> None:
    """R-PRT-1: a warehouse balance dropping below the part's safety stock raises one reorder notification
    per breach (dedupe key part+location+breach number); climbing back to it ends the breach."""
    if location.kind is not LocationKind.WAREHOUSE:
        return
    below = balance.on_hand < part.safety_stock
    if below and not balance.below_safety:
        balance.below_safety = True
        balance.breach_no += 1
        notifications.enqueue(
            "parts.reorder", current_app.config["PARTS_REORDER_RECIPIENT"],
            {"part_id": str(part.id), "part_number": part.part_number, "part_name": part.name,
             "location_id": str(location.id), "location_code": location.code, "on_hand": balance.on_hand,
             "safety_stock": part.safety_stock, "breach_no": balance.breach_no},
            channel=Channel.RECORD, subject=f"补货 reorder {part.part_number} @ {location.code}",
            dedupe_key=f"reorder:{part.id}:{location.id}:{balance.breach_no}", about=part, now=now)
        log.info("safety stock breach: part %s at %s (%d < %d)", part.id, location.id, balance.on_hand,
                 part.safety_stock)
    elif not below and balance.below_safety:
        balance.below_safety = False


def _serials(part: Part, serials: list[str] | None, quantity: int) -> list[str]:
    """Serial-tracked parts move with exactly one serial per unit; others carry none."""
    serials = list(serials or [])
    if not part.serial_tracked:
        if serials:
            raise SerialMismatch(f"{part.part_number} is not serial-tracked; send no serial_numbers")
        return []
    if len(serials) != abs(quantity) or len(set(serials)) != len(serials):
        raise SerialMismatch(f"{part.part_number} is serial-tracked: give {abs(quantity)} distinct serial numbers",
                             errors={"json": {"serial_numbers": [f"{abs(quantity)} distinct serials needed"]}})
    return serials


def _serial_rows(part: Part, serials: list[str]) -> dict[str, PartSerial]:
    if not serials:
        return {}
    rows = db.session.scalars(sa.select(PartSerial).where(PartSerial.part_id == part.id,
                                                          PartSerial.serial_number.in_(serials)).with_for_update())
    return {row.serial_number: row for row in rows}


def _require_in_stock(part: Part, location: StockLocation, serials: list[str]) -> dict[str, PartSerial]:
    rows = _serial_rows(part, serials)
    missing = [s for s in serials if s not in rows or rows[s].status is not PartSerialStatus.IN_STOCK
               or rows[s].location_id != location.id]
    if missing:
        raise SerialMismatch(f"not in stock at {location.code}: {', '.join(missing)}",
                             errors={"json": {"serial_numbers": [f"not at {location.code}: {', '.join(missing)}"]}})
    return rows


def _place_serials(part: Part, location: StockLocation, serials: list[str], status: PartSerialStatus, *,
                   allow_from: Iterable[PartSerialStatus] = (PartSerialStatus.GONE,)) -> None:
    """Serials entering stock: new ones are created; known ones must be in one of `allow_from`."""
    rows = _serial_rows(part, serials)
    clash = [s for s in serials if s in rows and rows[s].status not in tuple(allow_from)]
    if clash:
        raise SerialMismatch(f"already in stock or on a job: {', '.join(clash)}",
                             errors={"json": {"serial_numbers": [f"already known: {', '.join(clash)}"]}})
    for serial in serials:
        row = rows.get(serial) or PartSerial(part_id=part.id, serial_number=serial)
        row.status, row.location_id, row.work_order_id = status, location.id, None
        db.session.add(row)


def _part(part_id: uuid.UUID) -> Part:
    return get_ref(Part, part_id, "part_id")


def check_usable(part: Part) -> None:
    """R-REP-6: only genuine or company-approved parts, still in the catalog (active), are used on jobs."""
    if not part.is_approved or not part.is_active:
        raise PartNotApproved(f"{part.part_number} is not a genuine or company-approved part of the catalog "
                              "(R-REP-6: only approved, active catalog parts are used on jobs)",
                              part_number=part.part_number, is_approved=part.is_approved, is_active=part.is_active)


def usable_part(part_number: str) -> Part:
    """The approved, active catalog part with this part number (R-REP-6), or 422 part_not_in_catalog /
    part_not_approved."""
    part = db.session.scalar(sa.select(Part).where(Part.part_number == part_number))
    if part is None:
        raise PartNotInCatalog(f"{part_number!r} is not a part number of the parts catalog (R-REP-6: parts used "
                               "on a job are genuine or company-approved catalog parts)", part_number=part_number)
    check_usable(part)
    return part


def _loc(location_id: uuid.UUID, field: str = "location_id") -> StockLocation:
    location = get_ref(StockLocation, location_id, field, "stock location")
    if not location.is_active:
        raise ValidationFailed(f"stock location {location.code} is not active")
    return location


def _job(actor: Actor, work_order_id: uuid.UUID) -> WorkOrder:
    """The work order a stock change is about: technicians only their own jobs (unknown to them otherwise);
    stock staff any job."""
    order = get_ref(WorkOrder, work_order_id, "work_order_id", "work order")
    if actor.role is Role.TECHNICIAN:
        if not can_see_work_order(actor, order.id):
            raise NotFound(f"work order {order.id} not found")
    else:
        actor.require(*STOCK_STAFF)
    return order


def receive_stock(actor: Actor, data: dict[str, Any], *, now: datetime | None = None) -> StockMovement:
    """Goods in from a supplier into a warehouse (or van)."""
    actor.require(*STOCK_STAFF)
    now = now or utcnow()
    take_locks()
    part, location = _part(data["part_id"]), _loc(data["location_id"])
    if location.kind is LocationKind.QUARANTINE:
        raise ValidationFailed("receive into a warehouse or van; quarantine takes only defective returns")
    serials = _serials(part, data.get("serial_numbers"), data["quantity"])
    _place_serials(part, location, serials, PartSerialStatus.IN_STOCK)
    movement = _post(actor, part, location, data["quantity"], MovementKind.RECEIVE, group_id=uuid.uuid4(), now=now,
                     serial_numbers=serials or None, reason=data.get("reason"))
    db.session.flush()
    audit_service.record(actor, "stock.received", movement, {"part_id": part.id, "quantity": data["quantity"]})
    return movement


def transfer_stock(actor: Actor, data: dict[str, Any], *, now: datetime | None = None) -> list[StockMovement]:
    """Move stock between locations: two ledger lines sharing a group id (out, then in)."""
    actor.require(*STOCK_STAFF)
    now = now or utcnow()
    take_locks()
    part = _part(data["part_id"])
    source, target = _loc(data["from_location_id"], "from_location_id"), _loc(data["to_location_id"], "to_location_id")
    if source.id == target.id:
        raise ValidationFailed("from and to are the same location")
    if LocationKind.QUARANTINE in (source.kind, target.kind):
        raise ValidationFailed("quarantined parts leave quarantine only through a quality-control assessment")
    quantity = data["quantity"]
    serials = _serials(part, data.get("serial_numbers"), quantity)
    rows = _require_in_stock(part, source, serials)
    group = uuid.uuid4()
    # lock both balances in one order (by location id) so two opposite transfers cannot deadlock
    for loc in sorted((source, target), key=lambda x: str(x.id)):
        _lock_balance(part.id, loc.id)
    out = _post(actor, part, source, -quantity, MovementKind.TRANSFER, group_id=group, now=now,
                serial_numbers=serials or None, reason=data.get("reason"))
    into = _post(actor, part, target, quantity, MovementKind.TRANSFER, group_id=group, now=now,
                 serial_numbers=serials or None, reason=data.get("reason"))
    for row in rows.values():
        row.location_id = target.id
    db.session.flush()
    audit_service.record(actor, "stock.transferred", out, {"part_id": part.id, "quantity": quantity,
                                                           "from": source.code, "to": target.code})
    return [out, into]


def issue_to_job(actor: Actor, data: dict[str, Any], *, now: datetime | None = None,
                 device_time: datetime | None = None, for_visit: Visit | None = None) -> StockMovement:
    """Parts used on a job (R-REP-6, R-PRT-1): a genuine/approved part, issued from the van of a technician
    who has a visit on the work order (a technician only from their own van), with serials when tracked.

    `for_visit`: the parts of a charge recorded on that visit (commerce.charges.record_charge, which has
    checked that the actor records work on it: its technician, or a dispatcher on their behalf). They are
    issued to the visit's work order from the van of the visit's technician."""
    now = now or utcnow()
    take_locks()
    part = _part(data["part_id"])
    check_usable(part)
    if for_visit is not None:
        order = get_ref(WorkOrder, for_visit.work_order_id, "work_order_id", "work order")
        data = {**data, "visit_id": for_visit.id}
    else:
        order = _job(actor, data["work_order_id"])
    location_id = data.get("location_id")
    if actor.role is Role.TECHNICIAN:
        van = van_of(actor.technician_id) if actor.technician_id else None
        if van is None:
            raise Forbidden("you have no van stock location")
        if location_id is not None and location_id != van.id:
            raise Forbidden("technicians issue parts only from their own van")
        location = van
    elif for_visit is not None:
        van = van_of(for_visit.technician_id) if for_visit.technician_id else None
        if van is None:
            raise ValidationFailed("the visit's technician has no van stock location: parts used on a job are "
                                   "issued from the technician's van (R-PRT-1, R-REP-6)")
        location = van
    else:
        actor.require(*STOCK_STAFF)
        if location_id is None:
            raise ValidationFailed("give location_id (the technician's van)",
                                   errors={"json": {"location_id": ["required"]}})
        location = _loc(location_id)
    if location.kind is not LocationKind.VAN or location.technician_id is None:
        raise ValidationFailed("parts used on a job are issued from the technician's van (R-PRT-1)")
    visit_id = data.get("visit_id")
    on_job = sa.select(Visit.id).where(Visit.work_order_id == order.id, Visit.technician_id == location.technician_id)
    if visit_id is not None:
        on_job = on_job.where(Visit.id == visit_id)
    if db.session.scalar(on_job.limit(1)) is None:
        raise ValidationFailed("the van's technician has no visit on this work order")
    if order.status not in ISSUABLE_ORDER_STATUSES:
        raise Conflict(f"work order {order.number} is {order.status.value}; parts are issued to a job under way")
    quantity = data["quantity"]
    commerce_consent.require_consent_for_parts(order.id, part.part_number, quantity)   # R-REP-4
    serials = _serials(part, data.get("serial_numbers"), quantity)
    rows = _require_in_stock(part, location, serials)
    movement = _post(actor, part, location, -quantity, MovementKind.ISSUE, group_id=uuid.uuid4(), now=now,
                     movement_id=data.get("id"), work_order_id=order.id, visit_id=visit_id,
                     technician_id=location.technician_id, serial_numbers=serials or None,
                     device_time=device_time, received_at=now if device_time else None,
                     occurred_at=data.get("occurred_at"))
    for row in rows.values():
        row.status, row.location_id, row.work_order_id = PartSerialStatus.ISSUED, None, order.id
    db.session.flush()
    audit_service.record(actor, "stock.issued", movement, {"part_id": part.id, "quantity": quantity,
                                                           "work_order_id": order.id, "location": location.code})
    return movement


def return_from_job(actor: Actor, data: dict[str, Any], *, now: datetime | None = None) -> StockMovement:
    """Unused parts back from a job into a location (not more than the job was issued, net of returns)."""
    now = now or utcnow()
    take_locks()
    part = _part(data["part_id"])
    order = _job(actor, data["work_order_id"])
    location = _loc(data["location_id"])
    if actor.role is Role.TECHNICIAN:
        if location.technician_id is None or location.technician_id != actor.technician_id:
            raise Forbidden("technicians return parts only into their own van")
    else:
        actor.require(*STOCK_STAFF)
    if location.kind is LocationKind.QUARANTINE:
        raise ValidationFailed("a defective part is tagged as a defective return, not returned to stock")
    net_issued = -(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(StockMovement.quantity), 0)).where(
        StockMovement.work_order_id == order.id, StockMovement.part_id == part.id,
        StockMovement.kind.in_((MovementKind.ISSUE, MovementKind.RETURN)))) or 0)
    quantity = data["quantity"]
    if quantity > net_issued:
        raise Conflict(f"only {net_issued} of {part.part_number} are out on work order {order.number}")
    serials = _serials(part, data.get("serial_numbers"), quantity)
    rows = _serial_rows(part, serials)
    wrong = [s for s in serials if s not in rows or rows[s].status is not PartSerialStatus.ISSUED
             or rows[s].work_order_id != order.id]
    if wrong:
        raise SerialMismatch(f"not issued to this work order: {', '.join(wrong)}")
    movement = _post(actor, part, location, quantity, MovementKind.RETURN, group_id=uuid.uuid4(), now=now,
                     work_order_id=order.id, serial_numbers=serials or None, reason=data.get("reason"))
    for row in rows.values():
        row.status, row.location_id, row.work_order_id = PartSerialStatus.IN_STOCK, location.id, None
    db.session.flush()
    audit_service.record(actor, "stock.returned", movement, {"part_id": part.id, "quantity": quantity})
    return movement


def adjust_stock(actor: Actor, data: dict[str, Any], *, now: datetime | None = None) -> StockMovement:
    """A manual correction (damage, loss, found stock) with a reason; never below zero."""
    actor.require(*STOCK_STAFF)
    now = now or utcnow()
    take_locks()
    part, location = _part(data["part_id"]), _loc(data["location_id"])
    quantity = data["quantity"]
    serials = _serials(part, data.get("serial_numbers"), quantity)
    if quantity < 0:
        rows = _require_in_stock(part, location, serials)
    else:
        _place_serials(part, location, serials, PartSerialStatus.IN_STOCK)
        rows = {}
    movement = _post(actor, part, location, quantity, MovementKind.ADJUST, group_id=uuid.uuid4(), now=now,
                     serial_numbers=serials or None, reason=data["reason"])
    for row in rows.values():
        row.status, row.location_id = PartSerialStatus.GONE, None
    db.session.flush()
    audit_service.record(actor, "stock.adjusted", movement, {"part_id": part.id, "quantity": quantity,
                                                             "reason": data["reason"]})
    return movement


def _movement_scope(stmt: sa.Select[Any], actor: Actor) -> sa.Select[Any]:
    """Technicians see the ledger of their own van only; stock staff and dispatchers see all of it."""
    if actor.role in (*STOCK_STAFF, Role.DISPATCHER):
        return stmt
    return stmt.where(StockMovement.location_id.in_(_location_scope(sa.select(StockLocation.id), actor)))


def list_movements(actor: Actor, page: PageRequest, *, part_id: uuid.UUID | None = None,
                   location_id: uuid.UUID | None = None, work_order_id: uuid.UUID | None = None,
                   kind: MovementKind | None = None) -> Page:
    stmt = _movement_scope(sa.select(StockMovement), actor).order_by(StockMovement.created_at.desc(),
                                                                     StockMovement.id)
    for column, value in ((StockMovement.part_id, part_id), (StockMovement.location_id, location_id),
                          (StockMovement.work_order_id, work_order_id), (StockMovement.kind, kind)):
        if value is not None:
            stmt = stmt.where(column == value)
    return paginate(stmt, page)


def list_balances(actor: Actor, page: PageRequest, *, part_id: uuid.UUID | None = None,
                  location_id: uuid.UUID | None = None, below_safety: bool | None = None) -> Page:
    stmt = (sa.select(StockBalance)
            .where(StockBalance.location_id.in_(_location_scope(sa.select(StockLocation.id), actor)))
            .order_by(StockBalance.location_id, StockBalance.part_id))
    if part_id:
        stmt = stmt.where(StockBalance.part_id == part_id)
    if location_id:
        stmt = stmt.where(StockBalance.location_id == location_id)
    if below_safety is not None:
        stmt = stmt.where(StockBalance.below_safety.is_(below_safety))
    return paginate(stmt, page)


def ledger_on_hand(part_id: uuid.UUID, location_id: uuid.UUID) -> int:
    """On-hand as the ledger's sum (the balance row must always equal it)."""
    return int(db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(StockMovement.quantity), 0)).where(
        StockMovement.part_id == part_id, StockMovement.location_id == location_id)) or 0)


# ---- stocktaking ---------------------------------------------------------------------------------

def record_count(actor: Actor, data: dict[str, Any], *, now: datetime | None = None) -> StockCount:
    """Record a count sheet for one location (R-PRT-1); nothing moves until it is posted."""
    actor.require(*STOCK_STAFF)
    now = now or utcnow()
    location = _loc(data["location_id"])
    part_ids = [line["part_id"] for line in data["lines"]]
    if len(set(part_ids)) != len(part_ids):
        raise ValidationFailed("each part appears once on a count sheet")
    for part_id in part_ids:
        _part(part_id)
    count = StockCount(location_id=location.id, counted_at=data.get("counted_at") or now, counted_by_id=actor.user_id,
                       note=data.get("note"),
                       lines=[StockCountLine(part_id=line["part_id"], counted=line["counted"]) for line in data["lines"]])
    db.session.add(count)
    db.session.flush()
    audit_service.record(actor, "stock_count.recorded", count, {"location": location.code, "lines": len(part_ids)})
    return count


def post_count(actor: Actor, count_id: uuid.UUID, *, now: datetime | None = None) -> StockCount:
    """Reconcile the sheet against the ledger: an adjust movement per difference; the sheet keeps what the
    ledger said and the difference. Posting twice is refused."""
    actor.require(*STOCK_STAFF)
    now = now or utcnow()
    take_locks()
    count = get_or_404(StockCount, count_id, "stock count")
    if count.status is StockCountStatus.POSTED:
        raise InvalidTransition(f"stock count {count.id} is already posted")
    location = db.session.get(StockLocation, count.location_id)
    assert location is not None
    group = uuid.uuid4()
    for line in sorted(count.lines, key=lambda x: str(x.part_id)):
        balance = _lock_balance(line.part_id, location.id)
        line.ledger_on_hand = balance.on_hand
        line.difference = line.counted - balance.on_hand
        if line.difference:
            part = db.session.get(Part, line.part_id)
            assert part is not None
            _post(actor, part, location, line.difference, MovementKind.ADJUST, group_id=group, now=now,
                  stock_count_id=count.id, reason=f"stocktake {count.id}")
    count.status, count.posted_at, count.posted_by_id = StockCountStatus.POSTED, now, actor.user_id
    db.session.flush()
    audit_service.record(actor, "stock_count.posted", count,
                         {"differences": {str(x.part_id): x.difference for x in count.lines if x.difference}})
    return count


def get_count(actor: Actor, count_id: uuid.UUID) -> StockCount:
    actor.require(*STOCK_STAFF)
    return get_or_404(StockCount, count_id, "stock count")


def list_counts(actor: Actor, page: PageRequest, *, location_id: uuid.UUID | None = None) -> Page:
    actor.require(*STOCK_STAFF)
    stmt = sa.select(StockCount).order_by(StockCount.counted_at.desc(), StockCount.id)
    if location_id:
        stmt = stmt.where(StockCount.location_id == location_id)
    return paginate(stmt, page)


# ---- defective part returns (R-REP-9) ------------------------------------------------------------

def tag_defective(actor: Actor, data: dict[str, Any], *, now: datetime | None = None) -> DefectiveReturn:
    """A part removed under warranty is tagged (serial, work order, reason) and put into quarantine with a
    quarantine movement; it cannot be issued until quality control has assessed it."""
    now = now or utcnow()
    take_locks()
    part = _part(data["part_id"])
    order = _job(actor, data["work_order_id"])
    if actor.role is not Role.TECHNICIAN:
        actor.require(*QUALITY_CONTROL)
    location = _loc(data["quarantine_location_id"], "quarantine_location_id")
    if location.kind is not LocationKind.QUARANTINE:
        raise ValidationFailed("a defective part is held at a quarantine location",
                               errors={"json": {"quarantine_location_id": ["not a quarantine location"]}})
    serial = data.get("serial_number")
    if part.serial_tracked and not serial:
        raise SerialMismatch(f"{part.part_number} is serial-tracked: give the removed part's serial_number")
    if serial:
        rows = _serial_rows(part, [serial])
        if serial in rows and rows[serial].status in (PartSerialStatus.IN_STOCK, PartSerialStatus.QUARANTINED):
            raise SerialMismatch(f"serial {serial} is {rows[serial].status.value}, not a part removed from a unit")
        _place_serials(part, location, [serial], PartSerialStatus.QUARANTINED,
                       allow_from=(PartSerialStatus.GONE, PartSerialStatus.ISSUED))
    defect = DefectiveReturn(tag=f"QC-{now:%Y%m%d}-{secrets.token_hex(3).upper()}", part_id=part.id,
                             serial_number=serial, work_order_id=order.id, reason=data["reason"],
                             quarantine_location_id=location.id, tagged_by_id=actor.user_id)
    db.session.add(defect)
    db.session.flush()
    _post(actor, part, location, 1, MovementKind.QUARANTINE, group_id=uuid.uuid4(), now=now,
          work_order_id=order.id, serial_numbers=[serial] if serial else None, defective_return_id=defect.id,
          reason=data["reason"])
    audit_service.record(actor, "defect.tagged", defect, {"part_id": part.id, "serial": serial,
                                                          "work_order_id": order.id})
    return defect


def _defect(defect_id: uuid.UUID, version: int | None) -> DefectiveReturn:
    defect = db.session.get(DefectiveReturn, defect_id, with_for_update=True)
    if defect is None:
        raise NotFound(f"defective return {defect_id} not found")
    if version is not None and version != defect.version:
        from fieldservice.errors import StaleVersion

        raise StaleVersion(f"defective return is at version {defect.version}, you edited {version}")
    return defect


def assess_defect(actor: Actor, defect_id: uuid.UUID, data: dict[str, Any], *,
                  now: datetime | None = None) -> DefectiveReturn:
    """Quality control's assessment (R-REP-9): responsible party (own / supplier) and outcome. Once only."""
    actor.require(*QUALITY_CONTROL)
    defect = _defect(defect_id, data.get("version"))
    if defect.status is not DefectStatus.QUARANTINED:
        raise InvalidTransition(f"defective return {defect.tag} is {defect.status.value}; it is assessed once",
                                current_status=defect.status.value)
    defect.responsible_party, defect.outcome = data["responsible_party"], data["outcome"]
    defect.assessment_notes = data.get("notes")
    defect.assessed_at, defect.assessed_by_id = now or utcnow(), actor.user_id
    defect.status = DefectStatus.ASSESSED
    db.session.flush()
    audit_service.record(actor, "defect.assessed", defect, {"responsible_party": defect.responsible_party,
                                                            "outcome": defect.outcome})
    return defect


def dispose_defect(actor: Actor, defect_id: uuid.UUID, data: dict[str, Any], *,
                   now: datetime | None = None) -> DefectiveReturn:
    """Carry out the assessed outcome: scrap or return to supplier (out of quarantine), or restock after a
    repair or a good finding (quarantine → a warehouse). Refused before the assessment and after closing."""
    actor.require(*QUALITY_CONTROL)
    now = now or utcnow()
    take_locks()
    defect = _defect(defect_id, data.get("version"))
    if defect.status is DefectStatus.QUARANTINED:
        raise InvalidTransition(f"defective return {defect.tag} is not assessed yet; quality control decides first",
                                current_status=defect.status.value)
    if defect.status is DefectStatus.CLOSED:
        raise InvalidTransition(f"defective return {defect.tag} is already closed", current_status=defect.status.value)
    part = db.session.get(Part, defect.part_id)
    quarantine = db.session.get(StockLocation, defect.quarantine_location_id)
    assert part is not None and quarantine is not None
    serials = [defect.serial_number] if defect.serial_number else None
    serial_row = _serial_rows(part, serials or []).get(defect.serial_number or "")
    group = uuid.uuid4()
    common = {"group_id": group, "now": now, "defective_return_id": defect.id, "serial_numbers": serials,
              "work_order_id": defect.work_order_id}
    if defect.outcome in (DefectOutcome.SCRAP, DefectOutcome.RETURN_TO_SUPPLIER):
        if data.get("restock_location_id"):
            raise ValidationFailed(f"the outcome is {defect.outcome.value}: nothing is restocked")
        kind = MovementKind.SCRAP if defect.outcome is DefectOutcome.SCRAP else MovementKind.RETURN_TO_SUPPLIER
        _post(actor, part, quarantine, -1, kind, **common)
        if serial_row:
            serial_row.status, serial_row.location_id = PartSerialStatus.GONE, None
    else:
        if not data.get("restock_location_id"):
            raise ValidationFailed("give restock_location_id (a warehouse)",
                                   errors={"json": {"restock_location_id": ["required for restock/repair"]}})
        target = _loc(data["restock_location_id"], "restock_location_id")
        if target.kind is not LocationKind.WAREHOUSE:
            raise ValidationFailed("restock into a warehouse")
        _post(actor, part, quarantine, -1, MovementKind.TRANSFER, **common)
        _post(actor, part, target, 1, MovementKind.TRANSFER, **common)
        defect.restock_location_id = target.id
        if serial_row:
            serial_row.status, serial_row.location_id, serial_row.work_order_id = (
                PartSerialStatus.IN_STOCK, target.id, None)
    defect.status, defect.closed_at = DefectStatus.CLOSED, now
    db.session.flush()
    audit_service.record(actor, "defect.closed", defect, {"outcome": defect.outcome})
    return defect


def get_defect(actor: Actor, defect_id: uuid.UUID) -> DefectiveReturn:
    actor.require(*QUALITY_CONTROL, Role.DISPATCHER)
    return get_or_404(DefectiveReturn, defect_id, "defective return")


def list_defects(actor: Actor, page: PageRequest, *, status: DefectStatus | None = None,
                 work_order_id: uuid.UUID | None = None) -> Page:
    actor.require(*QUALITY_CONTROL, Role.DISPATCHER)
    stmt = sa.select(DefectiveReturn).order_by(DefectiveReturn.created_at.desc(), DefectiveReturn.id)
    if status:
        stmt = stmt.where(DefectiveReturn.status == status)
    if work_order_id:
        stmt = stmt.where(DefectiveReturn.work_order_id == work_order_id)
    return paginate(stmt, page)
