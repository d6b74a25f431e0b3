"""SLA endpoints: calendars and policies (office/admin), clocks per work order, the breaches list."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.auth.decorators import BACK_OFFICE, current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.db import unit_of_work
from fieldservice.sla import service
from fieldservice.sla.schemas import (
    SlaBreachQuerySchema,
    SlaBreachSchema,
    SlaCalendarInSchema,
    SlaCalendarSchema,
    SlaCalendarUpdateSchema,
    SlaPolicyInSchema,
    SlaPolicySchema,
    SlaPolicyUpdateSchema,
    WorkOrderSlaSchema,
)

blp = Blueprint("sla", __name__, url_prefix="/api/v1",
                description="Service levels: policies, business calendars, clocks and breaches (R-SLA-1, R-SLA-2)")

EDITORS = (Role.OFFICE, Role.ADMIN)
READERS = BACK_OFFICE


@blp.route("/sla/calendars")
class Calendars(MethodView):
    @requires(*READERS)
    @blp.response(200, SlaCalendarSchema(many=True))
    def get(self) -> Any:
        """List business-hours calendars."""
        return service.list_calendars()

    @requires(*EDITORS)
    @blp.arguments(SlaCalendarInSchema)
    @blp.response(201, SlaCalendarSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a calendar: working weekdays and hours in a time zone, holidays, make-up working days."""
        with unit_of_work():
            return service.create_calendar(current_actor(), data)


@blp.route("/sla/calendars/<uuid:calendar_id>")
class CalendarItem(MethodView):
    @requires(*READERS)
    @blp.response(200, SlaCalendarSchema)
    def get(self, calendar_id: uuid.UUID) -> Any:
        """One calendar."""
        return service.get_calendar(calendar_id)

    @requires(*EDITORS)
    @blp.arguments(SlaCalendarUpdateSchema)
    @blp.response(200, SlaCalendarSchema)
    def patch(self, data: dict[str, Any], calendar_id: uuid.UUID) -> Any:
        """Change a calendar (e.g. add holidays). Running clocks keep their deadlines."""
        with unit_of_work():
            return service.update_calendar(current_actor(), calendar_id, data)


@blp.route("/sla/policies")
class Policies(MethodView):
    @requires(*READERS)
    @blp.response(200, SlaPolicySchema(many=True))
    def get(self) -> Any:
        """List SLA policies (the default first)."""
        return service.list_policies()

    @requires(*EDITORS)
    @blp.arguments(SlaPolicyInSchema)
    @blp.response(201, SlaPolicySchema)
    @blp.alt_response(409, description="Name taken, or the contract has a policy already")
    def post(self, data: dict[str, Any]) -> Any:
        """Create a policy: respond / on-site / fix / answer limits in minutes (R-SLA-1 defaults), the
        default one or a contract's own."""
        with unit_of_work():
            return service.create_policy(current_actor(), data)


@blp.route("/sla/policies/<uuid:policy_id>")
class PolicyItem(MethodView):
    @requires(*READERS)
    @blp.response(200, SlaPolicySchema)
    def get(self, policy_id: uuid.UUID) -> Any:
        """One SLA policy."""
        return service.get_policy(policy_id)

    @requires(*EDITORS)
    @blp.arguments(SlaPolicyUpdateSchema)
    @blp.response(200, SlaPolicySchema)
    def patch(self, data: dict[str, Any], policy_id: uuid.UUID) -> Any:
        """Change a policy. Clocks already running keep their limits."""
        with unit_of_work():
            return service.update_policy(current_actor(), policy_id, data)

    @requires(*EDITORS)
    @blp.response(204)
    @blp.alt_response(409, description="Clocks were started under this policy")
    def delete(self, policy_id: uuid.UUID) -> None:
        """Delete a policy that no clock was started under."""
        with unit_of_work():
            service.delete_policy(current_actor(), policy_id)


@blp.route("/work-orders/<uuid:work_order_id>/sla")
class WorkOrderSla(MethodView):
    @requires(*READERS)
    @blp.response(200, WorkOrderSlaSchema)
    def get(self, work_order_id: uuid.UUID) -> Any:
        """A work order's SLA clocks (counted time, deadline, outcome) and breaches."""
        return service.work_order_sla(current_actor(), work_order_id)


@blp.route("/sla/breaches")
class Breaches(MethodView):
    @requires(*READERS)
    @blp.arguments(SlaBreachQuerySchema, location="query")
    @blp.response(200, page_of(SlaBreachSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """Breaches, newest first (filters: target, work order, detection time)."""
        page = args.pop("page_request")
        return service.list_breaches(page, **args)
