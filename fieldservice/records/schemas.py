"""Record content per kind (shape only; rules such as the contract-mismatch block live in service.py),
and the API's input and output schemas."""
from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from marshmallow import Schema, fields, validate

from fieldservice.common.schemas import PageArgsSchema, StrictSchema, aware_datetime, text
from fieldservice.records.models import RecordKind, RecordStatus, SignerRole

MAX_LIST = 200
NUMBER_RANGE = validate.Range(min=-1e12, max=1e12)


def names(**kwargs: Any) -> fields.List:
    return fields.List(text(120, required=True), validate=validate.Length(min=1, max=MAX_LIST), **kwargs)


def number(**kwargs: Any) -> fields.Float:
    # finite and bounded, so its JSON form is the same in Python and JavaScript (docs/signoffs.md)
    return fields.Float(allow_nan=False, validate=NUMBER_RANGE, **kwargs)


def photo_ids(**kwargs: Any) -> fields.List:
    return fields.List(fields.UUID(), validate=validate.Length(max=MAX_LIST), **kwargs)


# ---- installation sheet (R-INS-1..6) ------------------------------------------------------------

class PartiesSchema(StrictSchema):
    """R-INS-1: the three parties present at the unpacking inspection."""

    sales = text(120, required=True)
    delivery = text(120, required=True)
    customer_representative = text(120, required=True)


class UnpackingSchema(StrictSchema):
    inspected_on = fields.Date(required=True)
    parties = fields.Nested(PartiesSchema, required=True)


class PackagingSchema(StrictSchema):
    """R-INS-2: visible damage is recorded with photos (evidence for the carrier claim)."""

    damaged = fields.Boolean(required=True)
    description = text(2000, allow_none=True)
    photo_ids = photo_ids()
    carrier_name = text(200, allow_none=True)   # who delivered it: the claim is against them
    waybill_no = text(100, allow_none=True)

    @ma.validates_schema
    def _photos_for_damage(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("damaged") and not data.get("photo_ids"):
            raise ma.ValidationError("packaging damage needs at least one photo", "photo_ids")


class ContractCheckSchema(StrictSchema):
    """R-INS-3: one delivered-vs-contract line. The server compares `found` with the contract line of the
    job's asset (records/installation.py); `expected` as typed is not trusted (one that differs from the
    contract is a mismatch too). `resolved`/`resolution` are the technician's note: only the back office's
    resolution (POST /work-orders/{id}/contract-resolutions) lifts a mismatch."""

    item = fields.String(required=True, validate=validate.OneOf(["model", "configuration", "serial_number"]))
    expected = text(500, required=True)
    found = text(500, required=True)
    resolved = fields.Boolean()
    resolution = text(2000, allow_none=True)

    @ma.validates_schema
    def _resolution_text(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("resolved") and not data.get("resolution"):
            raise ma.ValidationError("say how the mismatch was resolved", "resolution")


class CommissioningItemSchema(StrictSchema):
    """R-INS-4: a measured commissioning parameter. When the product defines its parameters, `item` is one
    of them and the range stated is the product's (records/installation.py)."""

    item = text(200, required=True)
    measured = number(required=True)
    unit = text(20, allow_none=True)
    expected_min = number(allow_none=True)
    expected_max = number(allow_none=True)

    @ma.validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        low, high = data.get("expected_min"), data.get("expected_max")
        if low is not None and high is not None and low > high:
            raise ma.ValidationError("expected_min is above expected_max", "expected_min")


class TrainingSchema(StrictSchema):
    """R-INS-5 / R-REP-5 / R-MNT-3: who was trained, on what."""

    given = fields.Boolean(required=True)
    trainer = text(120, allow_none=True)
    trainees = fields.List(text(120, required=True), validate=validate.Length(max=MAX_LIST))
    topics = fields.List(text(200, required=True), validate=validate.Length(max=MAX_LIST))
    not_given_reason = text(2000, allow_none=True, metadata={
        "description": "Why no training was given (an installation sheet needs it to be signed without training)"})

    @ma.validates_schema
    def _who_and_what(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("given"):
            if not data.get("trainees"):
                raise ma.ValidationError("name who was trained", "trainees")
            if not data.get("topics"):
                raise ma.ValidationError("list the topics", "topics")


class InstallStepSchema(StrictSchema):
    """R-INS-4: one step of the product's installation checklist, done or not."""

    step = text(500, required=True)
    done = fields.Boolean(required=True)
    note = text(2000, allow_none=True)


class InstallationSheetSchema(StrictSchema):
    unpacking = fields.Nested(UnpackingSchema, required=True)
    packaging = fields.Nested(PackagingSchema, required=True)
    contract_check = fields.List(fields.Nested(ContractCheckSchema), required=True,
                                 validate=validate.Length(min=1, max=MAX_LIST))
    commissioning = fields.List(fields.Nested(CommissioningItemSchema), required=True,
                                validate=validate.Length(min=1, max=MAX_LIST))
    install_steps = fields.List(fields.Nested(InstallStepSchema), validate=validate.Length(max=MAX_LIST))
    training = fields.Nested(TrainingSchema, required=True)
    installed_serial_number = text(100, required=True)
    installed_on = fields.Date(required=True)
    notes = text(10000, allow_none=True)


# ---- repair record (R-REP-3..5) -----------------------------------------------------------------

class DiagnosisSchema(StrictSchema):
    """R-REP-3: cause, difficulty, estimated cost and time, where the repair is done."""

    cause = text(2000, required=True)
    difficulty = fields.String(required=True, validate=validate.OneOf(["low", "medium", "high"]))
    estimated_cost_minor = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=10**12))
    estimated_hours = fields.Float(required=True, allow_nan=False, validate=validate.Range(min=0, max=10000))
    repair_location = fields.String(required=True, validate=validate.OneOf(["on_site", "workshop", "factory"]))


class PartReplacedSchema(StrictSchema):
    part = text(200, required=True)
    quantity = fields.Integer(strict=True, validate=validate.Range(min=1, max=10000))
    serial_in = text(100, allow_none=True)     # the new part fitted
    serial_out = text(100, allow_none=True)    # the old part removed


class TestResultSchema(StrictSchema):
    passed = fields.Boolean(required=True)
    details = text(5000, allow_none=True)


class RepairRecordSchema(StrictSchema):
    reported_fault = text(5000, required=True)
    diagnosis = fields.Nested(DiagnosisSchema, required=True)
    cause_explained = fields.Boolean(required=True)
    work_done = text(10000, required=True)
    parts_replaced = fields.List(fields.Nested(PartReplacedSchema), validate=validate.Length(max=MAX_LIST))
    test_result = fields.Nested(TestResultSchema, required=True)
    retraining = fields.Nested(TrainingSchema)
    photo_ids = photo_ids()
    notes = text(10000, allow_none=True)


# ---- maintenance record (R-MNT-3) ---------------------------------------------------------------

class PlanItemSchema(StrictSchema):
    item = text(200, required=True)
    done = fields.Boolean(required=True)
    note = text(2000, allow_none=True)


class MeasurementSchema(StrictSchema):
    name = text(200, required=True)
    value = number(required=True)
    unit = text(20, allow_none=True)


class MaintenanceRecordSchema(StrictSchema):
    plan_items = fields.List(fields.Nested(PlanItemSchema), required=True,
                             validate=validate.Length(min=1, max=MAX_LIST))
    findings = text(10000, allow_none=True)
    measurements = fields.List(fields.Nested(MeasurementSchema), validate=validate.Length(max=MAX_LIST))
    training = fields.Nested(TrainingSchema)
    photo_ids = photo_ids()
    notes = text(10000, allow_none=True)


# ---- work-order acceptance (R-REP-7) ------------------------------------------------------------

class AcceptanceSchema(StrictSchema):
    outcome = fields.String(required=True, validate=validate.OneOf(["accepted", "rejected"]))
    comments = text(5000, allow_none=True)
    rejection_reason = text(5000, allow_none=True)

    @ma.validates_schema
    def _reason(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("outcome") == "rejected" and not data.get("rejection_reason"):
            raise ma.ValidationError("say why the result is not accepted", "rejection_reason")


# ---- satisfaction survey (R-FUP-2) --------------------------------------------------------------

def rating(**kwargs: Any) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=5), **kwargs)


class RatingsSchema(StrictSchema):
    """1 (very dissatisfied) .. 5 (very satisfied)."""

    response_time = rating(required=True)
    attitude = rating(required=True)
    quality = rating(required=True)
    overall = rating(required=True)


class SurveySchema(StrictSchema):
    """Filled by the customer at the end of service."""

    ratings = fields.Nested(RatingsSchema, required=True)
    would_recommend = fields.Boolean(allow_none=True)
    comments = text(5000, allow_none=True)


CONTENT_SCHEMAS: dict[RecordKind, type[Schema]] = {
    RecordKind.INSTALLATION_SHEET: InstallationSheetSchema,
    RecordKind.REPAIR_RECORD: RepairRecordSchema,
    RecordKind.MAINTENANCE_RECORD: MaintenanceRecordSchema,
    RecordKind.WORK_ORDER_ACCEPTANCE: AcceptanceSchema,
    RecordKind.SATISFACTION_SURVEY: SurveySchema,
}


# ---- API ----------------------------------------------------------------------------------------

class RecordCreateSchema(StrictSchema):
    id = fields.UUID(metadata={"description": "Client-generated id (optional)"})
    kind = fields.Enum(RecordKind, by_value=True, required=True)
    visit_id = fields.UUID(required=True)
    content = fields.Dict(required=True, metadata={"description": "The record's content; its shape depends on kind"})


class RecordUpdateSchema(StrictSchema):
    content = fields.Dict(required=True)
    lock_version = fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1),
                                  metadata={"description": "The version you edited (or send If-Match)"})


class CorrectionSchema(StrictSchema):
    id = fields.UUID(metadata={"description": "Client-generated id of the new version (optional)"})
    content = fields.Dict(required=True, metadata={"description": "The corrected content (complete)"})
    reason = text(2000, required=True)


class PointSchema(StrictSchema):
    x = number(required=True)
    y = number(required=True)
    t = fields.Integer(strict=True, validate=validate.Range(min=0, max=10**9),
                       metadata={"description": "ms since the stroke began"})


HEX64 = re.compile(r"^[0-9a-f]{64}$")


class SignoffInSchema(StrictSchema):
    content_sha256 = fields.String(required=True, validate=validate.Regexp(HEX64, error="64 lowercase hex digits"),
                                   metadata={"description": "SHA-256 of the canonical JSON the customer saw"})
    signer_name = text(120, required=True)
    signer_role = fields.Enum(SignerRole, by_value=True, required=True)
    signature_png = fields.String(validate=validate.Length(min=1, max=700_000),
                                  metadata={"description": "base64 PNG of the signature (max 512 KiB)"})
    strokes = fields.List(fields.List(fields.Nested(PointSchema), validate=validate.Length(min=1, max=5000)),
                          validate=validate.Length(min=1, max=500))
    device_id = text(120, required=True)
    device_time = aware_datetime(required=True)
    latitude = fields.Float(allow_nan=False, allow_none=True, validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(allow_nan=False, allow_none=True, validate=validate.Range(min=-180, max=180))

    @ma.validates_schema
    def _some_signature(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("signature_png") and not data.get("strokes"):
            raise ma.ValidationError("send signature_png, strokes or both", "signature_png")


class SignoffSchema(Schema):
    id = fields.UUID()
    record_id = fields.UUID()
    content_sha256 = fields.String()
    signer_name = fields.String()
    signer_role = fields.Enum(SignerRole, by_value=True)
    signature_png_sha256 = fields.String()
    device_id = fields.String()
    device_time = fields.AwareDateTime()
    latitude = fields.Float()
    longitude = fields.Float()
    signed_at = fields.AwareDateTime()


class VersionSummarySchema(Schema):
    id = fields.UUID()
    version_no = fields.Integer()
    previous_version_id = fields.UUID()
    status = fields.Enum(RecordStatus, by_value=True)
    content_sha256 = fields.String()
    signed_at = fields.AwareDateTime()
    created_at = fields.AwareDateTime()


class RecordSchema(Schema):
    id = fields.UUID()
    root_id = fields.UUID()
    version_no = fields.Integer()
    previous_version_id = fields.UUID()
    kind = fields.Enum(RecordKind, by_value=True)
    status = fields.Enum(RecordStatus, by_value=True)
    work_order_id = fields.UUID()
    visit_id = fields.UUID()
    technician_id = fields.UUID()
    content = fields.Dict()
    content_sha256 = fields.String()
    signed_at = fields.AwareDateTime()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    lock_version = fields.Integer(metadata={"description": "Send it back (or If-Match) to edit the draft"})
    signoff = fields.Nested(SignoffSchema, allow_none=True)
    versions = fields.List(fields.Nested(VersionSummarySchema),
                           metadata={"description": "Every version of this record, oldest first (GET only)"})


class ContractResolutionInSchema(StrictSchema):
    item = fields.String(required=True, validate=validate.OneOf(["model", "configuration", "serial_number"]))
    expected = text(500, metadata={"description": "The contract's value (to pick one of several open mismatches)"})
    found = text(500, metadata={"description": "The value found (to pick one of several open mismatches)"})
    resolution = text(2000, required=True, metadata={"description": "How it was resolved, e.g. the contract "
                                                                    "amendment or the customer's agreement"})


class ContractResolutionSchema(Schema):
    id = fields.UUID()
    work_order_id = fields.UUID()
    item = fields.String()
    expected = fields.String()
    found = fields.String()
    resolution = fields.String()
    resolved_by_id = fields.UUID()
    resolved_at = fields.AwareDateTime()
    created_at = fields.AwareDateTime()


class ContractMismatchSchema(Schema):
    item = fields.String()
    expected = fields.String(metadata={"description": "The contract's value"})
    found = fields.String(metadata={"description": "The value delivered, or typed on the sheet"})
    record_id = fields.String(allow_none=True, metadata={"description": "The installation sheet (null: the asset "
                                                                        "against its contract line)"})


class ContractResolutionsSchema(Schema):
    work_order_id = fields.UUID()
    open_mismatches = fields.List(fields.Nested(ContractMismatchSchema))
    resolutions = fields.List(fields.Nested(ContractResolutionSchema))


class CanonicalSchema(Schema):
    record_id = fields.UUID()
    canonical_json = fields.String(metadata={"description": "The exact text whose SHA-256 is signed"})
    content_sha256 = fields.String()


class RecordQuerySchema(PageArgsSchema):
    visit_id = fields.UUID()
    work_order_id = fields.UUID()
