"""The customer service archive (R-ARC-1..3): per customer, per asset and per serial number, every record
version with its photos, signature and the parts replaced, the visits and the sales contracts; a search
for the office; and the append-only log of every read.

Who reads what (R-ARC-3):
- office and admin: everything;
- a technician: the records they wrote themselves (and the customer/asset pages of their own jobs, with
  only their own records on them);
- a customer login: their own customer's archive only;
- anyone else: 403; something outside the caller's scope: 404 (ids do not leak).
Every successful read is logged with `log_read` (who, when, what, via api or page) in the same transaction.

Queries are set-based: one page of records, then their signatures, visits, technicians, work orders and
photos with one query each, whatever the page size.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from fieldservice.archive.models import ENTITY_TYPES, VIA, ArchiveRead
from fieldservice.assets.models import Asset
from fieldservice.auth.models import Role
from fieldservice.auth.service import Actor
from fieldservice.catalog.models import Product
from fieldservice.common.pagination import Page, PageRequest, apply_sort, paginate
from fieldservice.common.search import contains
from fieldservice.contracts.models import SalesContract, SalesContractLine
from fieldservice.customers.models import Contact, Customer
from fieldservice.db import utcnow
from fieldservice.errors import Conflict, Forbidden, NotFound, ValidationFailed
from fieldservice.extensions import db
from fieldservice.photos.models import Photo
from fieldservice.records.canonical import photo_ids_in
from fieldservice.records.models import RecordKind, ServiceRecord, Signoff
from fieldservice.scoping import can_see_customer
from fieldservice.technicians.models import Technician
from fieldservice.visits.models import Visit
from fieldservice.workorders.models import WorkOrder

log = logging.getLogger(__name__)


class SignatureTampered(Conflict):
    """R-SIG-3: the stored signature image no longer hashes to the signed image's hash; it is not served."""

    code, title = "signature_tampered", "The stored signature image was changed"

ARCHIVE_STAFF = (Role.OFFICE, Role.ADMIN)
ARCHIVE_READERS = (*ARCHIVE_STAFF, Role.TECHNICIAN, Role.CUSTOMER)


def plain(value: Any) -> Any:
    """JSON-ready values (ISO 8601 times and dates, UUID strings) for the nested archive documents."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


# ---- the read log (R-ARC-3) ------------------------------------------------------------------------

def log_read(actor: Actor, entity_type: str, entity_id: Any, *, via: str, at: datetime | None = None) -> ArchiveRead:
    """Append one row to the archive read log: who (user, name, role), when, what, through which door."""
    if via not in VIA:
        raise ValueError(f"via must be one of {VIA}")
    if entity_type not in ENTITY_TYPES:
        raise ValueError(f"entity_type must be one of {ENTITY_TYPES}")
    row = ArchiveRead(at=at or utcnow(), actor_user_id=actor.user_id, actor_name=actor.display_name[:120],
                      actor_role=actor.role.value, entity_type=entity_type, entity_id=str(entity_id)[:200], via=via)
    db.session.add(row)
    return row


def list_reads(actor: Actor, page: PageRequest, *, entity_type: str | None = None, entity_id: str | None = None,
               actor_user_id: uuid.UUID | None = None, via: str | None = None) -> Page:
    """The read log, newest first (office and admin)."""
    actor.require(*ARCHIVE_STAFF)
    stmt = sa.select(ArchiveRead).order_by(ArchiveRead.at.desc(), ArchiveRead.id)
    if entity_type:
        stmt = stmt.where(ArchiveRead.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(ArchiveRead.entity_id == entity_id)
    if actor_user_id:
        stmt = stmt.where(ArchiveRead.actor_user_id == actor_user_id)
    if via:
        stmt = stmt.where(ArchiveRead.via == via)
    return paginate(stmt, page)


# ---- access ----------------------------------------------------------------------------------------

def _require_reader(actor: Actor) -> None:
    if actor.role not in ARCHIVE_READERS:
        raise Forbidden(f"role {actor.role.value} may not read the customer service archive (R-ARC-3)")


def record_scope(actor: Actor) -> sa.ColumnElement[bool] | None:
    """Which record versions the actor may read: None for all."""
    _require_reader(actor)
    if actor.role in ARCHIVE_STAFF:
        return None
    if actor.role is Role.TECHNICIAN:
        if actor.technician_id is None:
            return sa.false()
        return ServiceRecord.technician_id == actor.technician_id
    return ServiceRecord.work_order_id.in_(sa.select(WorkOrder.id).where(WorkOrder.customer_id == actor.customer_id))


def _require_customer(actor: Actor, customer_id: uuid.UUID) -> Customer:
    _require_reader(actor)
    customer = db.session.get(Customer, customer_id)
    if customer is None or (actor.role not in ARCHIVE_STAFF and not can_see_customer(actor, customer_id)):
        raise NotFound(f"customer {customer_id} not found")
    return customer


def can_read_record(actor: Actor, record: ServiceRecord) -> bool:
    scope = record_scope(actor)
    if scope is None:
        return True
    return db.session.scalar(sa.select(ServiceRecord.id).where(ServiceRecord.id == record.id, scope)) is not None


# ---- search ----------------------------------------------------------------------------------------

def search(actor: Actor, q: str, page: PageRequest, *, via: str) -> Page:
    """Office search by customer name (Chinese too), customer or contact phone, serial number, product model
    code or name: one row per matching (customer, asset) pair, customers without assets included.
    Case-insensitive substring match (ILIKE on PostgreSQL, LIKE on SQLite)."""
    actor.require(*ARCHIVE_STAFF)
    q = (q or "").strip()
    if not q:
        raise ValidationFailed("q: say what to search for", errors={"query": {"q": ["required"]}})

    def has(column: Any) -> sa.ColumnElement[bool]:
        return contains(column, q)

    contact_phone = sa.select(Contact.customer_id).where(has(Contact.phone))
    stmt = (sa.select(Customer.id.label("customer_id"), Customer.name.label("customer_name"),
                      Customer.phone.label("phone"), Asset.id.label("asset_id"),
                      Asset.serial_number.label("serial_number"), Product.model_code.label("model_code"),
                      Product.name.label("product_name"), Asset.install_date.label("install_date"))
            .select_from(Customer)
            .outerjoin(Asset, Asset.customer_id == Customer.id)
            .outerjoin(Product, Product.id == Asset.product_id)
            .where(sa.or_(has(Customer.name), has(Customer.phone), Customer.id.in_(contact_phone),
                          has(Asset.serial_number), has(Product.model_code), has(Product.name)))
            .order_by(Customer.name, Customer.id, Asset.serial_number, Asset.id))
    stmt = apply_sort(stmt, page.sort)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0
    rows = db.session.execute(stmt.limit(page.page_size).offset(page.offset)).mappings().all()
    log_read(actor, "search", q, via=via)
    return Page(items=[plain(dict(r)) for r in rows], page=page.page, page_size=page.page_size, total=total)


# ---- record entries (set-based) --------------------------------------------------------------------

def parts_replaced(record: ServiceRecord) -> list[dict[str, Any]]:
    """Parts replaced, from a repair record's content (R-ARC-1)."""
    if record.kind is not RecordKind.REPAIR_RECORD:
        return []
    return list((record.content or {}).get("parts_replaced") or [])


def _entries(records: list[ServiceRecord], *, with_signature: bool = False) -> list[dict[str, Any]]:
    """Record versions with their visit, work order, technician, photos and signature, in a fixed number
    of queries (signoffs are eager-loaded with the records)."""
    if not records:
        return []
    visit_ids = {r.visit_id for r in records}
    order_ids = {r.work_order_id for r in records}
    visits = {v.id: v for v in db.session.scalars(sa.select(Visit).where(Visit.id.in_(visit_ids)))}
    orders = {o.id: o for o in db.session.scalars(sa.select(WorkOrder).where(WorkOrder.id.in_(order_ids)))}
    tech_ids = {v.technician_id for v in visits.values() if v.technician_id} | \
        {r.technician_id for r in records if r.technician_id}
    techs = {t.id: t for t in db.session.scalars(sa.select(Technician).where(Technician.id.in_(tech_ids)))} \
        if tech_ids else {}
    wanted = {r.id: photo_ids_in(r.content) for r in records}
    all_ids = {uuid.UUID(i) for ids in wanted.values() for i in ids}
    photos = {str(p.id): p for p in db.session.scalars(sa.select(Photo).where(Photo.id.in_(all_ids)))} \
        if all_ids else {}
    out = []
    for record in records:
        visit = visits.get(record.visit_id)
        order = orders.get(record.work_order_id)
        tech = techs.get(record.technician_id) if record.technician_id else None
        signoff = record.signoff
        out.append({
            "id": record.id, "root_id": record.root_id, "version_no": record.version_no,
            "previous_version_id": record.previous_version_id, "kind": record.kind.value,
            "status": record.status.value, "content": record.content, "content_sha256": record.content_sha256,
            "signed_at": record.signed_at, "created_at": record.created_at,
            "work_order": None if order is None else {"id": order.id, "number": order.number,
                                                      "kind": order.kind.value, "status": order.status.value},
            "visit": None if visit is None else {"id": visit.id, "status": visit.status.value,
                                                 "scheduled_start": visit.scheduled_start,
                                                 "arrived_at": visit.arrived_at, "departed_at": visit.departed_at},
            "technician": None if tech is None else {"id": tech.id, "name": tech.name},
            "photos": [{"id": p.id, "kind": p.kind.value, "sha256": p.sha256, "status": p.status.value,
                        "captured_at": p.captured_at} for i in wanted[record.id] if (p := photos.get(i))],
            "parts_replaced": parts_replaced(record),
            "signoff": None if signoff is None else {
                "id": signoff.id, "signer_name": signoff.signer_name, "signer_role": signoff.signer_role.value,
                "content_sha256": signoff.content_sha256, "signed_at": signoff.signed_at,
                "device_id": signoff.device_id, "device_time": signoff.device_time,
                "signature_png_sha256": signoff.signature_png_sha256,
                **({"signature_png": signoff.signature_png} if with_signature else {})},
        })
    return out


def _records_page(actor: Actor, where: sa.ColumnElement[bool], page: PageRequest) -> Page:
    stmt = (sa.select(ServiceRecord).options(selectinload(ServiceRecord.signoff)).where(where)
            .order_by(ServiceRecord.created_at.desc(), ServiceRecord.root_id, ServiceRecord.version_no.desc()))
    scope = record_scope(actor)
    if scope is not None:
        stmt = stmt.where(scope)
    result = paginate(stmt, page)
    result.items = plain(_entries(result.items))
    return result


# ---- per customer, asset, serial, record -----------------------------------------------------------

def _asset_rows(where: sa.ColumnElement[bool]) -> list[dict[str, Any]]:
    rows = db.session.execute(sa.select(Asset, Product).join(Product, Product.id == Asset.product_id)
                              .where(where).order_by(Asset.serial_number, Asset.id)).all()
    return [{"id": a.id, "customer_id": a.customer_id, "site_id": a.site_id, "serial_number": a.serial_number,
             "status": a.status.value, "install_date": a.install_date, "warranty_start": a.warranty_start,
             "warranty_end": a.warranty_end, "product": {"id": p.id, "model_code": p.model_code, "name": p.name}}
            for a, p in rows]


def _contracts(customer_id: uuid.UUID, serials: list[str] | None = None) -> list[dict[str, Any]]:
    """Sales contracts with their lines (product, serial, price, channel, dates): R-ARC-1 sale info."""
    stmt = (sa.select(SalesContract).options(selectinload(SalesContract.lines))
            .where(SalesContract.customer_id == customer_id).order_by(SalesContract.signed_on, SalesContract.id))
    if serials is not None:
        stmt = stmt.where(SalesContract.id.in_(sa.select(SalesContractLine.contract_id).where(
            SalesContractLine.serial_number.in_(serials))))
    return [{"id": c.id, "number": c.number, "signed_on": c.signed_on, "currency": c.currency,
             "lines": [{"id": line.id, "product_id": line.product_id, "configuration": line.configuration,
                        "serial_number": line.serial_number, "quantity": line.quantity,
                        "unit_price_minor": line.unit_price_minor, "channel": line.channel.value,
                        "sale_date": line.sale_date, "production_date": line.production_date,
                        "ship_date": line.ship_date}
                       for line in c.lines if serials is None or line.serial_number in serials]}
            for c in db.session.scalars(stmt)]


def _visits(actor: Actor, order_where: sa.ColumnElement[bool]) -> list[dict[str, Any]]:
    stmt = (sa.select(Visit, WorkOrder.number).join(WorkOrder, WorkOrder.id == Visit.work_order_id)
            .where(order_where).order_by(Visit.scheduled_start.desc(), Visit.id).limit(500))
    if actor.role is Role.TECHNICIAN:
        stmt = stmt.where(Visit.technician_id == actor.technician_id)
    return [{"id": v.id, "work_order_id": v.work_order_id, "work_order_number": number, "status": v.status.value,
             "scheduled_start": v.scheduled_start, "arrived_at": v.arrived_at, "departed_at": v.departed_at,
             "work_complete": v.work_complete}
            for v, number in db.session.execute(stmt).all()]


def customer_archive(actor: Actor, customer_id: uuid.UUID, page: PageRequest, *, via: str) -> dict[str, Any]:
    """R-ARC-1/2: the customer (name, contacts, sites), their equipment, sales contracts, visits, and one
    page of record versions (newest first) with photos, signatures and parts replaced."""
    customer = _require_customer(actor, customer_id)
    result = {
        "customer": {"id": customer.id, "name": customer.name, "phone": customer.phone, "email": customer.email,
                     "preferred_language": customer.preferred_language},
        "contacts": [{"id": c.id, "name": c.name, "title": c.title, "phone": c.phone, "email": c.email}
                     for c in db.session.scalars(sa.select(Contact).where(Contact.customer_id == customer.id)
                                                 .order_by(Contact.name, Contact.id))],
        "assets": _asset_rows(Asset.customer_id == customer.id),
        "contracts": _contracts(customer.id) if actor.role is not Role.TECHNICIAN else [],
        "visits": _visits(actor, WorkOrder.customer_id == customer.id),
        "records": _records_page(actor, ServiceRecord.work_order_id.in_(
            sa.select(WorkOrder.id).where(WorkOrder.customer_id == customer.id)), page),
    }
    log_read(actor, "customer", customer.id, via=via)
    return {k: v if k == "records" else plain(v) for k, v in result.items()}


def _asset_result(actor: Actor, assets: list[dict[str, Any]], page: PageRequest) -> dict[str, Any]:
    ids = [a["id"] for a in assets]
    customer_ids = {a["customer_id"] for a in assets}
    order_where = WorkOrder.asset_id.in_(ids)
    contracts = []
    if actor.role is not Role.TECHNICIAN:
        for customer_id in sorted(customer_ids):
            contracts.extend(_contracts(customer_id, [a["serial_number"] for a in assets]))
    return {
        "assets": assets,
        "contracts": contracts,
        "visits": _visits(actor, order_where),
        "records": _records_page(actor, ServiceRecord.work_order_id.in_(sa.select(WorkOrder.id).where(order_where)),
                                 page),
    }


def asset_archive(actor: Actor, asset_id: uuid.UUID, page: PageRequest, *, via: str) -> dict[str, Any]:
    """R-ARC-2 per equipment: the asset, its contract lines, the visits and records of its work orders."""
    _require_reader(actor)
    assets = _asset_rows(Asset.id == asset_id)
    if not assets:
        raise NotFound(f"asset {asset_id} not found")
    _require_customer(actor, assets[0]["customer_id"])
    result = _asset_result(actor, assets, page)
    log_read(actor, "asset", asset_id, via=via)
    return {k: v if k == "records" else plain(v) for k, v in result.items()}


def serial_archive(actor: Actor, serial: str, page: PageRequest, *, via: str) -> dict[str, Any]:
    """R-ARC-2 per serial number (exact, case-insensitive): every unit with that serial the caller may see."""
    _require_reader(actor)
    serial = serial.strip()
    if not serial:
        raise ValidationFailed("serial: empty", errors={"path": {"serial": ["empty"]}})
    where = sa.func.lower(Asset.serial_number) == serial.lower()
    if actor.role not in ARCHIVE_STAFF:
        visible = [c for c in {a["customer_id"] for a in _asset_rows(where)} if can_see_customer(actor, c)]
        where = sa.and_(where, Asset.customer_id.in_(visible))
    assets = _asset_rows(where)
    if not assets:
        raise NotFound(f"no equipment with serial number {serial!r}")
    result = _asset_result(actor, assets, page)
    log_read(actor, "serial", serial, via=via)
    return {k: v if k == "records" else plain(v) for k, v in result.items()}


def record_view(actor: Actor, record_id: uuid.UUID, *, via: str) -> dict[str, Any]:
    """One record version with every version of it, photos, the signature image and parts replaced."""
    _require_reader(actor)
    record = db.session.scalar(sa.select(ServiceRecord).options(selectinload(ServiceRecord.signoff))
                               .where(ServiceRecord.id == record_id))
    if record is None or not can_read_record(actor, record):
        raise NotFound(f"record {record_id} not found")
    versions = list(db.session.scalars(sa.select(ServiceRecord).options(selectinload(ServiceRecord.signoff))
                                       .where(ServiceRecord.root_id == record.root_id)
                                       .order_by(ServiceRecord.version_no)))
    entry = _entries([record], with_signature=True)[0]
    order = db.session.get(WorkOrder, record.work_order_id)
    customer = db.session.get(Customer, order.customer_id) if order else None
    entry["customer"] = None if customer is None else {"id": customer.id, "name": customer.name}
    entry["versions"] = [{"id": v.id, "version_no": v.version_no, "status": v.status.value,
                          "previous_version_id": v.previous_version_id, "content_sha256": v.content_sha256,
                          "signed_at": v.signed_at, "created_at": v.created_at} for v in versions]
    log_read(actor, "service_record", record.id, via=via)
    return plain(entry)


def signoff_png(actor: Actor, signoff_id: uuid.UUID, *, via: str) -> bytes:
    """The signature image of a sign-off the actor may read (office pages show it inline)."""
    import base64

    signoff = db.session.get(Signoff, signoff_id)
    if signoff is None or signoff.signature_png is None or not can_read_record(actor, signoff.record):
        raise NotFound(f"signature {signoff_id} not found")
    png = base64.b64decode(signoff.signature_png)
    if hashlib.sha256(png).hexdigest() != signoff.signature_png_sha256:  # R-SIG-3: never serve a swapped image
        log.error("signoff %s: the stored signature image does not match its signed hash", signoff.id)
        raise SignatureTampered(f"the signature image of sign-off {signoff_id} does not match the signed image; "
                                f"it is not shown (run `flask verify-archive`)")
    log_read(actor, "signoff", signoff.id, via=via)
    return png

