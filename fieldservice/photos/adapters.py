"""The media adapters the photo services use (storage backend, partial uploads, limits), built from config
by `create_app` and kept in `app.extensions["media"]`."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from media.storage import MAX_URL_EXPIRY, Storage, storage_from_config
from media.types import formats_for, normalise_mime
from media.uploads import PartialUploads

log = logging.getLogger(__name__)

PROCESSING_MODES = ("inline", "deferred")


@dataclass(frozen=True)
class MediaSettings:
    max_upload_bytes: int = 50 * 1024 * 1024
    max_form_bytes: int = 10 * 1024 * 1024
    allowed_types: tuple[str, ...] = ("image/jpeg", "image/png", "image/webp", "image/heic", "image/heif")
    max_pixels: int = 64_000_000
    session_quota_bytes: int = 1024 * 1024 * 1024
    url_ttl_seconds: int = 300
    upload_expiry: timedelta = timedelta(hours=24)
    process_inline: bool = True

    @property
    def allowed_formats(self) -> frozenset[str]:
        return formats_for(self.allowed_types)


@dataclass(frozen=True)
class Media:
    storage: Storage
    uploads: PartialUploads
    settings: MediaSettings


def settings_from_config(config: Mapping[str, Any]) -> MediaSettings:
    """Read and check the MEDIA_* settings. Raises ValueError for a value that cannot work."""
    raw_types = config.get("MEDIA_ALLOWED_TYPES") or ""
    types = tuple(normalise_mime(t) for t in (raw_types.split(",") if isinstance(raw_types, str) else raw_types))
    types = tuple(t for t in types if t)
    formats_for(types)  # raises for an unknown type
    mode = str(config.get("MEDIA_PROCESSING") or "inline").lower()
    if mode not in PROCESSING_MODES:
        raise ValueError(f"MEDIA_PROCESSING must be one of {', '.join(PROCESSING_MODES)}, not {mode!r}")
    settings = MediaSettings(
        max_upload_bytes=int(config["MEDIA_MAX_UPLOAD_BYTES"]),
        max_form_bytes=int(config["MEDIA_MAX_FORM_BYTES"]),
        allowed_types=types,
        max_pixels=int(config["MEDIA_MAX_PIXELS"]),
        session_quota_bytes=int(config["MEDIA_SESSION_QUOTA_BYTES"]),
        url_ttl_seconds=int(config["MEDIA_URL_TTL_SECONDS"]),
        upload_expiry=timedelta(hours=int(config["UPLOAD_EXPIRY_HOURS"])),
        process_inline=mode == "inline",
    )
    for name in ("max_upload_bytes", "max_form_bytes", "max_pixels", "session_quota_bytes"):
        if getattr(settings, name) < 1:
            raise ValueError(f"media setting {name} must be positive")
    if not 1 <= settings.url_ttl_seconds <= MAX_URL_EXPIRY:
        raise ValueError(f"MEDIA_URL_TTL_SECONDS must be between 1 and {MAX_URL_EXPIRY}")
    if settings.upload_expiry <= timedelta(0):
        raise ValueError("UPLOAD_EXPIRY_HOURS must be positive")
    return settings


def init_media(app: Flask) -> None:
    """Build the storage backend and the partial-upload folder (called by create_app, never at import)."""
    if not app.config.get("MEDIA_ROOT"):
        app.config["MEDIA_ROOT"] = str(Path(app.instance_path) / "media")
    root = Path(app.config["MEDIA_ROOT"])
    storage = storage_from_config({**app.config, "MEDIA_ROOT": str(root / "blobs")})
    app.extensions["media"] = Media(storage=storage, uploads=PartialUploads(root / "uploads"),
                                    settings=settings_from_config(app.config))
    log.info("media storage: %r", storage)


def current_media() -> Media:
    return current_app.extensions["media"]  # type: ignore[no-any-return]
