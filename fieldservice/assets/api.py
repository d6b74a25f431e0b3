"""Asset endpoints."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.assets import service
from fieldservice.assets.schemas import (
    AssetInSchema,
    AssetQuerySchema,
    AssetRetireSchema,
    AssetSchema,
    AssetUpdateSchema,
)
from fieldservice.auth.decorators import BACK_OFFICE, current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.db import unit_of_work

blp = Blueprint("assets", __name__, url_prefix="/api/v1", description="Installed units of equipment")

READERS = (*BACK_OFFICE, Role.TECHNICIAN, Role.CUSTOMER)
WRITERS = BACK_OFFICE


@blp.route("/assets")
class Assets(MethodView):
    @requires(*READERS)
    @blp.arguments(AssetQuerySchema, location="query")
    @blp.response(200, page_of(AssetSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List installed units (by customer, site, product or serial)."""
        page = args.pop("page_request")
        return service.list_assets(current_actor(), page, **args)

    @requires(*WRITERS)
    @blp.arguments(AssetInSchema)
    @blp.response(201, AssetSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Register an installed unit."""
        with unit_of_work():
            return service.create_asset(current_actor(), data)


@blp.route("/assets/<uuid:asset_id>")
class AssetItem(MethodView):
    @requires(*READERS)
    @blp.response(200, AssetSchema)
    def get(self, asset_id: uuid.UUID) -> Any:
        """One installed unit."""
        return service.get_asset(current_actor(), asset_id)

    @requires(*WRITERS)
    @blp.arguments(AssetUpdateSchema)
    @blp.response(200, AssetSchema)
    def patch(self, data: dict[str, Any], asset_id: uuid.UUID) -> Any:
        """Change an installed unit."""
        with unit_of_work():
            return service.update_asset(current_actor(), asset_id, data)


@blp.route("/assets/<uuid:asset_id>/retirement")
class AssetRetirement(MethodView):
    @requires(*WRITERS)
    @blp.arguments(AssetRetireSchema)
    @blp.response(200, AssetSchema)
    def post(self, data: dict[str, Any], asset_id: uuid.UUID) -> Any:
        """Retire a unit (sold, scrapped, decommissioned): its maintenance stops at once (plans of this asset
        cancelled, open occurrences in contract plans cancelled with their visits and work orders)."""
        with unit_of_work():
            return service.retire_asset(current_actor(), asset_id, data["reason"])
