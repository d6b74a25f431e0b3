"""Customer, contact and site schemas (input separate from output)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from fieldservice.common.schemas import PageArgsSchema, StrictSchema, text

LANGUAGES = ("zh", "en")


class ContactInSchema(StrictSchema):
    id = fields.UUID(metadata={"description": "Client-generated id (optional)"})
    name = text(120, required=True)
    title = text(80, allow_none=True)
    phone = text(40, allow_none=True)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    is_primary = fields.Boolean(load_default=False)


class ContactUpdateSchema(ContactInSchema):
    class Meta:
        exclude = ("id",)


class ContactSchema(Schema):
    id = fields.UUID()
    customer_id = fields.UUID()
    name = fields.String()
    title = fields.String()
    phone = fields.String()
    email = fields.String()
    is_primary = fields.Boolean()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class SiteInSchema(StrictSchema):
    id = fields.UUID()
    name = text(200, required=True)
    address = text(300, required=True)
    city = text(100, allow_none=True)
    region = text(100, allow_none=True)
    postal_code = text(20, allow_none=True)
    country = fields.String(validate=validate.Regexp(r"^[A-Z]{2}$", error="ISO 3166-1 alpha-2 code, e.g. CN"))
    timezone = text(64)
    latitude = fields.Float(allow_none=True, validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(allow_none=True, validate=validate.Range(min=-180, max=180))
    access_notes = text(4000, allow_none=True)
    is_active = fields.Boolean()


class SiteUpdateSchema(SiteInSchema):
    class Meta:
        exclude = ("id",)


class SiteSchema(Schema):
    id = fields.UUID()
    customer_id = fields.UUID()
    name = fields.String()
    address = fields.String()
    city = fields.String()
    region = fields.String()
    postal_code = fields.String()
    country = fields.String()
    timezone = fields.String()
    latitude = fields.Float()
    longitude = fields.Float()
    access_notes = fields.String()
    is_active = fields.Boolean()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class CustomerInSchema(StrictSchema):
    id = fields.UUID(metadata={"description": "Client-generated id (optional)"})
    name = text(200, required=True)
    phone = text(40, allow_none=True)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    preferred_language = fields.String(validate=validate.OneOf(LANGUAGES))
    notes = text(4000, allow_none=True)
    contacts = fields.List(fields.Nested(ContactInSchema), validate=validate.Length(max=50))
    sites = fields.List(fields.Nested(SiteInSchema), validate=validate.Length(max=50))


class CustomerUpdateSchema(StrictSchema):
    name = text(200)
    phone = text(40, allow_none=True)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    preferred_language = fields.String(validate=validate.OneOf(LANGUAGES))
    notes = text(4000, allow_none=True)
    is_active = fields.Boolean()


class CustomerSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    phone = fields.String()
    email = fields.String()
    preferred_language = fields.String()
    notes = fields.String()
    is_active = fields.Boolean()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class CustomerDetailSchema(CustomerSchema):
    contacts = fields.List(fields.Nested(ContactSchema))
    sites = fields.List(fields.Nested(SiteSchema))


class CustomerQuerySchema(PageArgsSchema):
    q = text(100, metadata={"description": "Matches name, phone or e-mail"})
    is_active = fields.Boolean()


class SiteQuerySchema(PageArgsSchema):
    customer_id = fields.UUID()
    q = text(100, metadata={"description": "Matches name, address or city"})
