"""Signing-link input and output, and the body the signing page posts."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from fieldservice.common.schemas import StrictSchema, aware_datetime, text
from fieldservice.records.labels import LANGUAGES
from fieldservice.records.schemas import HEX64, PointSchema


class SigningLinkCreateSchema(StrictSchema):
    language = fields.String(validate=validate.OneOf(LANGUAGES),
                             metadata={"description": "zh or en (default: the customer's preferred language)"})
    expires_in_hours = fields.Integer(strict=True, validate=validate.Range(min=1, max=720),
                                      metadata={"description": "Default SIGNING_LINK_TTL_HOURS (72)"})


class SigningLinkSchema(Schema):
    id = fields.UUID()
    record_id = fields.UUID()
    language = fields.String()
    created_at = fields.AwareDateTime()
    expires_at = fields.AwareDateTime()
    used_at = fields.AwareDateTime()
    url = fields.String(metadata={"description": "The link to give the customer. Shown only in this answer: the "
                                                 "server keeps only the token's SHA-256"})


class PageSignSchema(StrictSchema):
    """What the signing page posts (JSON from its script, or the HTML form without script)."""

    content_sha256 = fields.String(required=True, validate=validate.Regexp(HEX64, error="64 lowercase hex digits"))
    signer_name = text(120, required=True)
    signature_png = fields.String(validate=validate.Length(min=1, max=700_000),
                                  metadata={"description": "base64 PNG (a data: URL prefix is accepted)"})
    strokes = fields.List(fields.List(fields.Nested(PointSchema), validate=validate.Length(min=1, max=5000)),
                          validate=validate.Length(min=1, max=500))
    device_time = aware_datetime(allow_none=True)
    lang = fields.String(validate=validate.OneOf(LANGUAGES))
