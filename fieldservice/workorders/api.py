"""Work-order endpoints: open, list, edit, change status, cancel, plan visits, read the trail."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.audit import service as audit_service
from fieldservice.audit.schemas import AuditEventSchema
from fieldservice.auth.decorators import BACK_OFFICE, current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import PageArgsSchema, page_of
from fieldservice.db import unit_of_work
from fieldservice.visits import service as visits
from fieldservice.visits.schemas import VisitInSchema, VisitSchema
from fieldservice.workorders import service
from fieldservice.workorders.schemas import (
    CancelSchema,
    TransitionSchema,
    WorkOrderInSchema,
    WorkOrderQuerySchema,
    WorkOrderSchema,
    WorkOrderUpdateSchema,
)

blp = Blueprint("work_orders", __name__, url_prefix="/api/v1", description="Work orders and their state machine")

READERS = (*BACK_OFFICE, Role.TECHNICIAN, Role.CUSTOMER)
DISPATCH = (Role.DISPATCHER, Role.ADMIN)


@blp.route("/work-orders")
class WorkOrders(MethodView):
    @requires(*READERS)
    @blp.arguments(WorkOrderQuerySchema, location="query")
    @blp.response(200, page_of(WorkOrderSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List work orders, newest first. Technicians see those with a visit of theirs; customers their own."""
        page = args.pop("page_request")
        return service.list_work_orders(current_actor(), page, **args)

    @requires(*DISPATCH)
    @blp.arguments(WorkOrderInSchema)
    @blp.response(201, WorkOrderSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Open a work order (installation, repair or maintenance)."""
        with unit_of_work():
            return service.create_work_order(current_actor(), data)


@blp.route("/work-orders/<uuid:work_order_id>")
class WorkOrderItem(MethodView):
    @requires(*READERS)
    @blp.response(200, WorkOrderSchema)
    def get(self, work_order_id: uuid.UUID) -> Any:
        """One work order with the statuses it may move to next."""
        return service.get_work_order(current_actor(), work_order_id)

    @requires(*DISPATCH)
    @blp.arguments(WorkOrderUpdateSchema)
    @blp.response(200, WorkOrderSchema)
    def patch(self, data: dict[str, Any], work_order_id: uuid.UUID) -> Any:
        """Edit summary, description or priority (send `version` to guard against lost updates)."""
        with unit_of_work():
            return service.update_work_order(current_actor(), work_order_id, data)


@blp.route("/work-orders/<uuid:work_order_id>/transitions")
class WorkOrderTransitions(MethodView):
    @requires(Role.DISPATCHER, Role.OFFICE, Role.ADMIN, Role.TECHNICIAN)
    @blp.arguments(TransitionSchema)
    @blp.response(200, WorkOrderSchema)
    @blp.alt_response(409, description="Illegal transition (`invalid_transition`, naming `allowed_transitions`), "
                                       "or the lifecycle gate's refusal (`conditions_not_met`, listing "
                                       "`unmet_conditions`: code, rule, message, overridable_by)")
    def post(self, data: dict[str, Any], work_order_id: uuid.UUID) -> Any:
        """Move a work order to another status (roles: dispatcher, office, admin; technicians on their jobs).

        new → scheduled → dispatched → in_progress → work_complete → signed → closed, plus cancelled and
        rework. `scheduled` and `dispatched` follow from planning and assigning visits and `signed` from
        the customer's sign-off; technicians may ask for in_progress and work_complete on their own jobs.
        Every move passes the same lifecycle gate as the visit's departure, the sync push and the sign-offs
        (docs/workflow.md): e.g. work_complete needs every visit departed and the job's record written,
        closed needs the customer's satisfaction survey (R-FUP-2) unless the office overrides it with a
        reason (`overrides: [{"condition": "survey_missing", "reason": "客户拒绝填写"}]`).
        """
        overrides = {o["condition"]: o["reason"] for o in data.get("overrides") or []}
        with unit_of_work():
            return service.change_status(current_actor(), work_order_id, data["to"],
                                         reason=data.get("reason"), version=data.get("version"),
                                         overrides=overrides)


@blp.route("/work-orders/<uuid:work_order_id>/cancel")
class WorkOrderCancel(MethodView):
    @requires(*DISPATCH, Role.OFFICE)
    @blp.arguments(CancelSchema)
    @blp.response(200, WorkOrderSchema)
    def post(self, data: dict[str, Any], work_order_id: uuid.UUID) -> Any:
        """Cancel a work order and its planned visits (a reason is required)."""
        with unit_of_work():
            return service.cancel_work_order(current_actor(), work_order_id, data["reason"],
                                             version=data.get("version"))


@blp.route("/work-orders/<uuid:work_order_id>/visits")
class WorkOrderVisits(MethodView):
    @requires(*READERS)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_of(VisitSchema))
    def get(self, args: dict[str, Any], work_order_id: uuid.UUID) -> Any:
        """The work order's visits, in time order."""
        service.get_work_order(current_actor(), work_order_id)
        return visits.list_visits(current_actor(), args["page_request"], work_order_id=work_order_id)

    @requires(*DISPATCH)
    @blp.arguments(VisitInSchema)
    @blp.response(201, VisitSchema)
    @blp.alt_response(409, description="The technician has an overlapping visit")
    @blp.alt_response(422, description="The technician is not certified for the product line (R-TEC-1)")
    def post(self, data: dict[str, Any], work_order_id: uuid.UUID) -> Any:
        """Schedule a visit, optionally assigning a technician at once."""
        with unit_of_work():
            return visits.schedule_visit(current_actor(), work_order_id, data)


@blp.route("/work-orders/<uuid:work_order_id>/audit")
class WorkOrderAudit(MethodView):
    @requires(*BACK_OFFICE)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, page_of(AuditEventSchema))
    def get(self, args: dict[str, Any], work_order_id: uuid.UUID) -> Any:
        """Who changed this work order, and when."""
        order = service.get_work_order(current_actor(), work_order_id)
        return audit_service.list_events(args["page_request"], entity_type="work_orders", entity_id=order.id)
