"""Errors raised by the media package; the fieldservice app maps them to problem responses."""
from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


class MediaError(Exception):
    """Base of every media error. `status`, `code` and `title` mirror fieldservice's DomainError."""

    status: int = 400
    code: str = "media_error"
    title: str = "Media refused"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class UnsupportedImageType(MediaError):
    """A real image, but in a format we do not accept (GIF, BMP, TIFF...)."""

    status, code, title = 415, "unsupported_image_type", "Unsupported image type"


class NotAnImage(UnsupportedImageType):
    """The bytes are not an image Pillow can identify, whatever the file name or content type says."""

    code, title = "not_an_image", "Not an image"


class ImageTooLarge(MediaError):
    """Too many pixels to decode safely (decompression bomb guard)."""

    status, code, title = 422, "image_too_large", "Image too large"


class CorruptImage(MediaError):
    """The header is an accepted format but the data is truncated or does not decode."""

    status, code, title = 422, "corrupt_image", "Corrupt image"


class InvalidMediaKey(MediaError, ValueError):
    """A storage key or SHA-256 that does not follow the content-addressed layout."""

    status, code, title = 400, "invalid_media_key", "Invalid media key"


class BlobNotFound(MediaError, KeyError):
    """No blob is stored under the key."""

    status, code, title = 404, "blob_not_found", "Media not found"

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message.
        return self.detail


class DeclaredTypeMismatch(UnsupportedImageType):
    """The bytes are an accepted image, but not of the type the client declared (a PNG named `.jpg`)."""

    code, title = "content_type_mismatch", "Content type does not match the file"


# --- resumable uploads (tus 1.0) -------------------------------------------------------------------------


class UploadHeaderInvalid(MediaError):
    """A tus header is missing or malformed (Upload-Length, Upload-Offset, Upload-Metadata, ...)."""

    status, code, title = 400, "invalid_upload_header", "Invalid upload header"


class ChecksumAlgorithmUnsupported(UploadHeaderInvalid):
    code, title = "checksum_algorithm_unsupported", "Checksum algorithm not supported"


class TusVersionUnsupported(MediaError):
    """Tus-Resumable is missing or names a protocol version we do not speak."""

    status, code, title = 412, "tus_version_unsupported", "Unsupported tus version"


class UploadContentTypeInvalid(MediaError):
    """A PATCH chunk must be sent as `application/offset+octet-stream`."""

    status, code, title = 415, "invalid_chunk_content_type", "Chunk content type must be application/offset+octet-stream"


class OffsetMismatch(MediaError):
    """The chunk does not start where the upload stands (the client must HEAD and resume)."""

    status, code, title = 409, "offset_mismatch", "Upload offset mismatch"


class ChecksumMismatch(MediaError):
    """The chunk's bytes do not match its Upload-Checksum; the chunk was discarded (tus: 460)."""

    status, code, title = 460, "checksum_mismatch", "Checksum mismatch"


class UploadTooLarge(MediaError):
    """More bytes than the configured maximum, or than the upload declared."""

    status, code, title = 413, "upload_too_large", "Upload too large"


class UploadLocked(MediaError):
    """Another request is writing to the same upload right now."""

    status, code, title = 423, "upload_locked", "Upload busy"


class ChunkInterrupted(MediaError):
    """The connection ended before the chunk was complete. Without a checksum the bytes received are kept."""

    status, code, title = 400, "chunk_interrupted", "Chunk interrupted"
