"""Customer, contact and site use cases."""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from fieldservice.audit import service as audit_service
from fieldservice.auth.service import Actor
from fieldservice.common.lookup import get_or_404, get_ref
from fieldservice.common.pagination import Page, PageRequest, paginate
from fieldservice.common.search import contains
from fieldservice.customers.models import Contact, Customer, Site
from fieldservice.errors import ValidationFailed
from fieldservice.extensions import db
from fieldservice.scoping import require_customer_visible, visible_customer_ids


def list_customers(actor: Actor, page: PageRequest, *, q: str | None = None, is_active: bool | None = None) -> Page:
    stmt = sa.select(Customer).order_by(Customer.name, Customer.id)
    visible = visible_customer_ids(actor)
    if visible is not None:
        stmt = stmt.where(Customer.id.in_(visible))
    if q:
        q = q.strip()
        stmt = stmt.where(sa.or_(contains(Customer.name, q), contains(Customer.phone, q), contains(Customer.email, q)))
    if is_active is not None:
        stmt = stmt.where(Customer.is_active == is_active)
    return paginate(stmt, page)


def get_customer(actor: Actor, customer_id: uuid.UUID) -> Customer:
    customer = get_or_404(Customer, customer_id, "customer")
    require_customer_visible(actor, customer.id, f"customer {customer_id}")
    return customer


def create_customer(actor: Actor, data: dict[str, Any]) -> Customer:
    contacts = data.pop("contacts", [])
    sites = data.pop("sites", [])
    customer = Customer(**data)
    db.session.add(customer)
    db.session.flush()
    for contact in contacts:
        db.session.add(Contact(customer=customer, **contact))
    for site in sites:
        db.session.add(Site(customer=customer, **site))
    db.session.flush()
    audit_service.record(actor, "customer.create", customer, {"name": customer.name})
    return customer


def update_customer(actor: Actor, customer_id: uuid.UUID, data: dict[str, Any]) -> Customer:
    customer = get_customer(actor, customer_id)
    diff = audit_service.changes(customer, data)
    if diff:
        audit_service.record(actor, "customer.update", customer, diff)
    return customer


def list_contacts(actor: Actor, customer_id: uuid.UUID) -> list[Contact]:
    return list(get_customer(actor, customer_id).contacts)


def add_contact(actor: Actor, customer_id: uuid.UUID, data: dict[str, Any]) -> Contact:
    customer = get_customer(actor, customer_id)
    contact = Contact(customer=customer, **data)
    db.session.add(contact)
    db.session.flush()
    audit_service.record(actor, "contact.create", contact, {"customer_id": customer.id, "name": contact.name})
    return contact


def get_contact(actor: Actor, contact_id: uuid.UUID) -> Contact:
    contact = get_or_404(Contact, contact_id, "contact")
    require_customer_visible(actor, contact.customer_id, f"contact {contact_id}")
    return contact


def update_contact(actor: Actor, contact_id: uuid.UUID, data: dict[str, Any]) -> Contact:
    contact = get_contact(actor, contact_id)
    diff = audit_service.changes(contact, data)
    if diff:
        audit_service.record(actor, "contact.update", contact, diff)
    return contact


def delete_contact(actor: Actor, contact_id: uuid.UUID) -> None:
    contact = get_contact(actor, contact_id)
    audit_service.record(actor, "contact.delete", contact, {"customer_id": contact.customer_id, "name": contact.name})
    db.session.delete(contact)


def list_sites(actor: Actor, page: PageRequest, *, customer_id: uuid.UUID | None = None,
               q: str | None = None) -> Page:
    stmt = sa.select(Site).order_by(Site.name, Site.id)
    visible = visible_customer_ids(actor)
    if visible is not None:
        stmt = stmt.where(Site.customer_id.in_(visible))
    if customer_id:
        stmt = stmt.where(Site.customer_id == customer_id)
    if q:
        q = q.strip()
        stmt = stmt.where(sa.or_(contains(Site.name, q), contains(Site.address, q), contains(Site.city, q)))
    return paginate(stmt, page)


def add_site(actor: Actor, customer_id: uuid.UUID, data: dict[str, Any]) -> Site:
    customer = get_customer(actor, customer_id)
    site = Site(customer=customer, **data)
    db.session.add(site)
    db.session.flush()
    audit_service.record(actor, "site.create", site, {"customer_id": customer.id, "name": site.name})
    return site


def get_site(actor: Actor, site_id: uuid.UUID) -> Site:
    site = get_or_404(Site, site_id, "site")
    require_customer_visible(actor, site.customer_id, f"site {site_id}")
    return site


def update_site(actor: Actor, site_id: uuid.UUID, data: dict[str, Any]) -> Site:
    site = get_site(actor, site_id)
    diff = audit_service.changes(site, data)
    if diff:
        audit_service.record(actor, "site.update", site, diff)
    return site


def site_ref(customer_id: uuid.UUID, site_id: uuid.UUID, field: str = "site_id") -> Site:
    """A site named in a request body; it must belong to the customer named with it."""
    site = get_ref(Site, site_id, field, "site")
    if site.customer_id != customer_id:
        raise ValidationFailed(f"{field}: site {site_id} belongs to another customer",
                               errors={"json": {field: ["belongs to another customer"]}})
    return site
