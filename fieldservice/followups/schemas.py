"""Follow-up task schemas."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from fieldservice.common.schemas import PageArgsSchema, StrictSchema, text
from fieldservice.followups.models import FollowUpKind, FollowUpStatus


class AttemptSchema(Schema):
    attempt_no = fields.Integer()
    called_at = fields.AwareDateTime()
    reached = fields.Boolean()
    satisfaction = fields.Integer()
    remarks = fields.String()
    recorded_by_id = fields.UUID()


class FollowUpSchema(Schema):
    id = fields.UUID()
    work_order_id = fields.UUID()
    customer_id = fields.UUID()
    asset_id = fields.UUID()
    kind = fields.Enum(FollowUpKind, by_value=True)
    offset_days = fields.Integer(metadata={"description": "Days after base_on of this call (7, 30, ... or the "
                                                          "repair delay)"})
    base_on = fields.Date(metadata={"description": "The day the work was signed off or closed"})
    due_on = fields.Date(metadata={"description": "When to call (moved on after each unreachable attempt)"})
    status = fields.Enum(FollowUpStatus, by_value=True)
    attempts = fields.Integer()
    reached = fields.Boolean()
    satisfaction = fields.Integer()
    remarks = fields.String()
    completed_at = fields.AwareDateTime()
    attempt_log = fields.List(fields.Nested(AttemptSchema))
    version = fields.Integer()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class FollowUpQuerySchema(PageArgsSchema):
    status = fields.List(fields.Enum(FollowUpStatus, by_value=True), metadata={"description": "Repeat to match several"})
    due_by = fields.Date(metadata={"description": "Open tasks due on or before this day (a day's call list)"})
    overdue_on = fields.Date(metadata={"description": "Open tasks due before this day"})
    customer_id = fields.UUID()
    work_order_id = fields.UUID()
    kind = fields.Enum(FollowUpKind, by_value=True)


class OutcomeSchema(StrictSchema):
    reached = fields.Boolean(required=True, metadata={"description": "Was the customer reached?"})
    satisfaction = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=5), metadata={
        "description": "1 (very unsatisfied) to 5 (very satisfied); only when reached"})
    remarks = text(4000, allow_none=True)
    version = fields.Integer(strict=True, metadata={"description": "The version you saw (409 if stale)"})
