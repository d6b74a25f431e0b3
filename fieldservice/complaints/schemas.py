"""Complaint schemas."""
from __future__ import annotations

from marshmallow import Schema, fields

from fieldservice.common.schemas import PageArgsSchema, StrictSchema, TimeRangeArgs, aware_datetime, text
from fieldservice.complaints.models import ComplaintChannel, ComplaintStatus, NoteKind


class ComplaintInSchema(StrictSchema):
    customer_id = fields.UUID(metadata={"description": "Required for staff; a customer logs their own"})
    work_order_id = fields.UUID(allow_none=True)
    visit_id = fields.UUID(allow_none=True)
    product_id = fields.UUID(allow_none=True)
    channel = fields.Enum(ComplaintChannel, by_value=True, required=True)
    description = text(10000, required=True)
    received_at = aware_datetime(metadata={"description": "When the complaint came in (default now)"})
    owner_user_id = fields.UUID(allow_none=True)


class NoteSchema(Schema):
    id = fields.UUID()
    kind = fields.Enum(NoteKind, by_value=True)
    body = fields.String()
    author_name = fields.String()
    created_at = fields.AwareDateTime()


class ComplaintSchema(Schema):
    id = fields.UUID()
    number = fields.String()
    customer_id = fields.UUID()
    work_order_id = fields.UUID()
    visit_id = fields.UUID()
    product_id = fields.UUID()
    technician_id = fields.UUID()
    channel = fields.Enum(ComplaintChannel, by_value=True)
    description = fields.String()
    received_at = fields.AwareDateTime()
    status = fields.Enum(ComplaintStatus, by_value=True)
    owner_user_id = fields.UUID()
    response_due_at = fields.AwareDateTime()
    customer_unreachable_at = fields.AwareDateTime()
    first_response_at = fields.AwareDateTime()
    overdue_notified_at = fields.AwareDateTime()
    resolution = fields.String()
    resolved_at = fields.AwareDateTime()
    feedback = fields.String()
    customer_satisfied = fields.Boolean()
    closed_at = fields.AwareDateTime()
    created_at = fields.AwareDateTime()
    version = fields.Integer()
    notes = fields.List(fields.Nested(NoteSchema))


class ComplaintQuerySchema(TimeRangeArgs, PageArgsSchema):
    RANGE = ("received_from", "received_to")

    status = fields.Enum(ComplaintStatus, by_value=True)
    overdue = fields.Boolean(metadata={"description": "true: no first response and past the deadline"})
    customer_id = fields.UUID()
    owner_user_id = fields.UUID()
    received_from = aware_datetime()
    received_to = aware_datetime()


class OwnerSchema(StrictSchema):
    owner_user_id = fields.UUID(required=True)
    version = fields.Integer(strict=True)


class NoteInSchema(StrictSchema):
    body = text(5000, required=True)


class ContactFailedSchema(StrictSchema):
    body = text(5000, required=True, metadata={"description": "When and how the customer was tried"})
    version = fields.Integer(strict=True)


class ResponseSchema(StrictSchema):
    body = text(5000, required=True, metadata={"description": "What the customer was told"})
    responded_at = aware_datetime()
    version = fields.Integer(strict=True)


class ResolutionSchema(StrictSchema):
    resolution = text(10000, required=True)
    version = fields.Integer(strict=True)


class ReopenSchema(StrictSchema):
    reason = text(2000, required=True)
    version = fields.Integer(strict=True)


class FeedbackSchema(StrictSchema):
    feedback = text(10000, required=True)
    customer_satisfied = fields.Boolean(allow_none=True, load_default=None)
    version = fields.Integer(strict=True)


class ComplaintSummaryQuerySchema(StrictSchema):
    from_ = fields.Date(data_key="from", metadata={"description": "First day received (YYYY-MM-DD, UTC); "
                                                                  "default: 29 days before `to`"})
    to = fields.Date(metadata={"description": "Last day received, inclusive (UTC); default: today"})


class ProductComplaintsSchema(Schema):
    product_id = fields.UUID(allow_none=True, metadata={"description": "null: complaints without a product"})
    model_code = fields.String(allow_none=True)
    name = fields.String(allow_none=True)
    complaints = fields.Integer()
    overdue = fields.Integer()
    resolved = fields.Integer()


class ComplaintSummarySchema(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    as_of = fields.AwareDateTime(metadata={"description": "The time `overdue` is counted at"})
    total = fields.Integer(metadata={"description": "Complaints received in the range"})
    overdue = fields.Integer(metadata={"description": "Still without a first response, past the deadline"})
    responded = fields.Integer()
    responded_within_24h = fields.Integer(metadata={"description": "First response by the 24 h deadline"})
    responded_within_48h = fields.Integer(
        metadata={"description": "First response by the 48 h deadline (customer unreachable in the first 24 h)"})
    responded_late = fields.Integer()
    resolved = fields.Integer(metadata={"description": "With a resolution standing (resolved or closed)"})
    closed = fields.Integer(metadata={"description": "Resolution fed back to the customer"})
    avg_hours_to_first_response = fields.Float(allow_none=True)
    avg_hours_to_resolution = fields.Float(allow_none=True)
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_channel = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_product = fields.List(fields.Nested(ProductComplaintsSchema))
