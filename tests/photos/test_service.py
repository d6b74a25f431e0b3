"""Photo services called directly, with a fixed clock: quota sessions, expiry, recovery, stalled processing."""
from __future__ import annotations

import io
import uuid
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from fieldservice.auth.models import User
from fieldservice.auth.service import Actor, actor_for
from fieldservice.db import unit_of_work
from fieldservice.errors import Forbidden, NotFound, UploadExpired, UploadQuotaExceeded
from fieldservice.extensions import db
from fieldservice.photos import service
from fieldservice.photos.models import Photo, PhotoKind, PhotoStatus
from tests.factories import NOW, Factory
from tests.photos.conftest import TusClient, jpeg_bytes, media_of


def actor(app: Flask, user_id: Any) -> Actor:
    with app.app_context():
        return actor_for(db.session.get(User, user_id))


def open_upload(app: Flask, who: Actor, job: SimpleNamespace, length: int, *, now: Any = NOW) -> Any:
    with app.app_context(), unit_of_work():
        return service.create_upload(who, {"visit_id": job.visit.id, "kind": PhotoKind.FAULT}, length=length,
                                     raw_metadata=None, media=media_of(app), now=now).id


def test_session_counts_open_uploads_and_stored_photos_of_one_login_and_work_order(
        app: Flask, job: SimpleNamespace, make: Factory, media_settings) -> None:  # type: ignore[no-untyped-def]
    tech = actor(app, job.technician.user_id)
    media_settings(session_quota_bytes=10_000)
    open_upload(app, tech, job, 4000)
    open_upload(app, tech, job, 3000, now=NOW - timedelta(days=2))  # expired: no longer holds space
    with app.app_context():
        assert service.session_bytes(tech.user_id, job.order.id, now=NOW) == 4000
    # another login on the same job has its own session
    dispatcher = actor(app, make.user("dispatcher").id)
    open_upload(app, dispatcher, job, 9000)
    with pytest.raises(UploadQuotaExceeded):
        open_upload(app, tech, job, 6001)
    open_upload(app, tech, job, 6000)


def test_expired_upload_is_410_and_only_expired_ones_are_removed(app: Flask, job: SimpleNamespace) -> None:
    tech = actor(app, job.technician.user_id)
    stale = open_upload(app, tech, job, 100, now=NOW - timedelta(hours=30))
    fresh = open_upload(app, tech, job, 100)
    media = media_of(app)
    with app.app_context():
        with pytest.raises(UploadExpired):
            service.get_upload(tech, stale, now=NOW)
        assert service.expired_upload_ids(now=NOW) == [stale]
        with unit_of_work():
            assert service.expire_upload(fresh, media=media, now=NOW) is False
            assert service.expire_upload(stale, media=media, now=NOW) is True
        assert media.uploads.size(stale) is None and media.uploads.size(fresh) == 0
        with pytest.raises(NotFound):
            service.get_upload(tech, stale, now=NOW)


def test_technician_login_without_profile_cannot_upload_or_read(app: Flask, make: Factory,
                                                                 job: SimpleNamespace) -> None:
    lone = actor(app, make.user("technician").id)
    with app.app_context():
        with pytest.raises(Forbidden):
            service.resolve_target(lone, visit_id=None, work_order_id=job.order.id, where="metadata")
        from fieldservice.common.pagination import PageRequest

        assert service.list_photos(lone, PageRequest()).items == []


def test_lost_partial_file_restarts_the_upload_at_zero(client: FlaskClient, tus: TusClient, job: SimpleNamespace,
                                                       app: Flask) -> None:
    data = jpeg_bytes()
    location = tus.create(len(data), visit_id=job.visit.id, kind="fault").headers["Location"]
    assert tus.patch(location, data[:2000], 0).status_code == 204
    upload_id = location.rsplit("/", 1)[1]
    media_of(app).uploads.path(uuid.UUID(upload_id)).unlink()  # the disk lost it

    assert tus.head(location).headers["Upload-Offset"] == "0"
    response = tus.patch(location, data[2000:], 2000)
    assert response.status_code == 409 and response.get_json()["upload_offset"] == 0
    assert tus.patch(location, data, 0).status_code == 204


def test_stalled_processing_is_picked_up(app: Flask, client: FlaskClient, job: SimpleNamespace,
                                         media_settings) -> None:  # type: ignore[no-untyped-def]
    media_settings(process_inline=False)
    form = {"visit_id": str(job.visit.id), "kind": "fault", "file": (io.BytesIO(jpeg_bytes()), "a.jpg", "image/jpeg")}
    photo_id = client.post("/api/v1/photos", data=form, headers=job.auth,
                           content_type="multipart/form-data").get_json()["id"]
    with app.app_context():
        photo = db.session.get(Photo, uuid.UUID(photo_id))
        created = photo.updated_at
        assert service.photo_ids_to_process(now=created + timedelta(minutes=1)) == []
        assert service.photo_ids_to_process(now=created + timedelta(minutes=11)) == [photo.id]
        with unit_of_work():
            assert service.process_photo(photo.id, media=media_of(app)).status is PhotoStatus.READY


def test_processing_reads_the_original_from_disk_only_once(app: Flask, tus: TusClient, job: SimpleNamespace,
                                                           media_root: Path) -> None:
    """A second photo with the same bytes links the first one's variants instead of decoding again."""
    data = jpeg_bytes(seed=99)
    first = tus.upload(data, visit_id=job.visit.id, kind="fault")
    variants = sorted((media_root / "blobs").rglob("*.jpg"))
    stamps = [p.stat().st_mtime_ns for p in variants]
    second = tus.upload(data, visit_id=job.visit.id, kind="other")
    assert first.headers["Photo-Status"] == second.headers["Photo-Status"] == "ready"
    assert [p.stat().st_mtime_ns for p in sorted((media_root / "blobs").rglob("*.jpg"))] == stamps
