"""Image types by MIME type and file name, and the check that a file is what the client said it is."""
from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import PurePosixPath

from media.errors import DeclaredTypeMismatch, UnsupportedImageType

log = logging.getLogger(__name__)

MIME_TO_FORMAT: dict[str, str] = {
    "image/jpeg": "JPEG",
    "image/jpg": "JPEG",      # not registered, but common from phone apps
    "image/pjpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/heic": "HEIF",     # iPhone photos
    "image/heif": "HEIF",
    "image/heic-sequence": "HEIF",
    "image/heif-sequence": "HEIF",
}

EXTENSION_TO_FORMAT: dict[str, str] = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".heic": "HEIF", ".heif": "HEIF", ".hif": "HEIF",
}

DEFAULT_ALLOWED_TYPES: tuple[str, ...] = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif")

# Declarations that say nothing about the type: a client that does not know sends one of these.
_UNDECLARED = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/binary"})


def normalise_mime(value: str | None) -> str:
    """`Image/JPEG; charset=x` -> `image/jpeg`."""
    return (value or "").split(";", 1)[0].strip().lower()


def formats_for(mime_types: Iterable[str]) -> frozenset[str]:
    """Pillow format names for configured MIME types. Raises ValueError for a type we cannot verify."""
    formats = set()
    for mime in mime_types:
        name = normalise_mime(mime)
        if not name:
            continue
        if name not in MIME_TO_FORMAT:
            raise ValueError(f"MEDIA_ALLOWED_TYPES: {name!r} is not a supported image type "
                             f"(supported: {', '.join(sorted(MIME_TO_FORMAT))})")
        formats.add(MIME_TO_FORMAT[name])
    if not formats:
        raise ValueError("MEDIA_ALLOWED_TYPES names no type")
    return frozenset(formats)


def declared_format(content_type: str | None, filename: str | None) -> str | None:
    """The image format the client claims, from its content type or else its file name's extension.

    Returns None when the client claims nothing (no type, `application/octet-stream`, no known extension).
    Raises UnsupportedImageType when it claims a type that is not an image we know (`text/plain`, `image/gif`).
    """
    mime = normalise_mime(content_type)
    if mime and mime not in _UNDECLARED:
        fmt = MIME_TO_FORMAT.get(mime)
        if fmt is None:
            raise UnsupportedImageType(f"{mime} is not an accepted image type", declared_type=mime)
        return fmt
    if filename:
        return EXTENSION_TO_FORMAT.get(PurePosixPath(filename.replace("\\", "/")).suffix.lower())
    return None


def check_declared(actual_format: str, content_type: str | None, filename: str | None) -> None:
    """Refuse a file whose real format differs from the one declared (by content type, else by extension).

    A PNG sent as `photo.jpg` is refused rather than silently relabelled: the phone's own record of the
    photo would then disagree with the archive's, and a mislabelled file is often a sign of a broken client.
    """
    claimed = declared_format(content_type, filename)
    if claimed is not None and claimed != actual_format:
        what = normalise_mime(content_type) or filename or "?"
        raise DeclaredTypeMismatch(
            f"the file is a {actual_format} image but was declared as {what}; send it with its true type",
            actual_format=actual_format, declared=what)


def check_allowed_declaration(content_type: str | None, filename: str | None, allowed: frozenset[str]) -> None:
    """Refuse up front (before any byte is sent) a declared type that is not allowed."""
    claimed = declared_format(content_type, filename)
    if claimed is not None and claimed not in allowed:
        raise UnsupportedImageType(f"{claimed} images are not accepted here", format=claimed)
