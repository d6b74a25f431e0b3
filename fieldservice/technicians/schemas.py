"""Technician and certification schemas."""
from __future__ import annotations

from marshmallow import Schema, fields

from fieldservice.common.schemas import PageArgsSchema, StrictSchema, aware_datetime, text


class TechnicianInSchema(StrictSchema):
    id = fields.UUID()
    user_id = fields.UUID(allow_none=True, metadata={"description": "The technician's login (role technician)"})
    name = text(120, required=True)
    phone = text(40, allow_none=True)
    home_base = text(200, allow_none=True)


class TechnicianUpdateSchema(StrictSchema):
    user_id = fields.UUID(allow_none=True)
    name = text(120)
    phone = text(40, allow_none=True)
    home_base = text(200, allow_none=True)
    is_active = fields.Boolean()


class CertificationInSchema(StrictSchema):
    id = fields.UUID()
    product_line_id = fields.UUID(required=True)
    certificate_number = text(60, allow_none=True)
    issued_on = fields.Date(required=True)
    expires_on = fields.Date(required=True)


class CertificationSchema(Schema):
    id = fields.UUID()
    technician_id = fields.UUID()
    product_line_id = fields.UUID()
    certificate_number = fields.String()
    issued_on = fields.Date()
    expires_on = fields.Date()
    revoked_at = fields.AwareDateTime()


class TechnicianSchema(Schema):
    id = fields.UUID()
    user_id = fields.UUID()
    name = fields.String()
    phone = fields.String()
    home_base = fields.String()
    is_active = fields.Boolean()
    certifications = fields.List(fields.Nested(CertificationSchema))


class TechnicianQuerySchema(PageArgsSchema):
    q = text(100)
    is_active = fields.Boolean()
    product_line_id = fields.UUID(metadata={"description": "Only technicians certified for this line"})
    certified_on = aware_datetime(metadata={"description": "Day the certification must be valid (default today)"})
