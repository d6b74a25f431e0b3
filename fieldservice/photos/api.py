"""Photo endpoints: resumable uploads (tus 1.0), multipart upload, listing, metadata and downloads."""
from __future__ import annotations

import uuid
from typing import Any

from flask import Response, request
from flask.views import MethodView

from fieldservice.auth.decorators import BACK_OFFICE, current_actor, public, requires
from fieldservice.auth.models import Role
from fieldservice.common.blueprint import Blueprint
from fieldservice.common.schemas import page_of
from fieldservice.db import unit_of_work
from fieldservice.photos import http, service
from fieldservice.photos.adapters import current_media
from fieldservice.photos.schemas import (
    ContentQuerySchema,
    PhotoFileSchema,
    PhotoFormSchema,
    PhotoQuerySchema,
    PhotoSchema,
    UploadSchema,
)

UPLOADERS = (Role.TECHNICIAN, Role.DISPATCHER, Role.ADMIN)
READERS = (*BACK_OFFICE, Role.TECHNICIAN, Role.CUSTOMER)
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and the small form fields around the file

uploads_blp = Blueprint(
    "uploads", __name__, url_prefix="/api/v1",
    description="Resumable photo uploads: tus 1.0 core with the creation, checksum (sha1, sha256), expiration and "
                "termination extensions. Every request except OPTIONS sends `Tus-Resumable: 1.0.0`; every response "
                "carries it. Clients behind proxies that drop PATCH send POST with `X-HTTP-Method-Override: "
                "PATCH`. See docs/media.md.")
photos_blp = Blueprint("photos", __name__, url_prefix="/api/v1",
                       description="Photos from the field: metadata, downloads, small multipart uploads")


@uploads_blp.before_request
def _tus_request() -> None:
    if request.method != "OPTIONS":
        http.require_tus_resumable()
    if request.method == "PATCH":
        # a chunk may be the whole file: the 2 MB JSON limit does not apply (the upload's length does)
        request.max_content_length = current_media().settings.max_upload_bytes


@uploads_blp.after_request
def _tus_response(response: Response) -> Response:
    return http.finish_tus_response(response)


uploads_blp.after_app_request(http.tus_resumable_everywhere)
uploads_blp.record_once(lambda state: setattr(state.app, "wsgi_app", http.TusMethodOverride(state.app.wsgi_app)))


@photos_blp.before_request
def _form_limit() -> None:
    if request.method == "POST":
        request.max_content_length = current_media().settings.max_form_bytes + FORM_OVERHEAD


@uploads_blp.route("/uploads")
class Uploads(MethodView):
    @public
    @uploads_blp.response(204, description="Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm")
    def options(self) -> Any:
        """What this tus server supports (no token needed: it reveals only limits)."""
        return http.options_response(current_media().settings)

    @requires(*UPLOADERS)
    @uploads_blp.response(201, UploadSchema, description="Created; `Location` is the upload URL")
    @uploads_blp.alt_response(413, description="Upload-Length above the maximum, or the session quota exceeded")
    @uploads_blp.alt_response(415, description="The declared type is not an accepted image type")
    @uploads_blp.alt_response(422, description="Bad Upload-Metadata, or a visit/work order that is not yours")
    def post(self) -> Any:
        """Create an upload for one photo (tus creation).

        Headers: `Upload-Length` (bytes), `Upload-Metadata` (comma-separated `key base64(value)`):
        `visit_id` or `work_order_id`, `kind` (packaging_damage, installed_unit, fault, replaced_part,
        finished_work, other), optional `photo_id` (the phone's UUID for the photo), `captured_at`
        (ISO 8601 with offset), `filename`, `filetype`/`content_type`, `record_id`, `damage_claim_id`,
        `latitude`/`longitude`. Technicians upload only to their own visits."""
        length, data, raw = http.creation_request()
        media = current_media()
        with unit_of_work():
            upload = service.create_upload(current_actor(), data, length=length, raw_metadata=raw, media=media)
        return upload, 201, http.creation_headers(upload)


@uploads_blp.route("/uploads/<uuid:upload_id>")
class UploadItem(MethodView):
    @requires(*UPLOADERS)
    @uploads_blp.response(200, description="Upload-Offset, Upload-Length, Upload-Expires; Cache-Control: no-store")
    @uploads_blp.alt_response(404, description="No such upload of yours")
    @uploads_blp.alt_response(410, description="The upload expired")
    def head(self, upload_id: uuid.UUID) -> Any:
        """Where to resume: the number of bytes received (tus HEAD)."""
        upload = service.get_upload(current_actor(), upload_id)
        return http.head_response(upload, service.upload_offset(upload, current_media()))

    @requires(*UPLOADERS)
    @uploads_blp.response(204, description="Chunk stored; `Upload-Offset` is the new offset. With the last "
                                           "byte: `Photo-Id`, `Photo-Url`, `Photo-Status`")
    @uploads_blp.alt_response(409, description="Upload-Offset is not where the upload stands: HEAD, then resume")
    @uploads_blp.alt_response(413, description="The chunk goes past Upload-Length")
    @uploads_blp.alt_response(415, description="Not application/offset+octet-stream; or the finished file is "
                                               "not an accepted image, or not of its declared type")
    @uploads_blp.alt_response(422, description="The finished file is too many pixels, or corrupt")
    @uploads_blp.alt_response(423, description="Another request is writing to this upload")
    @uploads_blp.alt_response(460, description="Upload-Checksum mismatch: the chunk was discarded")
    def patch(self, upload_id: uuid.UUID) -> Any:
        """Append a chunk (tus PATCH): `Content-Type: application/offset+octet-stream`, `Upload-Offset`,
        optionally `Upload-Checksum: sha1|sha256 <base64 digest>` of the chunk. The last byte completes the
        photo: verified, stored under its SHA-256, then processed (thumbnails, copy without metadata)."""
        actor, media = current_actor(), current_media()
        chunk = http.chunk_request()
        with media.uploads.lock(upload_id), unit_of_work():
            outcome = service.receive_chunk(actor, upload_id, media=media, **chunk)
        if outcome.photo_created:
            # after the original is committed: a processing failure only marks the photo
            with unit_of_work():
                processed = service.process_new_photo(outcome.photo_id, media=media)  # type: ignore[arg-type]
                if processed is not None:
                    outcome.photo_status = processed.status
        outcome.raise_error()
        return http.patch_response(outcome)

    @requires(*UPLOADERS)
    @uploads_blp.response(204, description="Upload and its bytes removed")
    def delete(self, upload_id: uuid.UUID) -> Any:
        """Abandon an upload (tus termination). A photo it already created stays."""
        media = current_media()
        with media.uploads.lock(upload_id), unit_of_work():
            service.cancel_upload(current_actor(), upload_id, media=media)
        return http.no_content()


@photos_blp.route("/photos")
class Photos(MethodView):
    @requires(*READERS)
    @photos_blp.arguments(PhotoQuerySchema, location="query")
    @photos_blp.response(200, page_of(PhotoSchema))
    def get(self, args: dict[str, Any]) -> Any:
        """List photos. Technicians see the photos of their visits' work orders; customers the processed
        photos of their own jobs, without position data."""
        page = args.pop("page_request")
        return service.list_photos(current_actor(), page, **args)

    @requires(*UPLOADERS)
    @photos_blp.arguments(PhotoFormSchema, location="form")
    @photos_blp.arguments(PhotoFileSchema, location="files")
    @photos_blp.response(201, PhotoSchema, description="Created (200: the same photo id and bytes again)")
    @photos_blp.alt_response(413, description="Larger than MEDIA_MAX_FORM_BYTES, or the session quota exceeded")
    @photos_blp.alt_response(415, description="Not an accepted image, or not of its declared type")
    @photos_blp.alt_response(422, description="Too many pixels, corrupt, or a visit/work order that is not yours")
    def post(self, form: dict[str, Any], files: dict[str, Any]) -> Any:
        """Upload a small photo in one `multipart/form-data` request (field `file` plus the same fields as
        tus Upload-Metadata). Use tus for anything large or over a poor connection."""
        actor, media = current_actor(), current_media()
        upload = files["file"]
        with unit_of_work():
            photo, created = service.create_photo_from_file(actor, form, upload.stream, filename=upload.filename,
                                                            content_type=upload.mimetype, media=media)
            photo_id = photo.id
        if created:
            with unit_of_work():
                service.process_new_photo(photo_id, media=media)
        return service.get_photo(actor, photo_id), 201 if created else 200


@photos_blp.route("/photos/<uuid:photo_id>")
class PhotoItem(MethodView):
    @requires(*READERS)
    @photos_blp.response(200, PhotoSchema)
    def get(self, photo_id: uuid.UUID) -> Any:
        """One photo's metadata. Capture time and GPS position are shown to staff only."""
        return service.get_photo(current_actor(), photo_id)


@photos_blp.route("/photos/<uuid:photo_id>/content")
class PhotoContent(MethodView):
    @requires(*READERS)
    @photos_blp.arguments(ContentQuerySchema, location="query")
    @photos_blp.response(200, description="The image bytes (local storage), with ETag")
    @photos_blp.doc(responses={"200": {"content": {t: {"schema": {"type": "string", "format": "binary"}}
                                                   for t in ("image/jpeg", "image/png", "image/webp", "image/heic",
                                                             "image/heif")}}})
    @photos_blp.alt_response(302, description="Redirect to a short-lived signed URL (S3 storage)")
    @photos_blp.alt_response(403, description="Customers may not fetch the original (it carries GPS data)")
    @photos_blp.alt_response(409, description="That variant is not made yet (processing or failed)")
    def get(self, args: dict[str, Any], photo_id: uuid.UUID) -> Any:
        """Download a photo: `variant=display` (default; no metadata), `thumb-256`, `thumb-1280`, or
        `original` (staff only, with EXIF and GPS). Every download is logged in the archive read log
        (`photo`, R-ARC-3)."""
        media = current_media()
        with unit_of_work():
            content = service.photo_content(current_actor(), photo_id, args["variant"], media=media, log_via="api")
        return http.send_content(media.storage, content)
