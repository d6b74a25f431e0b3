"""Maintenance plan endpoints."""
from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from flask.views import MethodView

from fieldservice.auth.decorators import BACK_OFFICE, current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.db import unit_of_work, utcnow
from fieldservice.maintenance import service
from fieldservice.maintenance.schemas import (
    GenerateInSchema,
    GenerateResultSchema,
    OccurrenceQuerySchema,
    OccurrenceSchema,
    OccurrenceSkipSchema,
    PlanCancelSchema,
    PlanInSchema,
    PlanQuerySchema,
    PlanSchema,
    PlanUpdateSchema,
)

blp = Blueprint("maintenance", __name__, url_prefix="/api/v1",
                description="Maintenance plans and their occurrences (R-MNT-1, R-MNT-4)")

READERS = BACK_OFFICE
WRITERS = BACK_OFFICE
GENERATORS = (Role.DISPATCHER, Role.ADMIN)


@blp.route("/maintenance-plans")
class Plans(MethodView):
    @requires(*READERS)
    @blp.arguments(PlanQuerySchema, location="query")
    @blp.response(200, page_of(PlanSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List maintenance plans (by asset, status)."""
        page = args.pop("page_request")
        return service.list_plans(current_actor(), page, **args)

    @requires(*WRITERS)
    @blp.arguments(PlanInSchema)
    @blp.response(201, PlanSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a maintenance plan for an asset or for a contract's assets (all, or chosen ones): items,
        recurrence (interval or RRULE, e.g. specific months), preferred window, technician or team."""
        with unit_of_work():
            return service.create_plan(current_actor(), data)


@blp.route("/maintenance-plans/<uuid:plan_id>")
class PlanItem(MethodView):
    @requires(*READERS)
    @blp.response(200, PlanSchema)
    def get(self, plan_id: uuid.UUID) -> Any:
        """One maintenance plan."""
        return service.get_plan(current_actor(), plan_id)

    @requires(*WRITERS)
    @blp.arguments(PlanUpdateSchema)
    @blp.response(200, PlanSchema)
    def patch(self, data: dict[str, Any], plan_id: uuid.UUID) -> Any:
        """Change a plan. A new recurrence replaces future occurrences that have no visit yet."""
        with unit_of_work():
            return service.update_plan(current_actor(), plan_id, data)


@blp.route("/maintenance-plans/<uuid:plan_id>/cancellation")
class PlanCancellation(MethodView):
    @requires(*WRITERS)
    @blp.arguments(PlanCancelSchema)
    @blp.response(200, PlanSchema)
    def post(self, data: dict[str, Any], plan_id: uuid.UUID) -> Any:
        """Cancel a plan: no more occurrences; pending and scheduled ones are cancelled with their visits."""
        with unit_of_work():
            return service.cancel_plan(current_actor(), plan_id, data["reason"], version=data.get("version"))


@blp.route("/maintenance-occurrences")
class Occurrences(MethodView):
    @requires(*READERS)
    @blp.arguments(OccurrenceQuerySchema, location="query")
    @blp.response(200, page_of(OccurrenceSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List occurrences by due date (missed and skipped ones stay listed: R-MNT-4)."""
        page = args.pop("page_request")
        return service.list_occurrences(current_actor(), page, **args)


@blp.route("/maintenance-occurrences/<uuid:occurrence_id>")
class OccurrenceItem(MethodView):
    @requires(*READERS)
    @blp.response(200, OccurrenceSchema)
    def get(self, occurrence_id: uuid.UUID) -> Any:
        """One occurrence."""
        return service.get_occurrence(current_actor(), occurrence_id)


@blp.route("/maintenance-occurrences/<uuid:occurrence_id>/skip")
class OccurrenceSkip(MethodView):
    @requires(*WRITERS)
    @blp.arguments(OccurrenceSkipSchema)
    @blp.response(200, OccurrenceSchema)
    def post(self, data: dict[str, Any], occurrence_id: uuid.UUID) -> Any:
        """Skip one due date with a reason (R-MNT-4): its visit and work order are cancelled and the occurrence
        stays listed as skipped. 409 once the work has started or the occurrence is no longer open."""
        with unit_of_work():
            return service.skip_occurrence(current_actor(), occurrence_id, data["reason"])


@blp.route("/maintenance-occurrences/generation")
class Generation(MethodView):
    @requires(*GENERATORS)
    @blp.arguments(GenerateInSchema)
    @blp.response(200, GenerateResultSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Generate occurrences, work orders and visits due within the horizon now (the scheduler job does
        the same). Idempotent: a second run creates nothing."""
        horizon = data.get("horizon_days", current_app.config["MAINTENANCE_HORIZON_DAYS"])
        with unit_of_work():
            return service.generate_due_occurrences(utcnow().date(), horizon).as_dict()
