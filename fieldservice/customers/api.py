"""Customer, contact and site endpoints."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.auth.decorators import BACK_OFFICE, current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.customers import service
from fieldservice.customers.schemas import (
    ContactInSchema,
    ContactSchema,
    ContactUpdateSchema,
    CustomerDetailSchema,
    CustomerInSchema,
    CustomerQuerySchema,
    CustomerSchema,
    CustomerUpdateSchema,
    SiteInSchema,
    SiteQuerySchema,
    SiteSchema,
    SiteUpdateSchema,
)
from fieldservice.db import unit_of_work

blp = Blueprint("customers", __name__, url_prefix="/api/v1", description="Customers, contacts and sites")

READERS = (*BACK_OFFICE, Role.TECHNICIAN, Role.CUSTOMER)
WRITERS = BACK_OFFICE


@blp.route("/customers")
class Customers(MethodView):
    @requires(*READERS)
    @blp.arguments(CustomerQuerySchema, location="query")
    @blp.response(200, page_of(CustomerSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List customers (search by name, phone or e-mail)."""
        page = args.pop("page_request")
        return service.list_customers(current_actor(), page, **args)

    @requires(*WRITERS)
    @blp.arguments(CustomerInSchema)
    @blp.response(201, CustomerDetailSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a customer, optionally with contacts and sites."""
        with unit_of_work():
            return service.create_customer(current_actor(), data)


@blp.route("/customers/<uuid:customer_id>")
class CustomerItem(MethodView):
    @requires(*READERS)
    @blp.response(200, CustomerDetailSchema)
    def get(self, customer_id: uuid.UUID) -> Any:
        """One customer with contacts and sites."""
        return service.get_customer(current_actor(), customer_id)

    @requires(*WRITERS)
    @blp.arguments(CustomerUpdateSchema)
    @blp.response(200, CustomerDetailSchema)
    def patch(self, data: dict[str, Any], customer_id: uuid.UUID) -> Any:
        """Change a customer; `is_active: false` archives it (records are never deleted)."""
        with unit_of_work():
            return service.update_customer(current_actor(), customer_id, data)


@blp.route("/customers/<uuid:customer_id>/contacts")
class CustomerContacts(MethodView):
    @requires(*READERS)
    @blp.response(200, ContactSchema(many=True))
    def get(self, customer_id: uuid.UUID) -> Any:
        """The customer's contacts."""
        return service.list_contacts(current_actor(), customer_id)

    @requires(*WRITERS)
    @blp.arguments(ContactInSchema)
    @blp.response(201, ContactSchema)
    def post(self, data: dict[str, Any], customer_id: uuid.UUID) -> Any:
        """Add a contact person."""
        with unit_of_work():
            return service.add_contact(current_actor(), customer_id, data)


@blp.route("/contacts/<uuid:contact_id>")
class ContactItem(MethodView):
    @requires(*READERS)
    @blp.response(200, ContactSchema)
    def get(self, contact_id: uuid.UUID) -> Any:
        """One contact."""
        return service.get_contact(current_actor(), contact_id)

    @requires(*WRITERS)
    @blp.arguments(ContactUpdateSchema(partial=True))
    @blp.response(200, ContactSchema)
    def patch(self, data: dict[str, Any], contact_id: uuid.UUID) -> Any:
        """Change a contact."""
        with unit_of_work():
            return service.update_contact(current_actor(), contact_id, data)

    @requires(*WRITERS)
    @blp.response(204)
    def delete(self, contact_id: uuid.UUID) -> None:
        """Remove a contact person."""
        with unit_of_work():
            service.delete_contact(current_actor(), contact_id)


@blp.route("/customers/<uuid:customer_id>/sites")
class CustomerSites(MethodView):
    @requires(*WRITERS)
    @blp.arguments(SiteInSchema)
    @blp.response(201, SiteSchema)
    def post(self, data: dict[str, Any], customer_id: uuid.UUID) -> Any:
        """Add a site (address) to a customer."""
        with unit_of_work():
            return service.add_site(current_actor(), customer_id, data)


@blp.route("/sites")
class Sites(MethodView):
    @requires(*READERS)
    @blp.arguments(SiteQuerySchema, location="query")
    @blp.response(200, page_of(SiteSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List sites, by customer or text."""
        page = args.pop("page_request")
        return service.list_sites(current_actor(), page, **args)


@blp.route("/sites/<uuid:site_id>")
class SiteItem(MethodView):
    @requires(*READERS)
    @blp.response(200, SiteSchema)
    def get(self, site_id: uuid.UUID) -> Any:
        """One site."""
        return service.get_site(current_actor(), site_id)

    @requires(*WRITERS)
    @blp.arguments(SiteUpdateSchema(partial=True))
    @blp.response(200, SiteSchema)
    def patch(self, data: dict[str, Any], site_id: uuid.UUID) -> Any:
        """Change a site."""
        with unit_of_work():
            return service.update_site(current_actor(), site_id, data)
