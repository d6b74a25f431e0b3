"""Team schemas."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from fieldservice.common.schemas import PageArgsSchema, StrictSchema, text


class TeamInSchema(StrictSchema):
    id = fields.UUID()
    name = text(120, required=True)
    is_active = fields.Boolean()
    technician_ids = fields.List(fields.UUID(), validate=validate.Length(max=200), load_default=list, metadata={
        "description": "Members, in the order generation tries them"})


class TeamUpdateSchema(StrictSchema):
    name = text(120)
    is_active = fields.Boolean()
    technician_ids = fields.List(fields.UUID(), validate=validate.Length(max=200))


class TeamSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    is_active = fields.Boolean()
    technician_ids = fields.Method("_technician_ids")
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()

    def _technician_ids(self, team: object) -> list[str]:
        return [str(m.technician_id) for m in team.members]  # type: ignore[attr-defined]


class TeamQuerySchema(PageArgsSchema):
    q = text(120, metadata={"description": "Part of the name"})
