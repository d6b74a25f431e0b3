"""Service request endpoints."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.auth.decorators import BACK_OFFICE, current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.db import unit_of_work
from fieldservice.servicerequests import service
from fieldservice.servicerequests.schemas import (
    AnswerSchema,
    CloseSchema,
    OpenWorkOrderSchema,
    ServiceRequestInSchema,
    ServiceRequestQuerySchema,
    ServiceRequestSchema,
    ServiceRequestUpdateSchema,
)
from fieldservice.workorders.schemas import WorkOrderSchema

blp = Blueprint("service_requests", __name__, url_prefix="/api/v1",
                description="Customer reports by phone, e-mail, online or walk-in (R-REP-1)")

READERS = (*BACK_OFFICE, Role.CUSTOMER)


@blp.route("/service-requests")
class ServiceRequests(MethodView):
    @requires(*READERS)
    @blp.arguments(ServiceRequestQuerySchema, location="query")
    @blp.response(200, page_of(ServiceRequestSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List service requests, newest first."""
        page = args.pop("page_request")
        return service.list_requests(current_actor(), page, **args)

    @requires(*BACK_OFFICE)
    @blp.arguments(ServiceRequestInSchema)
    @blp.response(201, ServiceRequestSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Take a customer's report (dispatcher, office, admin): customer, product or unit, problem and channel
        (R-REP-1: 422 naming product_id/asset_id when neither is given)."""
        with unit_of_work():
            return service.create_request(current_actor(), data)


@blp.route("/service-requests/<uuid:request_id>")
class ServiceRequestItem(MethodView):
    @requires(*READERS)
    @blp.response(200, ServiceRequestSchema)
    def get(self, request_id: uuid.UUID) -> Any:
        """One service request."""
        return service.get_request(current_actor(), request_id)

    @requires(*BACK_OFFICE)
    @blp.arguments(ServiceRequestUpdateSchema)
    @blp.response(200, ServiceRequestSchema)
    def patch(self, data: dict[str, Any], request_id: uuid.UUID) -> Any:
        """Correct an open request."""
        with unit_of_work():
            return service.update_request(current_actor(), request_id, data)


@blp.route("/service-requests/<uuid:request_id>/answer")
class ServiceRequestAnswer(MethodView):
    @requires(*BACK_OFFICE)
    @blp.arguments(AnswerSchema)
    @blp.response(200, ServiceRequestSchema)
    def post(self, data: dict[str, Any], request_id: uuid.UUID) -> Any:
        """Answer a simple question on the spot (dispatcher, office, admin); logged as a consultation linked
        to the request, counted in the consultation summary and for advisory notices (R-REP-1, R-CON-1)."""
        with unit_of_work():
            return service.answer_request(current_actor(), request_id, data["answer"], topic=data.get("topic"))


@blp.route("/service-requests/<uuid:request_id>/close")
class ServiceRequestClose(MethodView):
    @requires(*BACK_OFFICE)
    @blp.arguments(CloseSchema)
    @blp.response(200, ServiceRequestSchema)
    def post(self, data: dict[str, Any], request_id: uuid.UUID) -> Any:
        """Close a request without a work order."""
        with unit_of_work():
            return service.close_request(current_actor(), request_id, data.get("reason"))


@blp.route("/service-requests/<uuid:request_id>/work-order")
class ServiceRequestWorkOrder(MethodView):
    @requires(Role.DISPATCHER, Role.ADMIN)
    @blp.arguments(OpenWorkOrderSchema)
    @blp.response(201, WorkOrderSchema)
    def post(self, data: dict[str, Any], request_id: uuid.UUID) -> Any:
        """Open a work order from the request (repair by default)."""
        with unit_of_work():
            return service.open_work_order(current_actor(), request_id, data)
