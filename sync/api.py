"""Sync endpoints for technicians' phones (WatermelonDB `synchronize()`), and the quarantine for dispatchers."""
from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, request
from flask.views import MethodView
from marshmallow import ValidationError, fields, validate

from fieldservice.auth.decorators import current_actor, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint, handles_own_retries
from fieldservice.common.schemas import PageArgsSchema, StrictSchema, page_of, text
from fieldservice.db import unit_of_work
from fieldservice.errors import ValidationFailed
from sync import rowsql, service
from sync import schema as sync_schema
from sync.models import RejectionKind, RejectionStatus

blp = Blueprint("sync", __name__, url_prefix="/api/v1/sync",
                description="Offline sync for technicians' phones (see docs/sync.md)")


class CursorField(fields.Field):
    """WatermelonDB sends `last_pulled_at=null` (text) on the first sync."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int | None:
        if value in (None, "", "null", "undefined", "0"):
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValidationError("must be an integer cursor from a previous pull, or null") from None
        if number < 0 or number > 2**53 - 1:
            raise ValidationError("must be a positive safe integer")
        return number


class PullArgsSchema(StrictSchema):
    last_pulled_at = CursorField(load_default=None, metadata={"description": "The previous `timestamp`, or null"})
    schema_version = fields.Integer(load_default=1, validate=validate.Range(min=1))
    migration = fields.String(load_default=None, metadata={"description": "WatermelonDB migration info (unused)"})
    unpushed = fields.Boolean(load_default=None, metadata={
        "description": "true when the phone holds changes it has not pushed yet (hasUnsyncedChanges); lets the "
                       "server know when a reassigned visit may leave the phone"})
    page_size = fields.Integer(load_default=None, validate=validate.Range(min=1, max=5000))
    created_as_updated = fields.Boolean(load_default=False, metadata={
        "description": "true when the app calls synchronize() with `sendCreatedAsUpdated: true`: every upsert "
                       "comes in `updated`. By default (WatermelonDB's default) records new to the phone come "
                       "in `created`"})
    continuation = fields.Boolean(load_default=False, metadata={
        "description": "true for the follow-up pages of one pull (after has_more): the scope was brought up "
                       "to date by the first page and is not recomputed"})


class PushArgsSchema(StrictSchema):
    last_pulled_at = CursorField(load_default=None)


class PullResultSchema(StrictSchema):
    changes = fields.Dict(metadata={"description": "{table: {created: [], updated: [records], deleted: [ids]}}"})
    timestamp = fields.Integer(metadata={"description": "The next last_pulled_at"})
    has_more = fields.Boolean(metadata={"description": "Pull again with last_pulled_at=timestamp before applying"})


class PushResultSchema(StrictSchema):
    ok = fields.Boolean()
    received_at = fields.String()
    accepted = fields.Integer()
    merged = fields.Integer()
    rejected = fields.Integer()
    rejected_ids = fields.Dict(metadata={"description": "Quarantined records by table (informational; "
                                                        "the phone learns it from the next pull)"})


class RejectionSchema(StrictSchema):
    id = fields.UUID()
    kind = fields.Enum(RejectionKind, by_value=True)
    status = fields.Enum(RejectionStatus, by_value=True)
    technician_id = fields.UUID()
    table_name = fields.String()
    record_id = fields.String()
    operation = fields.String()
    payload = fields.Dict()
    changed_columns = fields.List(fields.String())
    reason_code = fields.String()
    reason = fields.String()
    unmet_conditions = fields.List(fields.Dict(), allow_none=True, metadata={
        "description": "For a lifecycle gate refusal (reason_code conditions_not_met): each unmet condition's "
                       "code, rule, message and overridable_by"})
    device_time = fields.AwareDateTime()
    received_at = fields.AwareDateTime()
    resolved_at = fields.AwareDateTime()
    resolution_note = fields.String()


class RejectionQuerySchema(PageArgsSchema):
    status = fields.Enum(RejectionStatus, by_value=True)
    technician_id = fields.UUID()
    table_name = text(60)


class ResolveSchema(StrictSchema):
    note = text(1000, required=True)


@blp.route("/pull")
class Pull(MethodView):
    @requires(Role.TECHNICIAN)
    @blp.arguments(PullArgsSchema, location="query")
    @blp.response(200, PullResultSchema)
    def get(self, args: dict[str, Any]) -> Any:
        """Changes in the technician's scope since `last_pulled_at` (WatermelonDB pullChanges).

        Every synced table is present with `created` (records new to the phone: they entered its scope since
        `last_pulled_at` and were not pushed by it; empty with `created_as_updated=true`), `updated` and
        `deleted`. Large syncs are paged: while `has_more`,
        pull again with `last_pulled_at=timestamp&continuation=true` and merge the pages before returning
        them to WatermelonDB.
        """
        actor = current_actor()
        with unit_of_work():
            # the usual pull: nothing to prepare, the page is read in the same transaction (with the watermark
            # the check read, on PostgreSQL)
            ready = args["continuation"] or service.ready_to_pull(actor, last_pulled_at=args["last_pulled_at"])
            if ready:
                return _pull_response(actor, args, watermark=None if ready is True else ready)
        with unit_of_work():
            service.prepare_pull(actor, last_pulled_at=args["last_pulled_at"], unpushed=args["unpushed"])
        with unit_of_work():
            return _pull_response(actor, args)


def _pull_response(actor: Any, args: dict[str, Any], watermark: int | None = None) -> Any:
    result = service.pull(actor, last_pulled_at=args["last_pulled_at"], schema_version=args["schema_version"],
                          page_size=args["page_size"], created_as_updated=args["created_as_updated"],
                          watermark=watermark)
    return current_app.response_class(rowsql.dumps(result), mimetype="application/json")


PUSH_BODY_DOC = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object",
    "properties": {"changes": {"type": "object", "description": "{table: {created: [records], updated: "
                                                                "[records], deleted: [ids]}}; records carry "
                                                                "`id` (UUID), their columns, `_status`, `_changed`; "
                                                                "unknown columns are ignored"}},
    "example": {"changes": {"work_logs": {"created": [{
        "id": "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "visit_id": "6f1c2d1e-4a59-4a0e-9a53-2f3c5d6e7f80",
        "started_at": 1795939200000, "ended_at": None, "description": "更换轴承", "_status": "created",
        "_changed": ""}], "updated": [], "deleted": []}}},
}}}}}


@blp.route("/push")
class Push(MethodView):
    @handles_own_retries
    @requires(Role.TECHNICIAN)
    @blp.doc(**PUSH_BODY_DOC)
    @blp.arguments(PushArgsSchema, location="query")
    @blp.response(200, PushResultSchema)
    @blp.alt_response(409, description="Idempotency-Key reused with a different body")
    @blp.alt_response(413, description="Too many records or bytes in one push")
    @blp.alt_response(422, description="Malformed change set; nothing was applied")
    @blp.alt_response(503, description="Database unavailable or a statement ran past DB_STATEMENT_TIMEOUT_MS; "
                                       "nothing was applied; retry after Retry-After")
    def post(self, args: dict[str, Any]) -> Any:
        """Apply the phone's changes (WatermelonDB pushChanges). Needs an `Idempotency-Key: <uuid>` header.

        Body: `{"changes": {table: {created: [...], updated: [...], deleted: [ids]}}}` (the bare changes
        object is accepted too; any Content-Type). Atomic per request; a replay with the same key and the same
        body bytes returns the same answer and writes nothing. Records that break a rule are quarantined, the
        rest applies; the phone sees `sync_status`/`rejection_reason` on its next pull. Tables and columns the
        server does not sync are ignored when empty (columns always); records of unknown tables and records
        whose id is not a UUID are quarantined (`unknown_table`, `id_not_uuid`; issue 13).
        """
        key = _idempotency_key()
        request.max_content_length = current_app.config["SYNC_MAX_PUSH_BYTES"]
        raw = request.get_data(cache=False)
        with unit_of_work():
            response, _replayed = service.push(current_actor(), idempotency_key=key, raw=raw,
                                               last_pulled_at=args["last_pulled_at"])
        return response


def _idempotency_key() -> uuid.UUID:
    raw = request.headers.get("Idempotency-Key", "")
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise ValidationFailed("send a new `Idempotency-Key: <uuid>` header with every push (the same one when "
                               "retrying the same push)", errors={"headers": {"Idempotency-Key": ["a UUID"]}}) from None


@blp.route("/schema")
class Schema(MethodView):
    @requires(Role.TECHNICIAN, Role.DISPATCHER, Role.OFFICE, Role.ADMIN)
    @blp.doc(responses={"200": {"description": "The synced tables: `{version, tables: [{name, pushable, columns}]}`",
                                "content": {"application/json": {"schema": {"type": "object"}}}}})
    def get(self) -> Any:
        """The synced tables and columns with their JSON types and owners (for the app's appSchema)."""
        return sync_schema.describe()


@blp.route("/rejections")
class Rejections(MethodView):
    @requires(Role.DISPATCHER, Role.OFFICE, Role.ADMIN)
    @blp.arguments(RejectionQuerySchema, location="query")
    @blp.response(200, page_of(RejectionSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """Quarantined pushes: records (or fields) from phones that the server did not apply, with the reason."""
        page = args.pop("page_request")
        return service.list_rejections(page, **args)


@blp.route("/rejections/<uuid:rejection_id>/resolve")
class ResolveRejection(MethodView):
    @requires(Role.DISPATCHER, Role.ADMIN)
    @blp.arguments(ResolveSchema)
    @blp.response(200, RejectionSchema)
    def post(self, data: dict[str, Any], rejection_id: uuid.UUID) -> Any:
        """Mark a quarantined change as dealt with."""
        with unit_of_work():
            return service.resolve_rejection(current_actor(), rejection_id, data["note"])
