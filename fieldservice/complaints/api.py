"""Complaint endpoints (R-CMP-1)."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.auth.decorators import current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.complaints import service
from fieldservice.complaints.schemas import (
    ComplaintInSchema,
    ComplaintQuerySchema,
    ComplaintSchema,
    ComplaintSummaryQuerySchema,
    ComplaintSummarySchema,
    ContactFailedSchema,
    FeedbackSchema,
    NoteInSchema,
    NoteSchema,
    OwnerSchema,
    ReopenSchema,
    ResolutionSchema,
    ResponseSchema,
)
from fieldservice.db import unit_of_work

blp = Blueprint("complaints", __name__, url_prefix="/api/v1", description="Customer complaints (R-CMP-1)")

HANDLERS = (Role.OFFICE, Role.DISPATCHER, Role.ADMIN)


@blp.route("/complaints")
class Complaints(MethodView):
    @requires(*HANDLERS, Role.CUSTOMER)
    @blp.arguments(ComplaintQuerySchema, location="query")
    @blp.response(200, page_of(ComplaintSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List complaints by first-response deadline; `overdue=true` lists those past it without a response.
        A customer sees only their own."""
        return service.list_complaints(current_actor(), args.pop("page_request"), **args)

    @requires(*HANDLERS, Role.CUSTOMER)
    @blp.arguments(ComplaintInSchema)
    @blp.response(201, ComplaintSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Log a complaint (customer, related work order/visit, channel, description); due in 24 h."""
        with unit_of_work():
            return service.log_complaint(current_actor(), data)


@blp.route("/complaints/summary")
class ComplaintSummary(MethodView):
    @requires(*HANDLERS)
    @blp.arguments(ComplaintSummaryQuerySchema, location="query")
    @blp.response(200, ComplaintSummarySchema)
    @blp.alt_response(422, description="`from` after `to`, or a range longer than 366 days")
    def get(self, args: dict[str, Any]) -> Any:
        """The periodic complaint summary (R-CMP-1) for complaints received from `from` to `to` (UTC days,
        inclusive; default the last 30 days): totals, by status, product model and channel; overdue for the
        first response now; answered within the 24 h / 48 h deadline or late; resolved and closed; average
        hours to the first response and to the resolution. Computed in the database."""
        return service.summarize_complaints(current_actor(), start=args.get("from_"), end=args.get("to"))


@blp.route("/complaints/<uuid:complaint_id>")
class ComplaintItem(MethodView):
    @requires(*HANDLERS, Role.CUSTOMER)
    @blp.response(200, ComplaintSchema)
    def get(self, complaint_id: uuid.UUID) -> Any:
        """One complaint with its notes (customers: their own only)."""
        return service.get_complaint(current_actor(), complaint_id)


@blp.route("/complaints/<uuid:complaint_id>/owner")
class ComplaintOwner(MethodView):
    @requires(*HANDLERS)
    @blp.arguments(OwnerSchema)
    @blp.response(200, ComplaintSchema)
    def put(self, data: dict[str, Any], complaint_id: uuid.UUID) -> Any:
        """Set the complaint's owner (an office, dispatcher or admin user)."""
        with unit_of_work():
            return service.assign_owner(current_actor(), complaint_id, data["owner_user_id"],
                                        version=data.get("version"))


@blp.route("/complaints/<uuid:complaint_id>/notes")
class ComplaintNotes(MethodView):
    @requires(*HANDLERS)
    @blp.arguments(NoteInSchema)
    @blp.response(201, NoteSchema)
    def post(self, data: dict[str, Any], complaint_id: uuid.UUID) -> Any:
        """Add an investigation note."""
        with unit_of_work():
            return service.add_note(current_actor(), complaint_id, data["body"])


@blp.route("/complaints/<uuid:complaint_id>/contact-failed")
class ComplaintContactFailed(MethodView):
    @requires(*HANDLERS)
    @blp.arguments(ContactFailedSchema)
    @blp.response(200, ComplaintSchema)
    def post(self, data: dict[str, Any], complaint_id: uuid.UUID) -> Any:
        """Record that the customer could not be reached; within the first 24 h the deadline becomes 48 h."""
        with unit_of_work():
            return service.record_contact_failed(current_actor(), complaint_id, data["body"],
                                                 version=data.get("version"))


@blp.route("/complaints/<uuid:complaint_id>/response")
class ComplaintResponse(MethodView):
    @requires(*HANDLERS)
    @blp.arguments(ResponseSchema)
    @blp.response(200, ComplaintSchema)
    @blp.alt_response(409, description="No owner yet, or already responded")
    def post(self, data: dict[str, Any], complaint_id: uuid.UUID) -> Any:
        """Record the first response to the customer (open → investigating)."""
        with unit_of_work():
            return service.record_first_response(current_actor(), complaint_id, data["body"],
                                                 responded_at=data.get("responded_at"), version=data.get("version"))


@blp.route("/complaints/<uuid:complaint_id>/resolution")
class ComplaintResolution(MethodView):
    @requires(*HANDLERS)
    @blp.arguments(ResolutionSchema)
    @blp.response(200, ComplaintSchema)
    def post(self, data: dict[str, Any], complaint_id: uuid.UUID) -> Any:
        """Record the resolution (investigating → resolved)."""
        with unit_of_work():
            return service.resolve(current_actor(), complaint_id, data["resolution"], version=data.get("version"))


@blp.route("/complaints/<uuid:complaint_id>/reopen")
class ComplaintReopen(MethodView):
    @requires(*HANDLERS)
    @blp.arguments(ReopenSchema)
    @blp.response(200, ComplaintSchema)
    def post(self, data: dict[str, Any], complaint_id: uuid.UUID) -> Any:
        """The resolution did not work: resolved → investigating."""
        with unit_of_work():
            return service.reopen(current_actor(), complaint_id, data["reason"], version=data.get("version"))


@blp.route("/complaints/<uuid:complaint_id>/feedback")
class ComplaintFeedback(MethodView):
    @requires(*HANDLERS)
    @blp.arguments(FeedbackSchema)
    @blp.response(200, ComplaintSchema)
    def post(self, data: dict[str, Any], complaint_id: uuid.UUID) -> Any:
        """Record the feedback given to the customer (resolved → closed)."""
        with unit_of_work():
            return service.record_feedback(current_actor(), complaint_id, data["feedback"],
                                           data.get("customer_satisfied"), version=data.get("version"))
