"""Visit endpoints: the dispatch board's list, assignment, confirmation, cancellation and field facts."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.auth.decorators import BACK_OFFICE, current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.db import unit_of_work
from fieldservice.visits import service
from fieldservice.visits.schemas import (
    ArrivalSchema,
    AssignmentSchema,
    ConfirmationSchema,
    DepartureSchema,
    ReasonSchema,
    VisitQuerySchema,
    VisitSchema,
    VisitUpdateSchema,
    WorkLogInSchema,
    WorkLogSchema,
)

blp = Blueprint("visits", __name__, url_prefix="/api/v1", description="Visits and work logs")

READERS = (*BACK_OFFICE, Role.TECHNICIAN, Role.CUSTOMER)
DISPATCH = (Role.DISPATCHER, Role.ADMIN)
FIELD = (Role.TECHNICIAN, Role.DISPATCHER, Role.ADMIN)


@blp.route("/visits")
class Visits(MethodView):
    @requires(*READERS)
    @blp.arguments(VisitQuerySchema, location="query")
    @blp.response(200, page_of(VisitSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List visits by start time. A technician sees only the visits assigned to them."""
        page = args.pop("page_request")
        return service.list_visits(current_actor(), page, **args)


@blp.route("/visits/<uuid:visit_id>")
class VisitItem(MethodView):
    @requires(*READERS)
    @blp.response(200, VisitSchema)
    def get(self, visit_id: uuid.UUID) -> Any:
        """One visit."""
        return service.get_visit(current_actor(), visit_id)

    @requires(*DISPATCH)
    @blp.arguments(VisitUpdateSchema)
    @blp.response(200, VisitSchema)
    def patch(self, data: dict[str, Any], visit_id: uuid.UUID) -> Any:
        """Reschedule a planned visit; a moved visit needs the customer's confirmation again."""
        with unit_of_work():
            return service.reschedule_visit(current_actor(), visit_id, data)


@blp.route("/visits/<uuid:visit_id>/assignment")
class VisitAssignment(MethodView):
    @requires(*DISPATCH)
    @blp.arguments(AssignmentSchema)
    @blp.response(200, VisitSchema)
    @blp.alt_response(409, description="Overlapping visit, or the visit is no longer planned")
    @blp.alt_response(422, description="No valid certification for the product line (R-TEC-1)")
    def put(self, data: dict[str, Any], visit_id: uuid.UUID) -> Any:
        """Assign, reassign or unassign the technician."""
        with unit_of_work():
            return service.assign_technician(current_actor(), visit_id, data["technician_id"],
                                             version=data.get("version"))


@blp.route("/visits/<uuid:visit_id>/confirmation")
class VisitConfirmation(MethodView):
    @requires(*FIELD)
    @blp.arguments(ConfirmationSchema)
    @blp.response(200, VisitSchema)
    def post(self, data: dict[str, Any], visit_id: uuid.UUID) -> Any:
        """Record that the customer confirmed the time and place (R-REP-2, R-MNT-2)."""
        with unit_of_work():
            return service.confirm_with_customer(current_actor(), visit_id, confirmed_at=data.get("confirmed_at"),
                                                 note=data.get("note"))


@blp.route("/visits/<uuid:visit_id>/confirmation-waiver")
class VisitConfirmationWaiver(MethodView):
    @requires(*DISPATCH)
    @blp.arguments(ReasonSchema)
    @blp.response(200, VisitSchema)
    def post(self, data: dict[str, Any], visit_id: uuid.UUID) -> Any:
        """Let a planned visit start without the customer's confirmation, saying why (roles: dispatcher, admin).

        The lifecycle gate refuses an arrival on a visit whose time was not confirmed with the customer
        (R-REP-2, R-MNT-2); this waiver, with who and why, takes the confirmation's place.
        """
        with unit_of_work():
            return service.waive_confirmation(current_actor(), visit_id, data["reason"])


@blp.route("/visits/<uuid:visit_id>/cancel")
class VisitCancel(MethodView):
    @requires(*DISPATCH)
    @blp.arguments(ReasonSchema)
    @blp.response(200, VisitSchema)
    def post(self, data: dict[str, Any], visit_id: uuid.UUID) -> Any:
        """Cancel a planned visit."""
        with unit_of_work():
            return service.cancel_visit(current_actor(), visit_id, data["reason"])


@blp.route("/visits/<uuid:visit_id>/arrival")
class VisitArrival(MethodView):
    @requires(*FIELD)
    @blp.arguments(ArrivalSchema)
    @blp.response(200, VisitSchema)
    def post(self, data: dict[str, Any], visit_id: uuid.UUID) -> Any:
        """The technician arrived on site; the work order is in progress (roles: technician, dispatcher, admin).

        Refused (409 `conditions_not_met`) unless the technician is certified for the product line on the
        day (R-TEC-1), the time was confirmed with the customer or the confirmation waived (R-REP-2,
        R-MNT-2), and the visit's window is near (VISIT_EARLY_START_MINUTES before its start at the earliest).
        """
        with unit_of_work():
            return service.record_arrival(current_actor(), visit_id, arrived_at=data.get("arrived_at"))


@blp.route("/visits/<uuid:visit_id>/departure")
class VisitDeparture(MethodView):
    @requires(*FIELD)
    @blp.arguments(DepartureSchema)
    @blp.response(200, VisitSchema)
    def post(self, data: dict[str, Any], visit_id: uuid.UUID) -> Any:
        """The technician left; `work_complete` says whether the job is done or needs another visit.

        With the work complete the lifecycle gate checks the job: every visit departed, the job's record
        written (installation sheet, repair or maintenance record), no open contract mismatch (R-INS-3), the
        technician certified on the day of work (R-TEC-1); a refusal is 409 `conditions_not_met`.
        """
        with unit_of_work():
            return service.record_departure(current_actor(), visit_id, work_complete=data["work_complete"],
                                            departed_at=data.get("departed_at"), notes=data.get("notes"))


@blp.route("/visits/<uuid:visit_id>/work-logs")
class VisitWorkLogs(MethodView):
    @requires(*READERS)
    @blp.response(200, WorkLogSchema(many=True))
    def get(self, visit_id: uuid.UUID) -> Any:
        """The visit's work logs."""
        return service.list_work_logs(current_actor(), visit_id)

    @requires(*FIELD)
    @blp.arguments(WorkLogInSchema)
    @blp.response(201, WorkLogSchema)
    def post(self, data: dict[str, Any], visit_id: uuid.UUID) -> Any:
        """Log work done on the visit (the assigned technician)."""
        with unit_of_work():
            return service.add_work_log(current_actor(), visit_id, data)
