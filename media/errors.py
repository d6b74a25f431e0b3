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
