"""Commerce schemas: input (strict) and output, per resource."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import marshmallow as ma
from marshmallow import Schema, fields, validate

from fieldservice.commerce.models import (
    AdvisoryStatus,
    ConsentChannel,
    ConsentDecision,
    ConsentEvidenceKind,
    Payer,
    PriceItemKind,
    PriceListStatus,
    QuoteStatus,
    ReturnOutcome,
    ReturnStatus,
    WarrantyOption,
)
from fieldservice.commerce.report_dates import EVIDENCE_KINDS
from fieldservice.common.schemas import (
    PageArgsSchema,
    StrictSchema,
    TimeRangeArgs,
    aware_datetime,
    currency,
    money_minor,
    text,
)

SHA256 = validate.Regexp(r"^[0-9a-f]{64}$", error="lower-case hex SHA-256")
FAULT_TYPE = validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$", error="a fault type id such as quality, misuse, no_reason")
MAX_LINES = 200


class Quantity(fields.Field):
    """A positive quantity with at most two decimals (1.5 hours), loaded as integer hundredths."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ma.ValidationError("a number such as 1 or 1.5")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ma.ValidationError("a number such as 1 or 1.5") from None
        if not number.is_finite() or number <= 0 or number > 100_000:
            raise ma.ValidationError("between 0 (exclusive) and 100000")
        centi = number * 100
        if centi != centi.to_integral_value():
            raise ma.ValidationError("at most two decimals")
        return int(centi)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> float | None:
        return None if value is None else value / 100


# ---- warranty ------------------------------------------------------------------------------------

class LiabilitySchema(StrictSchema):
    outbound = fields.Enum(Payer, by_value=True, required=True)
    return_ = fields.Enum(Payer, by_value=True, required=True, data_key="return")


class TermsInSchema(StrictSchema):
    product_id = fields.UUID(allow_none=True, metadata={"description": "None: any product"})
    contract_id = fields.UUID(allow_none=True, metadata={"description": "Overrides for one sales contract"})
    warranty_months = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=600))
    covered_fault_types = fields.List(fields.String(required=True, validate=FAULT_TYPE), load_default=lambda: ["quality"],
                                      validate=validate.Length(max=50))
    no_reason_return_days = fields.Integer(strict=True, load_default=7, validate=validate.Range(min=0, max=365))
    quality_return_months = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=0, max=120))
    shipping_liability = fields.Dict(keys=fields.String(validate=FAULT_TYPE), values=fields.Nested(LiabilitySchema),
                                     load_default=dict, validate=validate.Length(max=50))
    notes = text(5000, allow_none=True)

    @ma.post_load
    def _plain(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if "shipping_liability" in data:
            data["shipping_liability"] = {k: {"outbound": v["outbound"].value, "return": v["return_"].value}
                                          for k, v in data["shipping_liability"].items()}
        return data


class TermsUpdateSchema(TermsInSchema):
    class Meta:
        exclude = ("product_id", "contract_id")


class TermsSchema(Schema):
    id = fields.UUID()
    product_id = fields.UUID(allow_none=True)
    contract_id = fields.UUID(allow_none=True)
    warranty_months = fields.Integer(allow_none=True)
    covered_fault_types = fields.List(fields.String())
    no_reason_return_days = fields.Integer()
    quality_return_months = fields.Integer()
    shipping_liability = fields.Dict()
    notes = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class TermsQuerySchema(StrictSchema):
    product_id = fields.UUID()


class ReportEvidenceSchema(StrictSchema):
    """What shows the customer reported on an earlier day than the server recorded (R-RET-1)."""

    kind = fields.String(required=True, validate=validate.OneOf(EVIDENCE_KINDS))
    reference = text(200, required=True, metadata={
        "description": "The service request id, the courier receipt number, the e-mail's id or the call record"})
    photo_id = fields.UUID(metadata={"description": "A photo of the job showing it (e.g. the courier receipt)"})


def reported_on_field(default: str) -> fields.Date:
    return fields.Date(metadata={"description": (
        f"The day the customer reported (R-RET-1). Default: {default}. A day on or after the job's report "
        "(its service request's or work order's creation, as the server recorded it) is kept; an earlier day "
        "needs reported_on_evidence and the office or admin role; a future day is refused")})


def reported_on_evidence_field() -> fields.Nested:
    return fields.Nested(ReportEvidenceSchema, metadata={
        "description": "Evidence for a reported_on before the job's report (office, admin only)"})


class DecisionInSchema(StrictSchema):
    fault_type = fields.String(required=True, validate=FAULT_TYPE, metadata={
        "description": "quality, misuse, wear, no_reason, ... (as the warranty terms name them)"})
    reported_on = reported_on_field("the job's report (service request or work order creation)")
    reported_on_evidence = reported_on_evidence_field()


class DecisionSchema(Schema):
    id = fields.UUID()
    work_order_id = fields.UUID()
    asset_id = fields.UUID(allow_none=True)
    terms_id = fields.UUID(allow_none=True)
    fault_type = fields.String()
    reported_on = fields.Date()
    reported_on_source = fields.String(allow_none=True, metadata={"description": "job_report, received, caller or "
                                                                                 "evidence (R-RET-1)"})
    reported_on_evidence = fields.Dict(allow_none=True)
    in_warranty = fields.Boolean()
    option = fields.Enum(WarrantyOption, by_value=True)
    chargeable = fields.Boolean()
    shipping_outbound_payer = fields.Enum(Payer, by_value=True)
    shipping_return_payer = fields.Enum(Payer, by_value=True)
    basis = fields.Dict()
    decided_at = fields.AwareDateTime()
    decided_by_id = fields.UUID(allow_none=True)


# ---- price lists ---------------------------------------------------------------------------------

class PriceItemInSchema(StrictSchema):
    kind = fields.Enum(PriceItemKind, by_value=True, required=True)
    code = text(80, required=True)
    name = text(200, required=True)
    unit = text(20, load_default="each")
    unit_price_minor = money_minor(required=True)


class PriceListInSchema(StrictSchema):
    name = text(200, required=True)
    currency = currency(load_default="CNY")
    items = fields.List(fields.Nested(PriceItemInSchema), load_default=list, validate=validate.Length(max=5000))


class PriceItemsInSchema(StrictSchema):
    items = fields.List(fields.Nested(PriceItemInSchema), required=True, validate=validate.Length(max=5000))


class PriceItemSchema(Schema):
    id = fields.UUID()
    kind = fields.Enum(PriceItemKind, by_value=True)
    code = fields.String()
    name = fields.String()
    unit = fields.String()
    unit_price_minor = fields.Integer()


class PriceListSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    version = fields.Integer()
    status = fields.Enum(PriceListStatus, by_value=True)
    currency = fields.String()
    published_at = fields.AwareDateTime(allow_none=True)
    items = fields.List(fields.Nested(PriceItemSchema))
    created_at = fields.AwareDateTime()


class PriceListQuerySchema(PageArgsSchema):
    status = fields.Enum(PriceListStatus, by_value=True)


# ---- quotes --------------------------------------------------------------------------------------

class QuoteLineInSchema(StrictSchema):
    kind = fields.Enum(PriceItemKind, by_value=True, required=True)
    code = text(80, required=True, metadata={"description": "The price-list item's code (part number, LABOUR-…)"})
    quantity = Quantity(required=True, data_key="quantity", attribute="quantity_centi",
                        metadata={"type": "number", "description": "Parts: count; labour: hours (two decimals)"})
    unit_price_minor = money_minor(metadata={"description": "Default: the list price"})
    description = text(500)


class QuoteInSchema(StrictSchema):
    id = fields.UUID()
    work_order_id = fields.UUID(required=True)
    supplements_quote_id = fields.UUID(metadata={"description": "The accepted original this supplements"})
    replaces_quote_id = fields.UUID(metadata={"description": "The quote this revision replaces"})
    notes = text(5000, allow_none=True)
    lines = fields.List(fields.Nested(QuoteLineInSchema), required=True,
                        validate=validate.Length(min=1, max=MAX_LINES))


class QuoteUpdateSchema(StrictSchema):
    notes = text(5000, allow_none=True)
    lines = fields.List(fields.Nested(QuoteLineInSchema), required=True,
                        validate=validate.Length(min=1, max=MAX_LINES))


class QuoteLineSchema(Schema):
    id = fields.UUID()
    position = fields.Integer()
    kind = fields.Enum(PriceItemKind, by_value=True)
    code = fields.String()
    description = fields.String()
    quantity = Quantity(attribute="quantity_centi")
    list_unit_price_minor = fields.Integer()
    unit_price_minor = fields.Integer()
    line_total_minor = fields.Integer()
    list_total_minor = fields.Integer()


class QuoteSchema(Schema):
    id = fields.UUID()
    number = fields.String()
    work_order_id = fields.UUID()
    price_list_id = fields.UUID()
    supplements_quote_id = fields.UUID(allow_none=True)
    replaces_quote_id = fields.UUID(allow_none=True)
    status = fields.Enum(QuoteStatus, by_value=True)
    currency = fields.String()
    notes = fields.String(allow_none=True)
    list_total_minor = fields.Integer()
    total_minor = fields.Integer()
    requires_approval = fields.Boolean()
    approved_by_id = fields.UUID(allow_none=True)
    approved_at = fields.AwareDateTime(allow_none=True)
    approval_note = fields.String(allow_none=True)
    presented_at = fields.AwareDateTime(allow_none=True)
    content_sha256 = fields.String(allow_none=True)
    decided_at = fields.AwareDateTime(allow_none=True)
    agreement_required = fields.Boolean(metadata={"description": "R-REP-8: accepting needs the signed written "
                                                                "repair agreement (set when presented)"})
    agreement_text = fields.String(allow_none=True)
    lines = fields.List(fields.Nested(QuoteLineSchema))
    created_at = fields.AwareDateTime()


class QuoteQuerySchema(PageArgsSchema):
    work_order_id = fields.UUID()
    status = fields.List(fields.Enum(QuoteStatus, by_value=True))


class ApprovalInSchema(StrictSchema):
    approve = fields.Boolean(required=True)
    note = text(1000, allow_none=True)


class QuoteCanonicalSchema(Schema):
    quote_id = fields.UUID()
    canonical_json = fields.String()
    content_sha256 = fields.String()


class ConsentInSchema(StrictSchema):
    id = fields.UUID()
    decision = fields.Enum(ConsentDecision, by_value=True, required=True)
    content_sha256 = fields.String(required=True, validate=SHA256,
                                   metadata={"description": "SHA-256 of the canonical JSON the customer saw"})
    signer_name = text(120, required=True)
    visit_id = fields.UUID(metadata={"description": "The visit on which the technician's device captured it"})
    signature_png = fields.String(validate=validate.Length(min=1, max=700_000),
                                  metadata={"description": "base64 PNG of the signature (optional, max 512 KiB; "
                                                           "required with a written repair agreement)"})
    agreement_sha256 = fields.String(validate=SHA256, metadata={
        "description": "R-REP-8: SHA-256 of the repair agreement text the customer signed; required to accept "
                       "a quote with agreement_required"})
    device_id = text(120)
    device_time = aware_datetime()
    # R-REP-4: a consent a dispatcher/admin records (channel `staff`) needs its evidence; others carry none
    evidence_kind = fields.Enum(ConsentEvidenceKind, by_value=True, metadata={
        "description": "Staff only (required): how the customer consented"})
    evidence_reference = text(200, metadata={
        "description": "Staff only (required): the call record number, email id or document number"})
    evidence_at = aware_datetime(metadata={
        "description": "Staff only (required): when the customer consented (not in the future, not before the "
                       "quote was presented)"})
    evidence_photo_id = fields.UUID(metadata={
        "description": "Staff only (optional): the scan of the signed document, a photo of the same work order"})


class LinkConsentInSchema(ConsentInSchema):
    class Meta:
        exclude = ("visit_id", "evidence_kind", "evidence_reference", "evidence_at", "evidence_photo_id")


class ConsentSchema(Schema):
    id = fields.UUID()
    quote_id = fields.UUID()
    decision = fields.Enum(ConsentDecision, by_value=True)
    content_sha256 = fields.String()
    signer_name = fields.String()
    channel = fields.Enum(ConsentChannel, by_value=True, metadata={
        "description": "device (the customer on the technician's phone), link, portal, or staff (recorded by a "
                       "dispatcher from the evidence below; never a device signature)"})
    visit_id = fields.UUID(allow_none=True)
    signature_png_sha256 = fields.String(allow_none=True)
    agreement_sha256 = fields.String(allow_none=True)
    device_id = fields.String(allow_none=True)
    device_time = fields.AwareDateTime(allow_none=True)
    decided_at = fields.AwareDateTime()
    recorded_by = fields.UUID(attribute="captured_by_user_id", allow_none=True,
                              metadata={"description": "The user who recorded the consent"})
    evidence_kind = fields.Enum(ConsentEvidenceKind, by_value=True, allow_none=True)
    evidence_reference = fields.String(allow_none=True)
    evidence_at = fields.AwareDateTime(allow_none=True)
    evidence_photo_id = fields.UUID(allow_none=True)


class LinkSchema(Schema):
    token = fields.String()
    url = fields.String()
    page_url = fields.String(metadata={"description": "The customer's page for the link (HTML, zh/en): send this"})
    expires_at = fields.AwareDateTime()


# ---- charges -------------------------------------------------------------------------------------

class ChargeInSchema(StrictSchema):
    id = fields.UUID()
    visit_id = fields.UUID(required=True)
    kind = fields.Enum(PriceItemKind, by_value=True, required=True)
    code = text(80, required=True)
    quantity = Quantity(required=True, attribute="quantity_centi", metadata={"type": "number"})
    serial_numbers = fields.List(text(100, required=True), validate=validate.Length(max=1000))
    description = text(500)
    device_time = aware_datetime()
    stock_movement_id = fields.UUID(metadata={
        "description": "A part (R-REP-6): the issue ledger line of these parts to this job; without it, recording "
                       "the charge issues them from the van of the visit's technician"})


class ChargeSchema(Schema):
    id = fields.UUID()
    visit_id = fields.UUID()
    work_order_id = fields.UUID()
    technician_id = fields.UUID(allow_none=True)
    kind = fields.Enum(PriceItemKind, by_value=True)
    code = fields.String()
    description = fields.String(allow_none=True)
    quantity = Quantity(attribute="quantity_centi")
    serial_numbers = fields.List(fields.String(), allow_none=True)
    quote_line_id = fields.UUID(allow_none=True)
    stock_movement_id = fields.UUID(allow_none=True)
    warranty = fields.Boolean()
    unit_price_minor = fields.Integer()
    currency = fields.String()
    device_time = fields.AwareDateTime(allow_none=True)
    received_at = fields.AwareDateTime(allow_none=True)


class ChargeQuerySchema(PageArgsSchema):
    visit_id = fields.UUID()
    work_order_id = fields.UUID()


# ---- consultations and advisories ----------------------------------------------------------------

class ConsultationInSchema(StrictSchema):
    customer_id = fields.UUID(allow_none=True)
    product_id = fields.UUID(allow_none=True)
    topic = text(120, required=True)
    question = text(10000, required=True)
    answer = text(10000, allow_none=True)
    channel = fields.String(load_default="phone", validate=validate.OneOf(["phone", "email", "online", "walk_in"]))
    consulted_at = aware_datetime(metadata={"description": "Default: now"})


class ConsultationSchema(Schema):
    id = fields.UUID()
    customer_id = fields.UUID(allow_none=True)
    product_id = fields.UUID(allow_none=True)
    topic = fields.String()
    question = fields.String()
    answer = fields.String(allow_none=True)
    channel = fields.String()
    consulted_at = fields.AwareDateTime()
    handled_by_id = fields.UUID(allow_none=True)
    handled_by_name = fields.String()
    advisory_id = fields.UUID(allow_none=True)
    service_request_id = fields.UUID(allow_none=True, metadata={
        "description": "The service request answered on the spot that this consultation logs (R-REP-1)"})


class ConsultationQuerySchema(TimeRangeArgs, PageArgsSchema):
    RANGE = ("since", "until")

    product_id = fields.UUID()
    service_request_id = fields.UUID()
    topic = text(120)
    customer_id = fields.UUID()
    since = aware_datetime()
    until = aware_datetime()


class SummaryQuerySchema(TimeRangeArgs, StrictSchema):
    RANGE = ("since", "until")

    since = aware_datetime()
    until = aware_datetime()
    min_count = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))


class SummaryRowSchema(Schema):
    product_id = fields.UUID(allow_none=True)
    model_code = fields.String(allow_none=True)
    topic = fields.String()
    count = fields.Integer()
    first_at = fields.AwareDateTime()
    last_at = fields.AwareDateTime()


class AdvisoryInSchema(StrictSchema):
    title = text(200, required=True)
    body = text(20000, required=True)
    topic = text(120, allow_none=True)
    product_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1, max=200))
    consultation_ids = fields.List(fields.UUID(), validate=validate.Length(max=1000))


class AdvisorySchema(Schema):
    id = fields.UUID()
    title = fields.String()
    body = fields.String()
    topic = fields.String(allow_none=True)
    product_ids = fields.List(fields.String())
    status = fields.Enum(AdvisoryStatus, by_value=True)
    first_sent_at = fields.AwareDateTime(allow_none=True)
    last_sent_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime()


class SendResultSchema(Schema):
    advisory_id = fields.UUID()
    customers = fields.Integer()
    enqueued = fields.Integer()
    already_notified = fields.Integer()


class DeliverySchema(Schema):
    customer_id = fields.String(allow_none=True)
    customer_name = fields.String(allow_none=True)
    recipient = fields.String()
    channel = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    created_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    notification_id = fields.UUID()


# ---- returns (R-RET-1/2/3) -----------------------------------------------------------------------

class ReturnCaseInSchema(StrictSchema):
    id = fields.UUID()
    work_order_id = fields.UUID(required=True, metadata={"description": "The job the returned unit belongs to"})
    asset_id = fields.UUID(metadata={"description": "The returned unit (or give serial_number)"})
    serial_number = text(100)
    reason = fields.String(required=True, validate=FAULT_TYPE, metadata={
        "description": "The customer's reason as a fault type: no_reason, quality, misuse, wear, ..."})
    description = text(5000, required=True, metadata={"description": "The customer's own description"})
    photo_ids = fields.List(fields.UUID(), validate=validate.Length(max=50),
                            metadata={"description": "The customer's photos (photos of the job)"})
    reported_on = reported_on_field("the day the server receives the case")
    reported_on_evidence = reported_on_evidence_field()
    received_at = aware_datetime(metadata={"description": "When the unit arrived (default: now; not in the future)"})


class ReturnInspectionInSchema(StrictSchema):
    matches_description = fields.Boolean(required=True, metadata={
        "description": "Does the unit match the customer's photos and description?"})
    findings = text(5000, required=True)
    found_fault_type = fields.String(validate=FAULT_TYPE, metadata={
        "description": "The fault type found; required when the unit does not match"})
    inspector_name = text(120)
    photo_ids = fields.List(fields.UUID(), validate=validate.Length(max=50),
                            metadata={"description": "Inspection photos (photos of the job)"})


class ReturnCaseOutcomeInSchema(StrictSchema):
    outcome = fields.Enum(ReturnOutcome, by_value=True, required=True)
    note = text(2000, allow_none=True)


class ReturnCaseSchema(Schema):
    id = fields.UUID()
    number = fields.String()
    work_order_id = fields.UUID()
    customer_id = fields.UUID()
    product_id = fields.UUID()
    asset_id = fields.UUID(allow_none=True)
    serial_number = fields.String(allow_none=True)
    reason = fields.String()
    description = fields.String()
    photo_ids = fields.List(fields.String())
    reported_on = fields.Date()
    reported_on_source = fields.String(allow_none=True)
    reported_on_evidence = fields.Dict(allow_none=True)
    received_at = fields.AwareDateTime()
    status = fields.Enum(ReturnStatus, by_value=True)
    warranty_option = fields.Enum(WarrantyOption, by_value=True)
    in_warranty = fields.Boolean()
    chargeable = fields.Boolean()
    shipping_outbound_payer = fields.Enum(Payer, by_value=True)
    shipping_return_payer = fields.Enum(Payer, by_value=True)
    allowed_outcomes = fields.List(fields.String())
    inspected_at = fields.AwareDateTime(allow_none=True)
    inspector_name = fields.String(allow_none=True)
    matches_description = fields.Boolean(allow_none=True)
    findings = fields.String(allow_none=True)
    found_fault_type = fields.String(allow_none=True)
    inspection_photo_ids = fields.List(fields.String(), allow_none=True)
    outcome = fields.Enum(ReturnOutcome, by_value=True, allow_none=True)
    outcome_note = fields.String(allow_none=True)
    decided_at = fields.AwareDateTime(allow_none=True)
    closed_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime()


class ReturnCaseQuerySchema(PageArgsSchema):
    status = fields.List(fields.Enum(ReturnStatus, by_value=True))
    customer_id = fields.UUID()
    work_order_id = fields.UUID()
    q = fields.String(validate=validate.Length(max=200), metadata={
        "description": "Part of the customer's name or phone, the case number or the serial number"})
