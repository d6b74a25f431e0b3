"""Notification outbox schemas (the office's list)."""
from __future__ import annotations

from marshmallow import Schema, fields

from fieldservice.common.schemas import PageArgsSchema, text
from fieldservice.notifications.models import Channel, NotificationStatus


class NotificationQuerySchema(PageArgsSchema):
    status = fields.Enum(NotificationStatus, by_value=True)
    kind = text(60, metadata={"description": "e.g. sla.breach, visit.unconfirmed"})
    channel = fields.Enum(Channel, by_value=True)


class NotificationSchema(Schema):
    id = fields.UUID()
    kind = fields.String()
    channel = fields.Enum(Channel, by_value=True)
    recipient = fields.String()
    subject = fields.String()
    payload = fields.Dict()
    dedupe_key = fields.String(allow_none=True)
    status = fields.Enum(NotificationStatus, by_value=True)
    attempts = fields.Integer()
    next_attempt_at = fields.AwareDateTime()
    lease_expires_at = fields.AwareDateTime(allow_none=True)
    last_error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)
    subject_type = fields.String(allow_none=True)
    subject_id = fields.UUID(allow_none=True)
