"""Service request schemas."""
from __future__ import annotations

from marshmallow import Schema, fields

from fieldservice.common.schemas import PageArgsSchema, StrictSchema, aware_datetime, text
from fieldservice.servicerequests.models import Channel, RequestStatus
from fieldservice.workorders.models import Priority, WorkOrderKind


class ServiceRequestInSchema(StrictSchema):
    id = fields.UUID()
    customer_id = fields.UUID(required=True)
    site_id = fields.UUID(allow_none=True)
    asset_id = fields.UUID(allow_none=True, metadata={"description": "The customer's unit (or give product_id)"})
    product_id = fields.UUID(allow_none=True, metadata={
        "description": "The product; taken from asset_id when absent. One of the two is required (R-REP-1)"})
    channel = fields.Enum(Channel, by_value=True, required=True)
    problem = text(10000, required=True)
    reported_at = aware_datetime(metadata={"description": "When the customer reported it (default: now)"})
    reporter_name = text(120, allow_none=True)
    reporter_phone = text(40, allow_none=True)


class ServiceRequestUpdateSchema(StrictSchema):
    site_id = fields.UUID(allow_none=True)
    asset_id = fields.UUID(allow_none=True)
    problem = text(10000)
    reporter_name = text(120, allow_none=True)
    reporter_phone = text(40, allow_none=True)


class ServiceRequestSchema(Schema):
    id = fields.UUID()
    customer_id = fields.UUID()
    site_id = fields.UUID()
    asset_id = fields.UUID()
    product_id = fields.UUID()
    channel = fields.Enum(Channel, by_value=True)
    problem = fields.String()
    reported_at = fields.AwareDateTime()
    reporter_name = fields.String()
    reporter_phone = fields.String()
    status = fields.Enum(RequestStatus, by_value=True)
    answer = fields.String()
    created_at = fields.AwareDateTime()


class ServiceRequestQuerySchema(PageArgsSchema):
    status = fields.Enum(RequestStatus, by_value=True)
    customer_id = fields.UUID()
    channel = fields.Enum(Channel, by_value=True)


class AnswerSchema(StrictSchema):
    answer = text(10000, required=True)
    topic = text(120, metadata={"description": "The consultation's topic, grouping recurring questions in the "
                                              "summary (R-CON-1); default: the problem's first line"})


class CloseSchema(StrictSchema):
    reason = text(500, allow_none=True)


class OpenWorkOrderSchema(StrictSchema):
    id = fields.UUID()
    kind = fields.Enum(WorkOrderKind, by_value=True)
    summary = text(200)
    description = text(10000)
    priority = fields.Enum(Priority, by_value=True)
    site_id = fields.UUID()
    product_id = fields.UUID()
