"""Technician and certification endpoints."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.auth.decorators import BACK_OFFICE, current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.db import unit_of_work
from fieldservice.technicians import service
from fieldservice.technicians.schemas import (
    CertificationInSchema,
    CertificationSchema,
    TechnicianInSchema,
    TechnicianQuerySchema,
    TechnicianSchema,
    TechnicianUpdateSchema,
)

blp = Blueprint("technicians", __name__, url_prefix="/api/v1", description="Technicians and certifications")

WRITERS = (Role.DISPATCHER, Role.ADMIN)


@blp.route("/technicians")
class Technicians(MethodView):
    @requires(*BACK_OFFICE)
    @blp.arguments(TechnicianQuerySchema, location="query")
    @blp.response(200, page_of(TechnicianSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List technicians; `product_line_id` keeps those certified for it on `certified_on`."""
        page = args.pop("page_request")
        return service.list_technicians(page, **args)

    @requires(*WRITERS)
    @blp.arguments(TechnicianInSchema)
    @blp.response(201, TechnicianSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a technician profile, optionally linked to a login."""
        with unit_of_work():
            return service.create_technician(current_actor(), data)


@blp.route("/technicians/<uuid:technician_id>")
class TechnicianItem(MethodView):
    @requires(*BACK_OFFICE, Role.TECHNICIAN)
    @blp.response(200, TechnicianSchema)
    def get(self, technician_id: uuid.UUID) -> Any:
        """One technician with certifications (a technician may read only their own profile)."""
        return service.get_technician(current_actor(), technician_id)

    @requires(*WRITERS)
    @blp.arguments(TechnicianUpdateSchema)
    @blp.response(200, TechnicianSchema)
    def patch(self, data: dict[str, Any], technician_id: uuid.UUID) -> Any:
        """Change a technician profile."""
        with unit_of_work():
            return service.update_technician(current_actor(), technician_id, data)


@blp.route("/technicians/<uuid:technician_id>/certifications")
class TechnicianCertifications(MethodView):
    @requires(*WRITERS)
    @blp.arguments(CertificationInSchema)
    @blp.response(201, CertificationSchema)
    def post(self, data: dict[str, Any], technician_id: uuid.UUID) -> Any:
        """Record a certification (上岗证) for a product line (R-TEC-1)."""
        with unit_of_work():
            return service.add_certification(current_actor(), technician_id, data)


@blp.route("/certifications/<uuid:certification_id>/revocation")
class CertificationRevocation(MethodView):
    @requires(*WRITERS)
    @blp.response(200, CertificationSchema)
    def post(self, certification_id: uuid.UUID) -> Any:
        """Revoke a certification; the technician can no longer be assigned on that line."""
        with unit_of_work():
            return service.revoke_certification(current_actor(), certification_id)
