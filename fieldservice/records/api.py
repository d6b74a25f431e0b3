"""Service-record endpoints: drafts, corrections, the customer's sign-off and reading records."""
from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask.views import MethodView

from fieldservice.auth.decorators import BACK_OFFICE, current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint, handles_if_match
from fieldservice.common.schemas import page_of
from fieldservice.db import unit_of_work
from fieldservice.records import service
from fieldservice.records.schemas import (
    CanonicalSchema,
    ContractResolutionInSchema,
    ContractResolutionSchema,
    ContractResolutionsSchema,
    CorrectionSchema,
    RecordCreateSchema,
    RecordQuerySchema,
    RecordSchema,
    RecordUpdateSchema,
    SignoffInSchema,
    SignoffSchema,
)

blp = Blueprint("records", __name__, url_prefix="/api/v1",
                description="Service records (installation sheet, repair, maintenance, acceptance) and sign-offs")

READERS = (*BACK_OFFICE, Role.TECHNICIAN, Role.CUSTOMER)
WRITERS = (Role.TECHNICIAN, Role.DISPATCHER, Role.ADMIN)


@blp.route("/records")
class Records(MethodView):
    @requires(*READERS)
    @blp.arguments(RecordQuerySchema, location="query")
    @blp.response(200, page_of(RecordSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """Record versions of a visit or work order (a technician: their own; a customer: their own), one page
        at a time like every list. The listing is logged in the archive read log (R-ARC-3)."""
        page = args.pop("page_request")
        with unit_of_work():
            return service.list_records(current_actor(), page, **args, log_via="api")

    @requires(*WRITERS)
    @blp.arguments(RecordCreateSchema)
    @blp.response(201, RecordSchema)
    @blp.alt_response(409, description="The visit already has a record of this kind")
    @blp.alt_response(422, description="Content does not fit the kind's schema, or unknown photo ids")
    def post(self, data: dict[str, Any]) -> Any:
        """Create a draft record for a visit (its technician, or a dispatcher on their behalf)."""
        with unit_of_work():
            return service.create_record(current_actor(), data)


@blp.route("/records/<uuid:record_id>")
class RecordItem(MethodView):
    @requires(*READERS)
    @blp.response(200, RecordSchema, headers={"ETag": {"description": "The version, for If-Match",
                                                       "schema": {"type": "string"}}})
    def get(self, record_id: uuid.UUID) -> Any:
        """One record version with the list of all its versions (customers: only their own, R-ARC-3).

        The read is logged in the archive read log (R-ARC-3). The ETag names the draft's lock version."""
        with unit_of_work():
            record = service.get_record(current_actor(), record_id, log_via="api")
            return record, 200, {"ETag": service.etag(record)}

    @handles_if_match
    @requires(*WRITERS)
    @blp.arguments(RecordUpdateSchema)
    @blp.response(200, RecordSchema)
    @blp.alt_response(409, description="record_signed: a signed version is immutable (R-SIG-3); stale_version: "
                                       "lock_version is not the current version (nothing was overwritten)")
    @blp.alt_response(412, description="precondition_failed: If-Match is not the current ETag")
    @blp.alt_response(428, description="precondition_required: send If-Match or lock_version")
    def patch(self, data: dict[str, Any], record_id: uuid.UUID) -> Any:
        """Replace a draft's content. Name the version you edited: `If-Match: "<n>"` (the ETag of GET) or
        `lock_version` in the body; a stale version is refused and nothing is overwritten."""
        with unit_of_work():
            record = service.update_record(current_actor(), record_id, data,
                                           if_match=request.headers.get("If-Match"))
        return record, 200, {"ETag": service.etag(record)}


@blp.route("/records/<uuid:record_id>/canonical")
class RecordCanonical(MethodView):
    @requires(*READERS)
    @blp.response(200, CanonicalSchema)
    def get(self, record_id: uuid.UUID) -> Any:
        """The canonical JSON text the customer's signature binds to, and its SHA-256 (docs/signoffs.md).
        Same read rules as the record; the read is logged in the archive read log (`record_canonical`, R-ARC-3)."""
        with unit_of_work():
            return service.get_canonical(current_actor(), record_id, log_via="api")


@blp.route("/records/<uuid:record_id>/corrections")
class RecordCorrections(MethodView):
    @requires(*WRITERS)
    @blp.arguments(CorrectionSchema)
    @blp.response(201, RecordSchema)
    @blp.alt_response(409, description="The version is a draft, or a newer version exists")
    def post(self, data: dict[str, Any], record_id: uuid.UUID) -> Any:
        """Correct a signed version: a new draft version that references it and needs its own signature."""
        with unit_of_work():
            return service.correct_record(current_actor(), record_id, data)


@blp.route("/records/<uuid:record_id>/signoff")
class RecordSignoff(MethodView):
    @requires(Role.TECHNICIAN)
    @blp.arguments(SignoffInSchema)
    @blp.response(201, SignoffSchema)
    @blp.alt_response(409, description="conditions_not_met (the lifecycle gate; `unmet_conditions` lists each: "
                                       "work_not_complete / visit_in_progress R-SIG-2, contract_mismatch R-INS-3, "
                                       "commissioning and checklist R-INS-4, training R-INS-5, record_unsigned for "
                                       "an acceptance), already_signed, content_hash_mismatch, or "
                                       "asset_serial_differs (R-INS-6)")
    @blp.alt_response(422, description="The signature is not a bounded PNG, or strokes are malformed")
    def post(self, data: dict[str, Any], record_id: uuid.UUID) -> Any:
        """The customer signs this record version on the technician's device (technician's token)."""
        with unit_of_work():
            return service.sign_record(current_actor(), record_id, data)


@blp.route("/work-orders/<uuid:work_order_id>/contract-resolutions")
class ContractResolutions(MethodView):
    @requires(*BACK_OFFICE, Role.TECHNICIAN)
    @blp.response(200, ContractResolutionsSchema)
    def get(self, work_order_id: uuid.UUID) -> Any:
        """The installation job's open contract mismatches (R-INS-3: the unit delivered against the contract
        line of the job's asset) and the resolutions recorded. Roles: dispatcher, office, admin, and the
        job's technician."""
        with unit_of_work():
            return service.contract_resolutions(current_actor(), work_order_id)

    @requires(*BACK_OFFICE)
    @blp.arguments(ContractResolutionInSchema)
    @blp.response(201, ContractResolutionSchema)
    @blp.alt_response(409, description="no_open_mismatch: the job has no such open mismatch; mismatch_ambiguous: "
                                       "several match, name expected and found")
    @blp.alt_response(422, description="A blank resolution text, or an unknown item")
    def post(self, data: dict[str, Any], work_order_id: uuid.UUID) -> Any:
        """Resolve an open contract mismatch of an installation job, saying why (R-INS-3); recorded with who
        and when, and audited. Until then the sheet cannot be signed nor the installation completed.
        Roles: dispatcher, office, admin."""
        with unit_of_work():
            return service.resolve_contract_mismatch(current_actor(), work_order_id, data)
