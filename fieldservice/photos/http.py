"""HTTP glue for photos: tus 1.0 request headers in, tus response headers out, and serving stored bytes
(streamed from local storage, or a redirect to a short-lived signed URL)."""
from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import marshmallow as ma
from flask import Response, redirect, request, send_file

from fieldservice.errors import ValidationFailed
from fieldservice.photos.adapters import MediaSettings
from fieldservice.photos.models import Upload
from fieldservice.photos.schemas import UploadMetadataSchema
from fieldservice.photos.service import ChunkOutcome, PhotoContent
from media.errors import BlobNotFound, TusVersionUnsupported, UploadContentTypeInvalid, UploadHeaderInvalid
from media.storage import Storage, content_disposition, iter_stream
from media.uploads import (
    CHECKSUM_ALGORITHMS,
    TUS_EXTENSIONS,
    TUS_VERSION,
    parse_checksum,
    parse_length,
    parse_metadata,
)

CHUNK_CONTENT_TYPE = "application/offset+octet-stream"
UPLOADS_PATH = "/api/v1/uploads"
OVERRIDABLE_METHODS = frozenset({"PATCH", "DELETE", "HEAD"})


class TusMethodOverride:
    """WSGI middleware: a POST to an upload's URL with `X-HTTP-Method-Override: PATCH` (or DELETE, HEAD) is that
    method (tus core; tus-js-client's `overridePatchMethod` for proxies that drop PATCH). Only under
    /api/v1/uploads/, so no other endpoint (nor a page's form) can change its method this way."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        override = environ.get("HTTP_X_HTTP_METHOD_OVERRIDE", "").strip().upper()
        if override and environ.get("REQUEST_METHOD") == "POST" and override in OVERRIDABLE_METHODS \
                and environ.get("PATH_INFO", "").startswith(UPLOADS_PATH + "/"):
            environ["REQUEST_METHOD"] = override
        return self.wsgi_app(environ, start_response)


def tus_resumable_everywhere(response: Response) -> Response:
    """`Tus-Resumable` on every response under /api/v1/uploads, including those no upload view made (a 404 for
    an unknown URL, a 405 for a method the URL does not take): tus clients check it on each answer."""
    if request.path == UPLOADS_PATH or request.path.startswith(UPLOADS_PATH + "/"):
        response.headers["Tus-Resumable"] = TUS_VERSION
    return response


def http_date(value: datetime) -> str:
    """RFC 9110 date, as tus's Upload-Expires wants it."""
    return format_datetime(value.astimezone(UTC), usegmt=True)


def require_tus_resumable() -> None:
    version = request.headers.get("Tus-Resumable")
    if version != TUS_VERSION:
        raise TusVersionUnsupported(f"send 'Tus-Resumable: {TUS_VERSION}' (got {version or 'nothing'})",
                                    supported=[TUS_VERSION])


def finish_tus_response(response: Response) -> Response:
    response.headers["Tus-Resumable"] = TUS_VERSION
    if response.status_code == 412:
        response.headers["Tus-Version"] = TUS_VERSION
    if response.status_code == 460:
        response.status = "460 Checksum Mismatch"
    return response


def _empty(status: int, headers: dict[str, str]) -> Response:
    response = Response(status=status, headers=headers)
    del response.headers["Content-Type"]  # no body, no type
    return response


def no_content() -> Response:
    return _empty(204, {})


def options_response(settings: MediaSettings) -> Response:
    return _empty(204, {
        "Tus-Version": TUS_VERSION,
        "Tus-Extension": ",".join(TUS_EXTENSIONS),
        "Tus-Max-Size": str(settings.max_upload_bytes),
        "Tus-Checksum-Algorithm": ",".join(CHECKSUM_ALGORITHMS),
    })


def creation_request() -> tuple[int, dict[str, Any], str | None]:
    """(Upload-Length, validated metadata, raw Upload-Metadata) of a tus creation request."""
    if "Upload-Defer-Length" in request.headers:
        raise UploadHeaderInvalid("Upload-Defer-Length is not supported: send Upload-Length", header="Upload-Defer-Length")
    length = parse_length(request.headers.get("Upload-Length"), "Upload-Length")
    raw = request.headers.get("Upload-Metadata")
    try:
        data = UploadMetadataSchema().load(parse_metadata(raw))
    except ma.ValidationError as err:
        raise ValidationFailed("Upload-Metadata has invalid values; see `errors`",
                               errors={"metadata": err.messages}) from None
    return length, data, raw


def chunk_request() -> dict[str, Any]:
    """The parts of a tus PATCH the service needs; the body stays a stream."""
    if request.mimetype != CHUNK_CONTENT_TYPE:
        raise UploadContentTypeInvalid(f"send chunks as Content-Type: {CHUNK_CONTENT_TYPE}")
    return {
        "offset": parse_length(request.headers.get("Upload-Offset"), "Upload-Offset"),
        "checksum": parse_checksum(request.headers.get("Upload-Checksum")),
        "content_length": request.content_length,
        "stream": request.stream,
    }


def upload_location(upload_id: Any) -> str:
    return f"{request.script_root}/api/v1/uploads/{upload_id}"


def creation_headers(upload: Upload) -> dict[str, str]:
    return {"Location": upload_location(upload.id), "Upload-Offset": "0",
            "Upload-Expires": http_date(upload.expires_at)}


def head_response(upload: Upload, offset: int) -> Response:
    headers = {"Upload-Offset": str(offset), "Upload-Length": str(upload.upload_length),
               "Upload-Expires": http_date(upload.expires_at), "Cache-Control": "no-store",
               "Photo-Id": str(upload.photo_id)}
    if upload.raw_metadata:
        headers["Upload-Metadata"] = upload.raw_metadata
    return _empty(200, headers)


def patch_response(outcome: ChunkOutcome) -> Response:
    headers = {"Upload-Offset": str(outcome.offset)}
    if outcome.expires_at is not None:
        headers["Upload-Expires"] = http_date(outcome.expires_at)
    if outcome.photo_id is not None:
        headers["Photo-Id"] = str(outcome.photo_id)
        headers["Photo-Url"] = f"{request.script_root}/api/v1/photos/{outcome.photo_id}"
        if outcome.photo_status is not None:
            headers["Photo-Status"] = outcome.photo_status.value
    return _empty(204, headers)


def send_content(storage: Storage, content: PhotoContent) -> Response:
    """Stream local bytes (ETag, conditional GET) or redirect to a signed URL the storage hands out."""
    url = storage.url(content.key, expires_in=content.expires_in, filename=content.download_name,
                      content_type=content.content_type)
    if url is not None:
        response = redirect(url, code=302)
        response.headers["Cache-Control"] = "no-store"  # the URL expires; never cache the redirect
        return response
    path_for = getattr(storage, "path_for", None)
    if path_for is not None:
        path = path_for(content.key)
        if not path.is_file():
            raise BlobNotFound(f"the stored file of this photo is missing ({content.key})")
        response = send_file(path, mimetype=content.content_type, etag=content.etag,
                             conditional=True, max_age=content.expires_in, download_name=content.download_name)
    else:  # another backend that cannot sign URLs: stream it through the app
        response = Response(iter_stream(storage.open(content.key)), mimetype=content.content_type,
                            headers={"ETag": f'"{content.etag}"'})
    response.headers["Content-Disposition"] = content_disposition(content.download_name)
    response.headers["Cache-Control"] = f"private, max-age={content.expires_in}"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
