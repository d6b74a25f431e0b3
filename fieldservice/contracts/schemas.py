"""Sales contract schemas."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from fieldservice.common.schemas import PageArgsSchema, StrictSchema, currency, money_minor, text
from fieldservice.contracts.models import ContractStatus, SalesChannel


class ContractLineInSchema(StrictSchema):
    id = fields.UUID()
    product_id = fields.UUID(required=True)
    configuration = text(500, allow_none=True)
    serial_number = text(100, allow_none=True)
    quantity = fields.Integer(strict=True, validate=validate.Range(min=1, max=100000))
    unit_price_minor = money_minor(required=True, metadata={"description": "Unit price in minor units (fen)"})
    channel = fields.Enum(SalesChannel, by_value=True)
    sale_date = fields.Date(required=True)
    production_date = fields.Date(allow_none=True)
    ship_date = fields.Date(allow_none=True)


class ContractLineUpdateSchema(ContractLineInSchema):
    class Meta:
        exclude = ("id",)


class ContractLineSchema(Schema):
    id = fields.UUID()
    contract_id = fields.UUID()
    position = fields.Integer()
    product_id = fields.UUID()
    configuration = fields.String()
    serial_number = fields.String()
    quantity = fields.Integer()
    unit_price_minor = fields.Integer()
    channel = fields.Enum(SalesChannel, by_value=True)
    sale_date = fields.Date()
    production_date = fields.Date()
    ship_date = fields.Date()


class ContractInSchema(StrictSchema):
    id = fields.UUID()
    number = text(60, required=True)
    customer_id = fields.UUID(required=True)
    signed_on = fields.Date(required=True)
    currency = currency()
    notes = text(4000, allow_none=True)
    lines = fields.List(fields.Nested(ContractLineInSchema), validate=validate.Length(max=500))


class ContractUpdateSchema(StrictSchema):
    number = text(60)
    signed_on = fields.Date()
    currency = currency()
    notes = text(4000, allow_none=True)


class ContractSchema(Schema):
    id = fields.UUID()
    number = fields.String()
    customer_id = fields.UUID()
    signed_on = fields.Date()
    currency = fields.String()
    notes = fields.String()
    status = fields.Enum(ContractStatus, by_value=True)
    ended_on = fields.Date()
    end_reason = fields.String()
    lines = fields.List(fields.Nested(ContractLineSchema))
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class ContractQuerySchema(PageArgsSchema):
    customer_id = fields.UUID()
    number = text(60)
    serial_number = text(100)


class ContractEndSchema(StrictSchema):
    status = fields.Enum(ContractStatus, by_value=True, required=True, validate=validate.OneOf(
        [ContractStatus.ENDED, ContractStatus.CANCELLED]), metadata={"description": "ended or cancelled"})
    ended_on = fields.Date(metadata={"description": "Last day of the contract (default today)"})
    reason = text(500, required=True)
