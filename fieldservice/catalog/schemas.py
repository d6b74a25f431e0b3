"""Product line and product schemas."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from fieldservice.common.schemas import PageArgsSchema, StrictSchema, text


class ProductLineInSchema(StrictSchema):
    id = fields.UUID()
    code = text(40, required=True)
    name = text(200, required=True)
    description = text(4000, allow_none=True)


class ProductLineUpdateSchema(StrictSchema):
    code = text(40)
    name = text(200)
    description = text(4000, allow_none=True)


class ProductLineSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    name = fields.String()
    description = fields.String()


class ProductInSchema(StrictSchema):
    id = fields.UUID()
    product_line_id = fields.UUID(required=True)
    model_code = text(80, required=True)
    name = text(200, required=True)
    description = text(4000, allow_none=True)
    warranty_months = fields.Integer(strict=True, validate=validate.Range(min=0, max=240))


class ProductUpdateSchema(StrictSchema):
    product_line_id = fields.UUID()
    model_code = text(80)
    name = text(200)
    description = text(4000, allow_none=True)
    warranty_months = fields.Integer(strict=True, validate=validate.Range(min=0, max=240))
    is_active = fields.Boolean()


class ProductSchema(Schema):
    id = fields.UUID()
    product_line_id = fields.UUID()
    model_code = fields.String()
    name = fields.String()
    description = fields.String()
    warranty_months = fields.Integer()
    is_active = fields.Boolean()


class ProductQuerySchema(PageArgsSchema):
    product_line_id = fields.UUID()
    q = text(100, metadata={"description": "Matches model code or name"})
