"""`GET /api/v1/visits/unconfirmed`: the dispatcher's list of visits to confirm with the customer."""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from marshmallow import fields, validate

from fieldservice.auth.decorators import BACK_OFFICE, requires
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import PageArgsSchema, page_of
from fieldservice.reminders import service
from fieldservice.visits.schemas import VisitSchema

blp = Blueprint("reminders", __name__, url_prefix="/api/v1",
                description="Visit-confirmation reminders (R-MNT-2, R-REP-2)")


class UnconfirmedQuerySchema(PageArgsSchema):
    days = fields.Integer(validate=validate.Range(min=0, max=366), metadata={
        "description": "How many days ahead to look (default CONFIRMATION_REMINDER_DAYS)"})


@blp.route("/visits/unconfirmed")
class UnconfirmedVisits(MethodView):
    @requires(*BACK_OFFICE)
    @blp.arguments(UnconfirmedQuerySchema, location="query")
    @blp.response(200, page_of(VisitSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """Planned visits starting within the next N days whose time is not yet confirmed with the customer,
        soonest first."""
        days = args.get("days")
        if days is None:
            days = current_app.config["CONFIRMATION_REMINDER_DAYS"]
        return service.list_unconfirmed(args["page_request"], days=days)
