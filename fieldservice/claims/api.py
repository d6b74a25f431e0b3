"""Carrier damage claim endpoints: the office lists, reads and works claims (R-INS-2)."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.auth.decorators import current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.claims import service
from fieldservice.claims.schemas import ClaimQuerySchema, ClaimSchema, ClaimUpdateSchema
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.db import unit_of_work

blp = Blueprint("carrier_claims", __name__, url_prefix="/api/v1",
                description="Carrier damage claims made from installation sheets (R-INS-2)")

READERS = (Role.OFFICE, Role.ADMIN, Role.DISPATCHER, Role.TECHNICIAN)
WORKERS = service.OFFICE_ROLES


@blp.route("/carrier-claims")
class Claims(MethodView):
    @requires(*READERS)
    @blp.arguments(ClaimQuerySchema, location="query")
    @blp.response(200, page_of(ClaimSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """Claims, newest first (a technician: those of their own jobs). Claims are created by installation
        sheets that record packaging damage with photos, never directly."""
        page = args.pop("page_request")
        return service.list_claims(current_actor(), page, **args)


@blp.route("/carrier-claims/<uuid:claim_id>")
class ClaimItem(MethodView):
    @requires(*READERS)
    @blp.response(200, ClaimSchema)
    def get(self, claim_id: uuid.UUID) -> Any:
        """One claim."""
        return service.get_claim(current_actor(), claim_id)

    @requires(*WORKERS)
    @blp.arguments(ClaimUpdateSchema)
    @blp.response(200, ClaimSchema)
    @blp.alt_response(409, description="invalid_transition or stale_version")
    @blp.alt_response(422, description="Submitting without carrier/amount, settling without the settled amount")
    def patch(self, data: dict[str, Any], claim_id: uuid.UUID) -> Any:
        """Work the claim: carrier, waybill, amounts (minor units) and currency, notes, status."""
        with unit_of_work():
            return service.update_claim(current_actor(), claim_id, data)
