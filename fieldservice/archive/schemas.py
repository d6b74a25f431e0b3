"""Archive API schemas (R-ARC-1..3)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from fieldservice.archive.models import ENTITY_TYPES, VIA
from fieldservice.common.schemas import PageArgsSchema, page_of, text


class SearchArgsSchema(PageArgsSchema):
    q = text(200, required=True, metadata={"description": "Customer name (Chinese too), phone, serial number, "
                                                          "model code or product name; substring, any case"})


class SearchHitSchema(Schema):
    customer_id = fields.String()
    customer_name = fields.String()
    phone = fields.String()
    asset_id = fields.String()
    serial_number = fields.String()
    model_code = fields.String()
    product_name = fields.String()
    install_date = fields.String()


class ArchiveRecordSchema(Schema):
    id = fields.String()
    root_id = fields.String()
    version_no = fields.Integer()
    previous_version_id = fields.String()
    kind = fields.String()
    status = fields.String()
    content = fields.Dict()
    content_sha256 = fields.String()
    signed_at = fields.String()
    created_at = fields.String()
    work_order = fields.Dict()
    visit = fields.Dict()
    technician = fields.Dict()
    customer = fields.Dict()
    photos = fields.List(fields.Dict(), metadata={"description": "Bytes: GET /api/v1/photos/{id}/content"})
    parts_replaced = fields.List(fields.Dict(), metadata={"description": "From a repair record's content"})
    signoff = fields.Dict(metadata={"description": "Signer, time, hash; signature_png (base64) on the record view"})
    versions = fields.List(fields.Dict())




RecordPageSchema = page_of(ArchiveRecordSchema)


class CustomerArchiveSchema(Schema):
    customer = fields.Dict()
    contacts = fields.List(fields.Dict())
    assets = fields.List(fields.Dict())
    contracts = fields.List(fields.Dict())
    visits = fields.List(fields.Dict())
    records = fields.Nested(RecordPageSchema)


class AssetArchiveSchema(Schema):
    assets = fields.List(fields.Dict())
    contracts = fields.List(fields.Dict())
    visits = fields.List(fields.Dict())
    records = fields.Nested(RecordPageSchema)


class ReadQuerySchema(PageArgsSchema):
    entity_type = fields.String(validate=validate.OneOf(ENTITY_TYPES))
    entity_id = text(200)
    actor_user_id = fields.UUID()
    via = fields.String(validate=validate.OneOf(VIA))


class ArchiveReadSchema(Schema):
    id = fields.UUID()
    at = fields.AwareDateTime()
    actor_user_id = fields.UUID()
    actor_name = fields.String()
    actor_role = fields.String()
    entity_type = fields.String()
    entity_id = fields.String()
    via = fields.String()
