"""`flask media ...`: sweep expired uploads, (re)process photos. Each item runs in its own unit of work, so
one bad item never undoes the others."""
from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

import click
from flask.cli import AppGroup

from fieldservice.db import unit_of_work, utcnow
from fieldservice.errors import NotFound
from fieldservice.photos import service
from fieldservice.photos.adapters import current_media
from fieldservice.photos.models import PhotoStatus
from media.errors import UploadLocked

log = logging.getLogger(__name__)

media_cli = AppGroup("media", help="Photo storage maintenance.")

PROGRESS_FROM = 20
"""Show a progress bar from this many items on; fewer finish before one would be useful."""


@contextlib.contextmanager
def _progress(items: list[Any], label: str) -> Iterator[Iterable[Any]]:
    if len(items) >= PROGRESS_FROM:
        with click.progressbar(items, label=label) as bar:
            yield bar
    else:
        yield items


@media_cli.command("cleanup-uploads")
@click.option("--stray-after-hours", default=1.0, show_default=True,
              help="Remove partial files with no upload row once untouched this long")
def cleanup_uploads_command(stray_after_hours: float) -> None:
    """Remove expired uploads (abandoned partial files, and finished uploads past their expiry)."""
    media, now = current_media(), utcnow()
    with unit_of_work():
        ids = service.expired_upload_ids(now=now)
    removed = busy = 0
    with _progress(ids, "expired uploads") as bar:
        for upload_id in bar:
            try:
                with media.uploads.lock(upload_id), unit_of_work():
                    removed += service.expire_upload(upload_id, media=media, now=now)
            except UploadLocked:
                busy += 1  # a client is writing right now: it is not abandoned
    with unit_of_work():
        strays = service.stray_upload_ids(media, older_than=timedelta(hours=stray_after_hours))
    for upload_id in strays:
        media.uploads.remove_stray(upload_id)
    click.echo(f"expired uploads removed: {removed}, busy (skipped): {busy}, stray files removed: {len(strays)}")


@media_cli.command("reprocess")
@click.option("--photo-id", "photo_ids", multiple=True, type=click.UUID,
              help="Process these photos (any status); default: failed and stalled ones")
@click.option("--pending-only", is_flag=True, help="Only photos still waiting (deferred processing), not failed ones")
def reprocess_command(photo_ids: tuple[uuid.UUID, ...], pending_only: bool) -> None:
    """Make thumbnails and served copies for photos whose processing failed or never ran."""
    media = current_media()
    if photo_ids:
        ids = list(photo_ids)
    else:
        with unit_of_work():
            ids = service.photo_ids_to_process(include_failed=not pending_only)
    outcomes: dict[str, int] = {}
    missing: list[str] = []
    with _progress(ids, "photos") as bar:
        for photo_id in bar:
            try:
                with unit_of_work():
                    status = service.process_photo(photo_id, media=media).status
            except NotFound:
                missing.append(str(photo_id))
                continue
            outcomes[status.value] = outcomes.get(status.value, 0) + 1
            if status is PhotoStatus.PROCESSING_FAILED:
                log.warning("photo %s still fails", photo_id)
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())) or "nothing to do"
    click.echo(f"photos processed: {len(ids) - len(missing)} ({summary})")
    if missing:
        raise click.ClickException(f"photo(s) not found: {', '.join(missing)}")
