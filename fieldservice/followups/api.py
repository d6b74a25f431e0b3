"""Follow-up call endpoints (R-FUP-1)."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.auth.decorators import BACK_OFFICE, current_actor, requires
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.db import unit_of_work
from fieldservice.followups import service
from fieldservice.followups.schemas import FollowUpQuerySchema, FollowUpSchema, OutcomeSchema

blp = Blueprint("followups", __name__, url_prefix="/api/v1",
                description="Follow-up calls after installations and repairs (R-FUP-1)")


@blp.route("/follow-ups")
class FollowUps(MethodView):
    @requires(*BACK_OFFICE)
    @blp.arguments(FollowUpQuerySchema, location="query")
    @blp.response(200, page_of(FollowUpSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List follow-up calls by due date; `due_by=<today>` is the day's call list (overdue included),
        `overdue_on=<today>` only the overdue ones."""
        page = args.pop("page_request")
        return service.list_tasks(current_actor(), page, **args)


@blp.route("/follow-ups/<uuid:task_id>")
class FollowUpItem(MethodView):
    @requires(*BACK_OFFICE)
    @blp.response(200, FollowUpSchema)
    def get(self, task_id: uuid.UUID) -> Any:
        """One follow-up call with its attempts."""
        return service.get_task(current_actor(), task_id)


@blp.route("/follow-ups/<uuid:task_id>/outcome")
class FollowUpOutcome(MethodView):
    @requires(*BACK_OFFICE)
    @blp.arguments(OutcomeSchema)
    @blp.response(200, FollowUpSchema)
    def post(self, data: dict[str, Any], task_id: uuid.UUID) -> Any:
        """Record a call: reached (then satisfaction 1-5 and remarks close the task) or not reached (another
        attempt is due FOLLOWUP_RETRY_DAYS later, until FOLLOWUP_MAX_ATTEMPTS; then unreachable)."""
        with unit_of_work():
            return service.record_outcome(current_actor(), task_id, data)
