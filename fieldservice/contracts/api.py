"""Sales contract endpoints."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.auth.decorators import BACK_OFFICE, current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.contracts import service
from fieldservice.contracts.schemas import (
    ContractEndSchema,
    ContractInSchema,
    ContractLineInSchema,
    ContractLineSchema,
    ContractLineUpdateSchema,
    ContractQuerySchema,
    ContractSchema,
    ContractUpdateSchema,
)
from fieldservice.db import unit_of_work

blp = Blueprint("contracts", __name__, url_prefix="/api/v1", description="Sales contracts and their lines")

READERS = (*BACK_OFFICE, Role.TECHNICIAN, Role.CUSTOMER)
WRITERS = (Role.OFFICE, Role.DISPATCHER, Role.ADMIN)


@blp.route("/contracts")
class Contracts(MethodView):
    @requires(*READERS)
    @blp.arguments(ContractQuerySchema, location="query")
    @blp.response(200, page_of(ContractSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List sales contracts (by customer, number or a serial on a line)."""
        page = args.pop("page_request")
        return service.list_contracts(current_actor(), page, **args)

    @requires(*WRITERS)
    @blp.arguments(ContractInSchema)
    @blp.response(201, ContractSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Record a sales contract with its lines (model, configuration, serial, price, channel, dates)."""
        with unit_of_work():
            return service.create_contract(current_actor(), data)


@blp.route("/contracts/<uuid:contract_id>")
class ContractItem(MethodView):
    @requires(*READERS)
    @blp.response(200, ContractSchema)
    def get(self, contract_id: uuid.UUID) -> Any:
        """One contract with its lines."""
        return service.get_contract(current_actor(), contract_id)

    @requires(*WRITERS)
    @blp.arguments(ContractUpdateSchema)
    @blp.response(200, ContractSchema)
    def patch(self, data: dict[str, Any], contract_id: uuid.UUID) -> Any:
        """Change a contract's header."""
        with unit_of_work():
            return service.update_contract(current_actor(), contract_id, data)


@blp.route("/contracts/<uuid:contract_id>/lines")
class ContractLines(MethodView):
    @requires(*WRITERS)
    @blp.arguments(ContractLineInSchema)
    @blp.response(201, ContractLineSchema)
    def post(self, data: dict[str, Any], contract_id: uuid.UUID) -> Any:
        """Add a line to a contract."""
        with unit_of_work():
            return service.add_line(current_actor(), contract_id, data)


@blp.route("/contract-lines/<uuid:line_id>")
class ContractLineItem(MethodView):
    @requires(*WRITERS)
    @blp.arguments(ContractLineUpdateSchema(partial=True))
    @blp.response(200, ContractLineSchema)
    def patch(self, data: dict[str, Any], line_id: uuid.UUID) -> Any:
        """Change a contract line."""
        with unit_of_work():
            return service.update_line(current_actor(), line_id, data)


@blp.route("/contracts/<uuid:contract_id>/end")
class ContractEnd(MethodView):
    @requires(*WRITERS)
    @blp.arguments(ContractEndSchema)
    @blp.response(200, ContractSchema)
    def post(self, data: dict[str, Any], contract_id: uuid.UUID) -> Any:
        """End or cancel a contract. Its contract maintenance plans stop after `ended_on` (cancelled: at
        once); open occurrences past the end are cancelled with their visits and work orders."""
        with unit_of_work():
            return service.end_contract(current_actor(), contract_id, **data)
