"""Carrier damage claim schemas (R-INS-2)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from fieldservice.claims.models import ClaimStatus
from fieldservice.common.schemas import PageArgsSchema, StrictSchema, currency, money_minor, text


class ClaimSchema(Schema):
    id = fields.UUID()
    record_root_id = fields.UUID(metadata={"description": "The installation sheet (all its versions)"})
    record_id = fields.UUID(metadata={"description": "The sheet version that reported the damage"})
    work_order_id = fields.UUID()
    customer_id = fields.UUID()
    status = fields.Enum(ClaimStatus, by_value=True)
    description = fields.String()
    photo_ids = fields.List(fields.String())
    carrier_name = fields.String()
    waybill_no = fields.String()
    amount_minor = fields.Integer(metadata={"description": "Claimed amount in minor units (fen)"})
    settled_amount_minor = fields.Integer()
    currency = fields.String()
    notes = fields.String()
    status_changed_at = fields.AwareDateTime()
    version = fields.Integer()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class ClaimUpdateSchema(StrictSchema):
    status = fields.Enum(ClaimStatus, by_value=True,
                         metadata={"description": "open -> submitted -> settled | rejected"})
    carrier_name = text(200, allow_none=True)
    waybill_no = text(100, allow_none=True)
    amount_minor = money_minor(allow_none=True)
    settled_amount_minor = money_minor(allow_none=True)
    currency = currency()
    notes = text(10000, allow_none=True)
    version = fields.Integer(strict=True, validate=validate.Range(min=1),
                             metadata={"description": "The version you edited (409 if stale)"})


class ClaimQuerySchema(PageArgsSchema):
    status = fields.List(fields.Enum(ClaimStatus, by_value=True), metadata={"description": "Repeat to match several"})
    customer_id = fields.UUID()
    work_order_id = fields.UUID()
