"""Parts and stock endpoints: catalog, locations, the ledger (receive, transfer, issue, return, adjust),
balances, stocktakes and defective returns."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.auth.decorators import current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.db import unit_of_work
from fieldservice.parts import service
from fieldservice.parts.schemas import (
    AdjustSchema,
    AssessmentSchema,
    BalanceQuerySchema,
    BalanceSchema,
    CountInSchema,
    CountQuerySchema,
    CountSchema,
    DefectInSchema,
    DefectQuerySchema,
    DefectSchema,
    DisposalSchema,
    IssueSchema,
    LocationInSchema,
    LocationQuerySchema,
    LocationSchema,
    MovementQuerySchema,
    MovementSchema,
    PartInSchema,
    PartQuerySchema,
    PartSchema,
    PartUpdateSchema,
    ReceiveSchema,
    ReturnSchema,
    TransferSchema,
)

blp = Blueprint("parts", __name__, url_prefix="/api/v1", description="Parts, stock ledger and defective returns")

STOCK = (Role.PARTS_KEEPER, Role.OFFICE, Role.ADMIN)
READERS = (*STOCK, Role.DISPATCHER, Role.TECHNICIAN)
QC = (Role.PARTS_KEEPER, Role.OFFICE, Role.ADMIN)


@blp.route("/parts")
class Parts(MethodView):
    @requires(*READERS)
    @blp.arguments(PartQuerySchema, location="query")
    @blp.response(200, page_of(PartSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """The parts catalog, by part number."""
        return service.list_parts(current_actor(), args.pop("page_request"), **args)

    @requires(*STOCK)
    @blp.arguments(PartInSchema)
    @blp.response(201, PartSchema)
    @blp.alt_response(409, description="Part number already exists")
    def post(self, data: dict[str, Any]) -> Any:
        """Add a part to the catalog (part number unique; genuine/approved flag, unit cost, safety stock)."""
        with unit_of_work():
            return service.create_part(current_actor(), data)


@blp.route("/parts/<uuid:part_id>")
class PartItem(MethodView):
    @requires(*READERS)
    @blp.response(200, PartSchema)
    def get(self, part_id: uuid.UUID) -> Any:
        """One catalog part."""
        return service.get_part(current_actor(), part_id)

    @requires(*STOCK)
    @blp.arguments(PartUpdateSchema)
    @blp.response(200, PartSchema)
    def patch(self, data: dict[str, Any], part_id: uuid.UUID) -> Any:
        """Edit a part (name, approval, cost, safety stock, active)."""
        with unit_of_work():
            return service.update_part(current_actor(), part_id, data)


@blp.route("/stock-locations")
class Locations(MethodView):
    @requires(*READERS)
    @blp.arguments(LocationQuerySchema, location="query")
    @blp.response(200, page_of(LocationSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """Warehouses, vans and quarantine locations. A technician sees only their own van."""
        return service.list_locations(current_actor(), args.pop("page_request"), **args)

    @requires(*STOCK)
    @blp.arguments(LocationInSchema)
    @blp.response(201, LocationSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Create a stock location (a van is linked to its technician, one van each)."""
        with unit_of_work():
            return service.create_location(current_actor(), data)


@blp.route("/stock-locations/<uuid:location_id>")
class LocationItem(MethodView):
    @requires(*READERS)
    @blp.response(200, LocationSchema)
    def get(self, location_id: uuid.UUID) -> Any:
        """One stock location (technicians: their own van only)."""
        return service.get_location(current_actor(), location_id)


@blp.route("/stock-balances")
class Balances(MethodView):
    @requires(*READERS)
    @blp.arguments(BalanceQuerySchema, location="query")
    @blp.response(200, page_of(BalanceSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """On-hand per part and location (equal to the ledger's sum; never negative)."""
        return service.list_balances(current_actor(), args.pop("page_request"), **args)


@blp.route("/stock-movements")
class Movements(MethodView):
    @requires(*READERS)
    @blp.arguments(MovementQuerySchema, location="query")
    @blp.response(200, page_of(MovementSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """The append-only ledger, newest first. Technicians see their own van's lines."""
        return service.list_movements(current_actor(), args.pop("page_request"), **args)


@blp.route("/stock-movements/receipts")
class Receipts(MethodView):
    @requires(*STOCK)
    @blp.arguments(ReceiveSchema)
    @blp.response(201, MovementSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Receive parts into a location (serials for serial-tracked parts)."""
        with unit_of_work():
            return service.receive_stock(current_actor(), data)


@blp.route("/stock-movements/transfers")
class Transfers(MethodView):
    @requires(*STOCK)
    @blp.arguments(TransferSchema)
    @blp.response(201, MovementSchema(many=True))
    @blp.alt_response(409, description="Not enough stock at the source (insufficient_stock)")
    def post(self, data: dict[str, Any]) -> Any:
        """Transfer parts between locations (e.g. warehouse to a van): two ledger lines, one group."""
        with unit_of_work():
            return service.transfer_stock(current_actor(), data)


@blp.route("/stock-movements/issues")
class Issues(MethodView):
    @requires(Role.TECHNICIAN, *STOCK)
    @blp.arguments(IssueSchema)
    @blp.response(201, MovementSchema)
    @blp.alt_response(409, description="Not enough stock in the van (insufficient_stock); nothing is written")
    @blp.alt_response(422, description="Part not genuine/approved (R-REP-6), wrong serials, no visit on the job")
    def post(self, data: dict[str, Any]) -> Any:
        """Issue parts to a job from the technician's van (R-PRT-1, R-REP-6)."""
        with unit_of_work():
            return service.issue_to_job(current_actor(), data)


@blp.route("/stock-movements/returns")
class Returns(MethodView):
    @requires(Role.TECHNICIAN, *STOCK)
    @blp.arguments(ReturnSchema)
    @blp.response(201, MovementSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Return unused parts from a job into a location (at most what the job holds)."""
        with unit_of_work():
            return service.return_from_job(current_actor(), data)


@blp.route("/stock-movements/adjustments")
class Adjustments(MethodView):
    @requires(*STOCK)
    @blp.arguments(AdjustSchema)
    @blp.response(201, MovementSchema)
    @blp.alt_response(409, description="The adjustment would make on-hand negative")
    def post(self, data: dict[str, Any]) -> Any:
        """Correct on-hand by a signed quantity, with a reason."""
        with unit_of_work():
            return service.adjust_stock(current_actor(), data)


@blp.route("/stock-counts")
class Counts(MethodView):
    @requires(*STOCK)
    @blp.arguments(CountQuerySchema, location="query")
    @blp.response(200, page_of(CountSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """Stocktake count sheets, newest first."""
        return service.list_counts(current_actor(), args.pop("page_request"), **args)

    @requires(*STOCK)
    @blp.arguments(CountInSchema)
    @blp.response(201, CountSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Record a stocktake count sheet for a location (nothing moves until it is posted)."""
        with unit_of_work():
            return service.record_count(current_actor(), data)


@blp.route("/stock-counts/<uuid:count_id>")
class CountItem(MethodView):
    @requires(*STOCK)
    @blp.response(200, CountSchema)
    def get(self, count_id: uuid.UUID) -> Any:
        """One count sheet with the ledger figures and differences once posted."""
        return service.get_count(current_actor(), count_id)


@blp.route("/stock-counts/<uuid:count_id>/post")
class CountPost(MethodView):
    @requires(*STOCK)
    @blp.response(200, CountSchema)
    @blp.alt_response(409, description="Already posted")
    def post(self, count_id: uuid.UUID) -> Any:
        """Reconcile the sheet against the ledger: one adjust movement per difference (R-PRT-1)."""
        with unit_of_work():
            return service.post_count(current_actor(), count_id)


@blp.route("/defective-returns")
class Defects(MethodView):
    @requires(*QC, Role.DISPATCHER)
    @blp.arguments(DefectQuerySchema, location="query")
    @blp.response(200, page_of(DefectSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """Defective parts returned under warranty, newest first (R-REP-9)."""
        return service.list_defects(current_actor(), args.pop("page_request"), **args)

    @requires(*QC, Role.TECHNICIAN)
    @blp.arguments(DefectInSchema)
    @blp.response(201, DefectSchema)
    def post(self, data: dict[str, Any]) -> Any:
        """Tag a part removed under warranty (serial, work order, reason) and quarantine it (R-REP-9)."""
        with unit_of_work():
            return service.tag_defective(current_actor(), data)


@blp.route("/defective-returns/<uuid:defect_id>")
class DefectItem(MethodView):
    @requires(*QC, Role.DISPATCHER)
    @blp.response(200, DefectSchema)
    def get(self, defect_id: uuid.UUID) -> Any:
        """One defective return with its assessment."""
        return service.get_defect(current_actor(), defect_id)


@blp.route("/defective-returns/<uuid:defect_id>/assessment")
class DefectAssessment(MethodView):
    @requires(*QC)
    @blp.arguments(AssessmentSchema)
    @blp.response(200, DefectSchema)
    @blp.alt_response(409, description="Already assessed")
    def post(self, data: dict[str, Any], defect_id: uuid.UUID) -> Any:
        """Quality control's assessment: responsible party (own/supplier) and outcome, once (R-REP-9)."""
        with unit_of_work():
            return service.assess_defect(current_actor(), defect_id, data)


@blp.route("/defective-returns/<uuid:defect_id>/disposal")
class DefectDisposal(MethodView):
    @requires(*QC)
    @blp.arguments(DisposalSchema)
    @blp.response(200, DefectSchema)
    @blp.alt_response(409, description="Not assessed yet, or already closed")
    def post(self, data: dict[str, Any], defect_id: uuid.UUID) -> Any:
        """Carry out the assessed outcome (scrap, return to supplier, or restock into a warehouse)."""
        with unit_of_work():
            return service.dispose_defect(current_actor(), defect_id, data)
