"""Photo and upload schemas: tus Upload-Metadata, the multipart form, query arguments and output."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import Schema, fields, validate

from fieldservice.common.schemas import PageArgsSchema, StrictSchema, aware_datetime, text
from fieldservice.photos.models import PhotoKind, PhotoStatus, Variant


class _PhotoInfo(Schema):
    """What the client says about a photo (tus Upload-Metadata values or multipart form fields)."""

    visit_id = fields.UUID(metadata={"description": "The visit the photo was taken on (or give work_order_id)"})
    work_order_id = fields.UUID(metadata={"description": "The work order, when the photo belongs to no visit"})
    record_id = fields.UUID(metadata={"description": "The service record it documents (optional)"})
    damage_claim_id = fields.UUID(metadata={"description": "R-INS-2: the carrier claim (kind packaging_damage)"})
    kind = fields.Enum(PhotoKind, by_value=True, required=True)
    captured_at = aware_datetime(metadata={"description": "Device time the photo was taken, with offset"})
    filename = text(255)
    photo_id = fields.UUID(metadata={"description": "The phone's own id for the photo (idempotent retries)"})
    latitude = fields.Float(validate=validate.Range(min=-90, max=90), allow_nan=False,
                            metadata={"description": "Device position, used when the image has no GPS EXIF"})
    longitude = fields.Float(validate=validate.Range(min=-180, max=180), allow_nan=False)

    @ma.validates_schema
    def _target(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data.get("visit_id") and not data.get("work_order_id"):
            raise ma.ValidationError("visit_id or work_order_id is required", field_name="visit_id")
        if (data.get("latitude") is None) != (data.get("longitude") is None):
            raise ma.ValidationError("give latitude and longitude together", field_name="latitude")


class UploadMetadataSchema(_PhotoInfo):
    """Upload-Metadata of a tus upload. Keys this service does not use (tus clients add their own) are
    ignored. `filetype` (tus-js-client's name) and `content_type` both declare the file's type."""

    class Meta:
        unknown = ma.EXCLUDE

    filetype = text(100)
    content_type = text(100)

    @ma.post_load
    def _content_type(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        declared = data.pop("content_type", None) or data.pop("filetype", None)
        data.pop("filetype", None)
        if declared:
            data["content_type"] = declared
        return data


class PhotoFormSchema(_PhotoInfo, StrictSchema):
    """The fields of a multipart photo upload (besides `file`)."""

    class Meta:
        unknown = ma.RAISE


class PhotoFileSchema(Schema):
    class Meta:
        unknown = ma.RAISE

    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary",
                                               "description": "The image (JPEG, PNG, WebP, HEIC)"})


class PhotoQuerySchema(PageArgsSchema):
    visit_id = fields.UUID()
    work_order_id = fields.UUID()
    kind = fields.Enum(PhotoKind, by_value=True)
    status = fields.Enum(PhotoStatus, by_value=True)
    record_id = fields.UUID()
    damage_claim_id = fields.UUID()


class ContentQuerySchema(StrictSchema):
    variant = fields.Enum(Variant, by_value=True, load_default=Variant.DISPLAY,
                          metadata={"description": "original (staff only; with EXIF/GPS), display (no metadata), "
                                                   "thumb-256, thumb-1280"})


class PhotoSchema(Schema):
    id = fields.UUID()
    work_order_id = fields.UUID()
    visit_id = fields.UUID(allow_none=True)
    record_id = fields.UUID(allow_none=True)
    damage_claim_id = fields.UUID(allow_none=True)
    kind = fields.Enum(PhotoKind, by_value=True)
    status = fields.Enum(PhotoStatus, by_value=True)
    width = fields.Integer()
    height = fields.Integer()
    captured_at = fields.AwareDateTime(allow_none=True)
    created_at = fields.AwareDateTime(metadata={"description": "Server receive time"})
    variants = fields.List(fields.String(), metadata={"description": "Variants the caller may download"})
    # staff only (absent for customers)
    content_type = fields.String()
    declared_content_type = fields.String(allow_none=True)
    size_bytes = fields.Integer()
    sha256 = fields.String()
    filename = fields.String(allow_none=True)
    exif_captured_at = fields.AwareDateTime(allow_none=True)
    exif_captured_local = fields.String(allow_none=True, metadata={"description": "EXIF wall clock, zone unknown"})
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    processing_error = fields.String(allow_none=True)
    processed_at = fields.AwareDateTime(allow_none=True)
    uploaded_by_user_id = fields.UUID(allow_none=True)
    technician_id = fields.UUID(allow_none=True)
    updated_at = fields.AwareDateTime()


class UploadSchema(Schema):
    id = fields.UUID()
    photo_id = fields.UUID(metadata={"description": "The photo this upload creates when complete"})
    work_order_id = fields.UUID()
    visit_id = fields.UUID(allow_none=True)
    kind = fields.Enum(PhotoKind, by_value=True)
    upload_length = fields.Integer()
    upload_offset = fields.Integer()
    expires_at = fields.AwareDateTime()
