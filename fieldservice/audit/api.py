"""Audit trail endpoint."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields

from fieldservice.audit import service
from fieldservice.audit.schemas import AuditEventSchema
from fieldservice.auth.decorators import requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import PageArgsSchema, page_of, text

blp = Blueprint("audit", __name__, url_prefix="/api/v1", description="Who did what, and when")


class AuditQuerySchema(PageArgsSchema):
    entity_type = text(60, metadata={"description": "Table name, e.g. work_orders, visits"})
    entity_id = fields.UUID()
    actor_user_id = fields.UUID()


@blp.route("/audit-events")
class AuditEvents(MethodView):
    @requires(Role.OFFICE, Role.ADMIN)
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, page_of(AuditEventSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """The audit trail, newest first."""
        page = args.pop("page_request")
        return service.list_events(page, **args)
