"""Team endpoints."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.auth.decorators import BACK_OFFICE, current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.db import unit_of_work
from fieldservice.teams import service
from fieldservice.teams.schemas import TeamInSchema, TeamQuerySchema, TeamSchema, TeamUpdateSchema

blp = Blueprint("teams", __name__, url_prefix="/api/v1", description="Teams of technicians")

WRITERS = (Role.DISPATCHER, Role.ADMIN)


@blp.route("/teams")
class Teams(MethodView):
    @requires(*BACK_OFFICE)
    @blp.arguments(TeamQuerySchema, location="query")
    @blp.response(200, page_of(TeamSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List teams."""
        page = args.pop("page_request")
        return service.list_teams(current_actor(), page, **args)

    @requires(*WRITERS)
    @blp.arguments(TeamInSchema)
    @blp.response(201, TeamSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a team with its members (technicians, in the order generation tries them)."""
        with unit_of_work():
            return service.create_team(current_actor(), data)


@blp.route("/teams/<uuid:team_id>")
class TeamItem(MethodView):
    @requires(*BACK_OFFICE)
    @blp.response(200, TeamSchema)
    def get(self, team_id: uuid.UUID) -> Any:
        """One team."""
        return service.get_team(current_actor(), team_id)

    @requires(*WRITERS)
    @blp.arguments(TeamUpdateSchema)
    @blp.response(200, TeamSchema)
    def patch(self, data: dict[str, Any], team_id: uuid.UUID) -> Any:
        """Rename a team, (de)activate it, or replace its member list."""
        with unit_of_work():
            return service.update_team(current_actor(), team_id, data)
