"""Audit trail schemas."""
from __future__ import annotations

from marshmallow import Schema, fields


class AuditEventSchema(Schema):
    id = fields.UUID()
    at = fields.AwareDateTime()
    actor_user_id = fields.UUID()
    actor_role = fields.String()
    actor_name = fields.String()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.UUID()
    details = fields.Dict()


