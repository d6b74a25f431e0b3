"""Auth and user schemas."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from fieldservice.auth.models import Role
from fieldservice.common.schemas import PageArgsSchema, StrictSchema, text


class TokenRequestSchema(StrictSchema):
    username = text(80, required=True)
    password = fields.String(required=True, validate=validate.Length(min=1, max=200), load_only=True)
    label = text(120, metadata={"description": "Device or purpose, shown in token lists"})


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_at = fields.AwareDateTime()


class UserInSchema(StrictSchema):
    id = fields.UUID()
    username = fields.String(required=True, validate=[
        validate.Length(min=3, max=80),
        validate.Regexp(r"^[A-Za-z0-9_.@-]+$", error="letters, digits and _ . @ - only")])
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=10, max=200))
    role = fields.Enum(Role, by_value=True, required=True)
    display_name = text(120)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    customer_id = fields.UUID(allow_none=True, metadata={"description": "Required for role customer"})
    supervisor_id = fields.UUID(allow_none=True, metadata={
        "description": "An office, admin or dispatcher login; SLA breaches of this user's work orders "
                       "escalate to it (R-SLA-2)"})


class UserUpdateSchema(StrictSchema):
    display_name = text(120)
    email = fields.Email(allow_none=True, validate=validate.Length(max=254))
    password = fields.String(load_only=True, validate=validate.Length(min=10, max=200))
    is_active = fields.Boolean(metadata={"description": "false disables the login and revokes its tokens"})
    supervisor_id = fields.UUID(allow_none=True, metadata={
        "description": "An office, admin or dispatcher login (null clears it); cycles are refused"})


class UserSchema(Schema):
    id = fields.UUID()
    username = fields.String()
    display_name = fields.String()
    email = fields.String()
    role = fields.Enum(Role, by_value=True)
    is_active = fields.Boolean()
    customer_id = fields.UUID()
    supervisor_id = fields.UUID()
    created_at = fields.AwareDateTime()


class MeSchema(Schema):
    user_id = fields.UUID()
    role = fields.Enum(Role, by_value=True)
    display_name = fields.String()
    technician_id = fields.UUID()
    customer_id = fields.UUID()


class UserQuerySchema(PageArgsSchema):
    role = fields.Enum(Role, by_value=True)
    is_active = fields.Boolean()
