"""Archive endpoints: search, per customer / asset / serial number, one record, and the read log (R-ARC-1..3).
Every read is logged (who, when, what, via=api)."""
from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView

from fieldservice.archive import service
from fieldservice.archive.schemas import (
    ArchiveReadSchema,
    ArchiveRecordSchema,
    AssetArchiveSchema,
    CustomerArchiveSchema,
    ReadQuerySchema,
    SearchArgsSchema,
    SearchHitSchema,
)
from fieldservice.auth.decorators import current_actor, requires
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import PageArgsSchema, page_of
from fieldservice.db import unit_of_work

blp = Blueprint("archive", __name__, url_prefix="/api/v1/archive",
                description="The customer service archive (R-ARC-1..3); every read is logged")

STAFF = service.ARCHIVE_STAFF
READERS = service.ARCHIVE_READERS


@blp.route("/search")
class Search(MethodView):
    @requires(*STAFF)
    @blp.arguments(SearchArgsSchema, location="query")
    @blp.response(200, page_of(SearchHitSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """Search customers and equipment by customer name (Chinese too), phone, serial number or model."""
        with unit_of_work():
            return service.search(current_actor(), args["q"], args["page_request"], via="api")


@blp.route("/customers/<uuid:customer_id>")
class CustomerArchive(MethodView):
    @requires(*READERS)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, CustomerArchiveSchema)
    def get(self, args: dict[str, Any], customer_id: uuid.UUID) -> Any:
        """A customer's archive: contacts, equipment, sales contracts, visits and a page of record versions
        with photos, signatures and parts replaced (a customer login: only their own; a technician: their
        own jobs' customers, with only their own records)."""
        with unit_of_work():
            return service.customer_archive(current_actor(), customer_id, args["page_request"], via="api")


@blp.route("/assets/<uuid:asset_id>")
class AssetArchive(MethodView):
    @requires(*READERS)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, AssetArchiveSchema)
    def get(self, args: dict[str, Any], asset_id: uuid.UUID) -> Any:
        """One unit's archive: the asset, its contract lines, visits and a page of its records."""
        with unit_of_work():
            return service.asset_archive(current_actor(), asset_id, args["page_request"], via="api")


@blp.route("/serials/<string:serial>")
class SerialArchive(MethodView):
    @requires(*READERS)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, AssetArchiveSchema)
    def get(self, args: dict[str, Any], serial: str) -> Any:
        """The archive of every unit with this serial number (exact, any case)."""
        with unit_of_work():
            return service.serial_archive(current_actor(), serial, args["page_request"], via="api")


@blp.route("/records/<uuid:record_id>")
class RecordArchive(MethodView):
    @requires(*READERS)
    @blp.response(200, ArchiveRecordSchema)
    def get(self, record_id: uuid.UUID) -> Any:
        """One record version with all its versions, photos, the signature (PNG, base64) and parts replaced."""
        with unit_of_work():
            return service.record_view(current_actor(), record_id, via="api")


@blp.route("/reads")
class Reads(MethodView):
    @requires(*STAFF)
    @blp.arguments(ReadQuerySchema, location="query")
    @blp.response(200, page_of(ArchiveReadSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """The archive read log, newest first: who read what, when, via api or page (R-ARC-3)."""
        page = args.pop("page_request")
        return service.list_reads(current_actor(), page, **args)
