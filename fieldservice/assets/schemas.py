"""Asset schemas."""
from __future__ import annotations

from marshmallow import Schema, fields

from fieldservice.assets.models import AssetStatus
from fieldservice.common.schemas import PageArgsSchema, StrictSchema, text


class AssetInSchema(StrictSchema):
    id = fields.UUID()
    customer_id = fields.UUID(required=True)
    site_id = fields.UUID(required=True)
    product_id = fields.UUID(required=True)
    contract_line_id = fields.UUID(allow_none=True)
    serial_number = text(100, required=True)
    status = fields.Enum(AssetStatus, by_value=True)
    install_date = fields.Date(allow_none=True)
    warranty_start = fields.Date(allow_none=True)
    warranty_end = fields.Date(allow_none=True, metadata={
        "description": "Defaults to warranty_start plus the product's warranty months"})
    notes = text(4000, allow_none=True)


class AssetUpdateSchema(StrictSchema):
    site_id = fields.UUID()
    serial_number = text(100)
    status = fields.Enum(AssetStatus, by_value=True)
    install_date = fields.Date(allow_none=True)
    warranty_start = fields.Date(allow_none=True)
    warranty_end = fields.Date(allow_none=True)
    notes = text(4000, allow_none=True)


class AssetSchema(Schema):
    id = fields.UUID()
    customer_id = fields.UUID()
    site_id = fields.UUID()
    product_id = fields.UUID()
    contract_line_id = fields.UUID()
    serial_number = fields.String()
    status = fields.Enum(AssetStatus, by_value=True)
    install_date = fields.Date()
    warranty_start = fields.Date()
    warranty_end = fields.Date()
    notes = fields.String()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class AssetQuerySchema(PageArgsSchema):
    customer_id = fields.UUID()
    site_id = fields.UUID()
    product_id = fields.UUID()
    serial_number = text(100, metadata={"description": "Substring of the serial number"})


class AssetRetireSchema(StrictSchema):
    reason = text(500, required=True, metadata={"description": "Why the unit leaves service (sold, scrapped, ...)"})
