"""Work-order schemas."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import Schema, fields, validate

from fieldservice.common.schemas import PageArgsSchema, StrictSchema, TimeRangeArgs, aware_datetime, text
from fieldservice.workorders.models import Priority, WorkOrderKind, WorkOrderStatus


class WorkOrderInSchema(StrictSchema):
    id = fields.UUID(metadata={"description": "Client-generated id (optional)"})
    kind = fields.Enum(WorkOrderKind, by_value=True, required=True)
    customer_id = fields.UUID(required=True)
    site_id = fields.UUID(required=True)
    asset_id = fields.UUID(allow_none=True)
    product_id = fields.UUID(metadata={"description": "Required unless asset_id is given"})
    summary = text(200, required=True)
    description = text(10000, allow_none=True)
    priority = fields.Enum(Priority, by_value=True)


class WorkOrderUpdateSchema(StrictSchema):
    summary = text(200)
    description = text(10000, allow_none=True)
    priority = fields.Enum(Priority, by_value=True)
    version = fields.Integer(strict=True, metadata={"description": "The version you edited (409 if stale)"})


class WorkOrderSchema(Schema):
    id = fields.UUID()
    number = fields.String()
    kind = fields.Enum(WorkOrderKind, by_value=True)
    status = fields.Enum(WorkOrderStatus, by_value=True)
    allowed_transitions = fields.List(fields.String())
    priority = fields.Enum(Priority, by_value=True)
    customer_id = fields.UUID()
    site_id = fields.UUID()
    asset_id = fields.UUID()
    product_id = fields.UUID()
    service_request_id = fields.UUID()
    summary = fields.String()
    description = fields.String()
    cancel_reason = fields.String()
    status_changed_at = fields.AwareDateTime()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()
    version = fields.Integer()


class WorkOrderQuerySchema(TimeRangeArgs, PageArgsSchema):
    RANGE = ("created_from", "created_to")

    status = fields.List(fields.Enum(WorkOrderStatus, by_value=True),
                         metadata={"description": "Repeat to match several"})
    open_only = fields.Boolean(load_default=False)
    kind = fields.Enum(WorkOrderKind, by_value=True)
    priority = fields.Enum(Priority, by_value=True)
    customer_id = fields.UUID()
    asset_id = fields.UUID()
    technician_id = fields.UUID()
    q = text(100, metadata={"description": "Matches number or summary"})
    created_from = aware_datetime()
    created_to = aware_datetime()


class OverrideSchema(StrictSchema):
    condition = fields.String(required=True, validate=validate.Length(min=1, max=60),
                              metadata={"description": "The code of an unmet condition the caller's role may waive, "
                                        "as listed in a refusal's `unmet_conditions` (e.g. `survey_missing`)"})
    reason = text(500, required=True, metadata={"description": "Why it is waived (kept in the audit trail)"})


class TransitionSchema(StrictSchema):
    to = fields.Enum(WorkOrderStatus, by_value=True, required=True)
    reason = text(500)
    version = fields.Integer(strict=True)
    overrides = fields.List(fields.Nested(OverrideSchema), validate=validate.Length(max=10), load_default=list,
                            metadata={"description": "Conditions of the lifecycle gate waived with a reason; only "
                                      "those whose `overridable_by` names the caller's role"})

    @ma.validates_schema
    def _distinct(self, data: dict[str, Any], **kwargs: Any) -> None:
        codes = [o["condition"] for o in data.get("overrides") or []]
        if len(set(codes)) != len(codes):
            raise ma.ValidationError("a condition is overridden twice", "overrides")


class CancelSchema(StrictSchema):
    reason = text(500, required=True)
    version = fields.Integer(strict=True)
