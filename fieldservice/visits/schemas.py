"""Visit and work-log schemas."""
from __future__ import annotations

from marshmallow import Schema, fields

from fieldservice.common.schemas import PageArgsSchema, StrictSchema, TimeRangeArgs, aware_datetime, text
from fieldservice.visits.models import VisitStatus


class VisitInSchema(StrictSchema):
    id = fields.UUID(metadata={"description": "Client-generated id (optional)"})
    scheduled_start = aware_datetime(required=True)
    scheduled_end = aware_datetime(required=True)
    technician_id = fields.UUID(allow_none=True)
    notes = text(10000, allow_none=True)


class VisitUpdateSchema(StrictSchema):
    scheduled_start = aware_datetime()
    scheduled_end = aware_datetime()
    notes = text(10000, allow_none=True)
    version = fields.Integer(strict=True)


class VisitSchema(Schema):
    id = fields.UUID()
    work_order_id = fields.UUID()
    technician_id = fields.UUID()
    status = fields.Enum(VisitStatus, by_value=True)
    scheduled_start = fields.AwareDateTime()
    scheduled_end = fields.AwareDateTime()
    customer_confirmed = fields.Boolean()
    customer_confirmed_at = fields.AwareDateTime()
    confirmation_note = fields.String()
    confirmation_waived_at = fields.AwareDateTime(
        metadata={"description": "A dispatcher let the visit start without the customer's confirmation"})
    confirmation_waived_by_id = fields.UUID()
    confirmation_waiver_reason = fields.String()
    arrived_at = fields.AwareDateTime()
    departed_at = fields.AwareDateTime()
    work_complete = fields.Boolean()
    notes = fields.String()
    cancel_reason = fields.String()
    version = fields.Integer()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class VisitQuerySchema(TimeRangeArgs, PageArgsSchema):
    RANGE = ("starts_from", "starts_before")

    technician_id = fields.UUID()
    unassigned = fields.Boolean(load_default=False)
    work_order_id = fields.UUID()
    status = fields.List(fields.Enum(VisitStatus, by_value=True))
    starts_from = aware_datetime()
    starts_before = aware_datetime()
    customer_confirmed = fields.Boolean()


class AssignmentSchema(StrictSchema):
    technician_id = fields.UUID(required=True, allow_none=True,
                                metadata={"description": "null removes the technician"})
    version = fields.Integer(strict=True)


class ConfirmationSchema(StrictSchema):
    confirmed_at = aware_datetime(metadata={"description": "When the customer confirmed (default: now)"})
    note = text(500, allow_none=True, metadata={"description": "Who confirmed, by which channel"})


class ReasonSchema(StrictSchema):
    reason = text(500, required=True)


class ArrivalSchema(StrictSchema):
    arrived_at = aware_datetime()


class DepartureSchema(StrictSchema):
    departed_at = aware_datetime()
    work_complete = fields.Boolean(required=True)
    notes = text(10000, allow_none=True)


class WorkLogInSchema(StrictSchema):
    id = fields.UUID()
    started_at = aware_datetime(required=True)
    ended_at = aware_datetime(allow_none=True)
    description = text(10000, required=True)


class WorkLogSchema(Schema):
    id = fields.UUID()
    visit_id = fields.UUID()
    technician_id = fields.UUID()
    started_at = fields.AwareDateTime()
    ended_at = fields.AwareDateTime()
    description = fields.String()
    created_at = fields.AwareDateTime()
